#pragma once
// Vision Transformer (ViT), DeiT, DeiT III and register / GAP variants, as timm's
// vision_transformer.py and deit.py: the token trunk (patch embedding, prefix tokens, absolute
// position embedding or rotary or relative position bias, blocks, norm, pool, head) that DINOv2,
// CLIP, SigLIP, BEiT and EVA-02 configure (models/dinov2.hpp, clip.hpp, siglip.hpp, beit.hpp,
// eva.hpp: their presets, and beit.py's and eva.py's kwargs translated to VitConfig's keys). Members carry timm's
// module names, so the checkpoint keys (blocks.3.attn.qkv.weight, ...) are the names used below.
// After the model: its presets, transformers' ViT / DeiT configs and checkpoint layouts, and the
// family (vit_family(), which the registry adds).
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fovea/layers/attention_pool.hpp"
#include "fovea/layers/block.hpp"
#include "fovea/layers/patch_embed.hpp"
#include "fovea/models/common.hpp"
#include "fovea/models/registry.hpp"

namespace fovea {

struct VitConfig {
    std::int64_t img_h = 224, img_w = 224, patch_size = 16, in_chans = 3, num_classes = 1000;
    std::int64_t embed_dim = 768, depth = 12, num_heads = 12, reg_tokens = 0;
    double mlp_ratio = 4.0;
    bool qkv_bias = true, class_token = true, no_embed_class = false, pre_norm = false, final_norm = true;
    bool layer_scale = false;        // timm: init_values is not None
    int fc_norm = -1;                // timm's None (-1): on when global_pool is avg / avgmax / max; else 0 / 1
                                     // (not std::optional<bool>: libstdc++ copies its unset payload, which UBSan reports)
    Pool global_pool = Pool::Token;
    MlpKind mlp = MlpKind::Gelu;     // timm's mlp_layer (fovea names: mlp, swiglu_packed, swiglu)
    Activation act = Activation::Gelu;  // timm's act_layer (gelu, gelu_tanh, quick_gelu)
    bool distilled = false;          // DeiT: dist_token + head_dist, logits averaged
    bool dist_head = true;           // false: dist_token but one head on the class token (transformers' DeiTForImageClassification)
    float eps = 1e-6f;               // LayerNorm's; fovea's key norm_eps for timm's norm_layer=partial(LayerNorm, eps=...)
    // BEiT's and EVA-02's differences (models/beit.hpp and eva.hpp translate their kwargs to these keys)
    bool abs_pos = true;             // a learned pos_embed (BEiT's presets have none)
    bool rel_pos_bias = false;       // BEiT: each block's relative position bias over [cls] + the configured grid
    bool qv_bias = false;            // q_bias and v_bias, k without (qkv_bias then is false)
    bool qkv_fused = true;           // false: attn.q_proj / k_proj / v_proj
    bool attn_norm = false;          // attn.norm before attn.proj (EVA-CLIP's scale_attn_inner)
    std::int64_t mlp_hidden = 0;     // the MLP's hidden_features where it is not int(embed_dim * mlp_ratio)
    bool mlp_norm = false;           // a LayerNorm inside the MLP (mlp.norm)
    bool rope = false;               // 2-D rotary embedding of q and k (layers/rope.hpp)
    std::int64_t rope_ref_h = 0, rope_ref_w = 0;
    double rope_temperature = 10000.0;
    bool gamma_keys = false;         // LayerScale stored as gamma_1 / gamma_2 (EVA, BEiT) instead of ls1.gamma / ls2.gamma

    std::int64_t num_prefix_tokens() const { return (class_token ? 1 : 0) + reg_tokens + (distilled ? 1 : 0); }
    bool use_fc_norm() const {
        return fc_norm >= 0 ? fc_norm == 1 : global_pool == Pool::Avg || global_pool == Pool::Max || global_pool == Pool::AvgMax;
    }
    std::int64_t hidden() const {
        return mlp_hidden > 0 ? mlp_hidden : static_cast<std::int64_t>(static_cast<double>(embed_dim) * mlp_ratio);
    }

    void apply(const nlohmann::json& args, const std::string& where) {
        detail::ArgReader r(args, where);
        detail::read_vit_args(r, *this, where);
        r.read("class_token", class_token);
        r.read("no_embed_class", no_embed_class);
        r.read("reg_tokens", reg_tokens, 0, 4096);
        r.read("pre_norm", pre_norm);
        r.read("final_norm", final_norm);
        r.read("distilled", distilled);
        r.read("abs_pos", abs_pos);
        r.read("rel_pos_bias", rel_pos_bias);
        r.read("qv_bias", qv_bias);
        r.read("qkv_fused", qkv_fused);
        r.read("attn_norm", attn_norm);
        r.read("mlp_hidden", mlp_hidden, 1, 1 << 20);
        r.read("mlp_norm", mlp_norm);
        r.read("rope", rope);
        r.read_pair("rope_ref", rope_ref_h, rope_ref_w, 65536);
        r.read("rope_temperature", rope_temperature);
        r.read("gamma_keys", gamma_keys);
        if (r.has("global_pool")) {
            std::string p;
            r.read("global_pool", p);
            global_pool = parse_pool(p, where);
        }
        if (r.has("mlp_layer")) {
            std::string m;
            r.read("mlp_layer", m);
            mlp = parse_mlp_kind(m, where);
        }
        if (args.contains("fc_norm")) {
            if (args["fc_norm"].is_null()) fc_norm = -1;
            else { bool v = false; r.read("fc_norm", v); fc_norm = v; }
        }
        if (r.has("act_layer")) {
            std::string a;
            r.read("act_layer", a);
            act = parse_activation(a, where);
        }
        if (r.has("norm_eps")) {
            double e = 0;
            r.read("norm_eps", e);
            if (!(e > 0 && e < 1)) detail::fail(where, ": model_args 'norm_eps' must be in (0, 1)");
            eps = static_cast<float>(e);
        }
        if (args.contains("init_values")) {
            auto& v = args["init_values"];
            if (!v.is_null() && !v.is_number()) detail::fail(where, ": model_args 'init_values' must be a number or null");
            layer_scale = !v.is_null();
        }
        r.ignore({"fc_norm", "init_values", "dynamic_img_size", "drop_rate", "pos_drop_rate", "patch_drop_rate",
                  "proj_drop_rate", "attn_drop_rate", "drop_path_rate", "weight_init", "fix_init"});
        r.finish();
    }

    void validate(const std::string& where) const {
        if (!(mlp_ratio > 0 && mlp_ratio <= 64)) detail::fail(where, ": ViT mlp_ratio ", mlp_ratio, " is out of range (0, 64]");
        if (hidden() < 1) detail::fail(where, ": ViT mlp_ratio ", mlp_ratio, " gives an MLP of width 0 for embed_dim ", embed_dim);
        if (num_heads > embed_dim) detail::fail(where, ": ViT num_heads ", num_heads, " exceeds embed_dim ", embed_dim);
        if (img_h % patch_size || img_w % patch_size)
            detail::fail(where, ": img_size ", img_h, "x", img_w, " is not a multiple of patch_size ", patch_size);
        if ((img_h / patch_size) * (img_w / patch_size) > 65536)
            detail::fail(where, ": img_size ", img_h, "x", img_w, " makes more than 65536 patches");
        if (embed_dim % num_heads) detail::fail(where, ": embed_dim ", embed_dim, " not divisible by num_heads ", num_heads);
        if (global_pool == Pool::Token && !class_token) detail::fail(where, ": global_pool 'token' needs class_token");
        if (global_pool == Pool::Map && distilled) detail::fail(where, ": global_pool 'map' with a distillation token is not supported");
        if (act != Activation::Gelu && mlp != MlpKind::Gelu) detail::fail(where, ": act_layer applies to the plain MLP only");
        if (qv_bias && qkv_bias) detail::fail(where, ": qkv_bias and qv_bias exclude each other");
        if (rel_pos_bias && (!class_token || num_prefix_tokens() != 1))
            detail::fail(where, ": a relative position bias table is over one class token and the grid");
        if (rel_pos_bias && (img_h / patch_size) * (img_w / patch_size) > 16384)
            detail::fail(where, ": img_size ", img_h, "x", img_w, " makes more than 16384 patches for a relative position table");
        if (!qkv_fused && qkv_bias) detail::fail(where, ": separate q, k, v projections take qv_bias, not qkv_bias");
        if (rope && ((embed_dim / num_heads) % 4 != 0))
            detail::fail(where, ": a rotary embedding needs a head width divisible by 4, got ", embed_dim / num_heads);
        if (rope && !(rope_temperature > 1 && rope_temperature < 1e9))
            detail::fail(where, ": rope_temperature ", rope_temperature, " is out of range (1, 1e9)");
    }
};

class VisionTransformer final : public Network {
public:
    static std::shared_ptr<VisionTransformer> load(const VitConfig& cfg, std::shared_ptr<const SafeTensorsFile> file,
                                                   const std::string& family = "vit", WeightBinder::Options bind = {}) {
        cfg.validate(file->path());
        auto m = std::make_shared<VisionTransformer>();
        m->cfg_ = cfg;
        WeightBinder w(file, bind);
        const std::int64_t C = cfg.embed_dim, gh = cfg.img_h / cfg.patch_size, gw = cfg.img_w / cfg.patch_size;
        m->patch_embed = PatchEmbed::load(w, "patch_embed", cfg.in_chans, C, cfg.patch_size, !cfg.pre_norm);
        if (cfg.class_token) m->cls_token = w.get<3>("cls_token", {1, 1, C});
        if (cfg.reg_tokens) m->reg_token = w.get<3>("reg_token", {1, cfg.reg_tokens, C});
        if (cfg.distilled) m->dist_token = w.get<3>("dist_token", {1, 1, C});
        const std::int64_t embed_len = gh * gw + (cfg.no_embed_class ? 0 : cfg.num_prefix_tokens());
        if (cfg.abs_pos) m->pos_embed = w.get<3>("pos_embed", {1, embed_len, C});
        if (cfg.pre_norm) m->norm_pre = LayerNorm::load(w, "norm_pre", C, cfg.eps);
        if (cfg.rope) m->rope = RotaryEmbedding{C / cfg.num_heads, static_cast<float>(cfg.rope_temperature), cfg.rope_ref_h, cfg.rope_ref_w};
        BlockOptions b;
        b.dim = C;
        b.num_heads = cfg.num_heads;
        b.hidden = cfg.hidden();
        b.eps = cfg.eps;
        b.attn.bias = cfg.qkv_bias ? Attention::QkvBias::All : cfg.qv_bias ? Attention::QkvBias::QV : Attention::QkvBias::None;
        b.attn.fused_qkv = cfg.qkv_fused;
        b.attn.inner_norm_eps = cfg.attn_norm ? cfg.eps : 0.0f;
        if (cfg.rel_pos_bias) b.attn.rel_grid_h = gh, b.attn.rel_grid_w = gw;
        b.mlp_norm_eps = cfg.mlp_norm ? cfg.eps : 0.0f;
        if (cfg.gamma_keys) b.ls1 = "gamma_1", b.ls2 = "gamma_2";
        b.mlp = cfg.mlp;
        b.act = cfg.act;
        b.layer_scale = cfg.layer_scale;
        for (std::int64_t i = 0; i < cfg.depth; ++i) m->blocks.push_back(Block::load(w, "blocks." + std::to_string(i), b));
        if (cfg.final_norm && !cfg.use_fc_norm()) m->norm = LayerNorm::load(w, "norm", C, cfg.eps);
        if (cfg.final_norm && cfg.use_fc_norm()) m->fc_norm = LayerNorm::load(w, "fc_norm", C, cfg.eps);
        if (cfg.global_pool == Pool::Map) m->attn_pool = AttentionPoolLatent::load(w, "attn_pool", C, cfg.num_heads, cfg.hidden(), cfg.eps, cfg.act);
        if (cfg.num_classes > 0) {
            m->head = Linear::load(w, "head", C, cfg.num_classes);
            if (cfg.distilled && cfg.dist_head) m->head_dist = Linear::load(w, "head_dist", C, cfg.num_classes);
        } else {
            for (const char* k : {"head.weight", "head.bias", "head_dist.weight", "head_dist.bias"}) w.ignore(k);
        }
        w.finish();
        m->params_ = w.kept();
        m->info_ = {family, cfg.num_classes, C, cfg.in_chans, cfg.img_h, cfg.img_w, cfg.patch_size, cfg.num_prefix_tokens(),
                    cfg.depth, cfg.class_token};
        return m;
    }

    const VitConfig& config() const { return cfg_; }
    const ModelInfo& info() const override { return info_; }
    Tensor<float, 4> patch_embed_filters() const override { return patch_embed.filters(); }
    TensorView<const float, 3> absolute_pos_embed() const override { return pos_embed; }

    Features forward_features(const Context& ctx, TensorView<const float, 4> x, const Trace& trace) const override {
        return run(ctx, x, trace);
    }
    void intermediate_norm(const Context& ctx, std::size_t, TensorView<float, 2> rows) const override {
        if (norm) norm->forward(ctx, rows, rows);  // not fc_norm: timm's norm is Identity then
    }

    // features (B, T, C) -> (B, num_classes), or pooled (B, C) with pre_logits or without a head;
    // global_pool '' gives a row per token (B*T, ...).
    Tensor<float, 2> forward_head(const Context& ctx, const Features& f, bool pre_logits) const override {
        const auto x = f.tokens.view();
        const std::int64_t B = x.shape(0), T = x.shape(1), C = cfg_.embed_dim, P = cfg_.num_prefix_tokens();
        const Pool pool = cfg_.global_pool;
        if (x.shape(2) != C || T < P + (pool == Pool::Token ? 0 : 1))
            detail::fail("forward_head: expected [N,T,", C, "] with T > ", P, ", got ", detail::dims_str(x.shape()));
        const std::int64_t R = pool == Pool::None ? B * T : B;  // rows after pooling
        Tensor<float, 2> pooled;
        if (attn_pool) {  // over the patch tokens (timm: pool_include_prefix is false for 'map')
            pooled = Tensor<float, 2>({B, C});
            Tensor<float, 3> patches;
            if (P > 0) {
                patches = Tensor<float, 3>({B, T - P, C});
                for (std::int64_t b = 0; b < B; ++b) std::copy(&x(b, P, 0), &x(b, P, 0) + (T - P) * C, &patches(b, 0, 0));
            }
            attn_pool->forward(ctx, P > 0 ? std::as_const(patches).view() : x, pooled);
        } else {
            pooled = detail::pool_tokens(x, cfg_.distilled ? Pool::Token : pool, P);
        }
        const bool two_heads = cfg_.distilled && cfg_.dist_head;
        Tensor<float, 2> dist_pooled;
        if (two_heads) {  // eval mode: the class and distillation heads are averaged
            dist_pooled = Tensor<float, 2>({B, C});
            for (std::int64_t b = 0; b < B; ++b) std::copy(&x(b, 1, 0), &x(b, 1, 0) + C, &dist_pooled(b, 0));
        }
        if (fc_norm) fc_norm->forward(ctx, pooled, pooled);
        if (pre_logits || !head) {
            if (two_heads)
                for (std::int64_t i = 0; i < B * C; ++i) pooled.data()[i] = (pooled.data()[i] + dist_pooled.data()[i]) / 2;
            return pooled;
        }
        Tensor<float, 2> logits({R, cfg_.num_classes});
        head->forward(ctx, pooled, logits);
        if (two_heads) {
            Tensor<float, 2> ld({B, cfg_.num_classes});
            head_dist->forward(ctx, dist_pooled, ld);
            for (std::int64_t i = 0; i < logits.size(); ++i) logits.data()[i] = (logits.data()[i] + ld.data()[i]) / 2;
        }
        return logits;
    }

    PatchEmbed patch_embed;
    TensorView<const float, 3> cls_token, reg_token, dist_token, pos_embed;
    std::optional<LayerNorm> norm_pre, norm, fc_norm;
    std::vector<Block> blocks;
    std::optional<AttentionPoolLatent> attn_pool;
    std::optional<Linear> head, head_dist;
    std::optional<RotaryEmbedding> rope;  // EVA-02: computed, not stored

private:
    Features run(const Context& ctx, TensorView<const float, 4> x, const Trace& trace) const {
        if (cfg_.rel_pos_bias && (x.shape(2) != cfg_.img_h || x.shape(3) != cfg_.img_w))
            detail::fail("input: expected [N,", cfg_.in_chans, ",", cfg_.img_h, ",", cfg_.img_w, "] (the relative position tables ",
                         "are for this size), got ", detail::dims_str(x.shape()));
        detail::check_input(x, cfg_.in_chans, cfg_.patch_size, cfg_.img_h, cfg_.img_w);
        const std::int64_t B = x.shape(0), C = cfg_.embed_dim, P = cfg_.num_prefix_tokens();
        const std::int64_t gh = x.shape(2) / cfg_.patch_size, gw = x.shape(3) / cfg_.patch_size, L = gh * gw, T = P + L;
        const auto scope = ctx.arena->scope();
        float* patches = ctx.arena->alloc<float>(B * L * C);
        patch_embed.forward(ctx, x, {patches, {B, L, C}});
        trace("patch_embed", {patches, {B, L, C}}, 0, gh, gw);

        // prefix tokens in timm's order: cls, then dist (or reg), then patches
        std::vector<const float*> prefix;
        if (!cls_token.empty()) prefix.push_back(cls_token.data());
        if (!dist_token.empty()) prefix.push_back(dist_token.data());
        for (std::int64_t r = 0; r < cfg_.reg_tokens; ++r) prefix.push_back(reg_token.data() + r * C);

        const std::vector<float> pos = pos_embed_for(gh, gw);
        Features f{Tensor<float, 3>({B, T, C}), P, gh, gw};
        float* out = f.tokens.data();
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t t = 0; t < T; ++t) {
                float* o = out + (b * T + t) * C;
                const float* src = t < P ? prefix[static_cast<std::size_t>(t)] : patches + (b * L + t - P) * C;
                const std::int64_t pt = cfg_.no_embed_class ? t - P : t;  // no_embed_class: prefix gets no pos
                for (std::int64_t c = 0; c < C; ++c) o[c] = src[c] + (pt >= 0 && !pos.empty() ? pos[static_cast<std::size_t>(pt * C + c)] : 0.0f);
            }
        const TensorView<float, 3> tokens = f.tokens.view();
        const auto rows = tokens.reshape<2>({B * T, C});
        if (norm_pre) norm_pre->forward(ctx, rows, rows);
        trace("pos_embed", tokens, P, gh, gw);
        std::optional<RotaryEmbedding::Table> rot;
        if (rope) rot = rope->table(gh, gw, P);

        for (std::size_t i = 0; i < blocks.size(); ++i) {
            const std::string name = "blocks." + std::to_string(i);
            if (trace.takes_attention(name)) {
                AttentionMap map{name, Tensor<float, 5>({B, cfg_.num_heads, 1, T, T}), 0, 0, 0, 0, gh, gw, {}};
                blocks[i].forward(ctx, tokens, map.probs.data(), rot ? &*rot : nullptr);
                trace.attention(std::move(map));
            } else {
                blocks[i].forward(ctx, tokens, nullptr, rot ? &*rot : nullptr);
            }
            trace(name, tokens, P, gh, gw);
        }
        if (norm) norm->forward(ctx, rows, rows);
        trace("features", tokens, P, gh, gw);
        return f;
    }

    // pos_embed for a (gh, gw) grid: the stored one, or resampled as timm's dynamic_img_size does.
    std::vector<float> pos_embed_for(std::int64_t gh, std::int64_t gw) const {
        const std::int64_t C = cfg_.embed_dim, P = cfg_.no_embed_class ? 0 : cfg_.num_prefix_tokens();
        const std::int64_t h0 = cfg_.img_h / cfg_.patch_size, w0 = cfg_.img_w / cfg_.patch_size;
        if (pos_embed.empty()) return {};
        const float* p = pos_embed.data();
        if (gh * gw == h0 * w0 && gh == gw) return {p, p + (P + gh * gw) * C};  // timm's shortcut
        std::vector<float> out(p, p + P * C);
        const auto grid = detail::resize_grid_bicubic_aa(p + P * C, h0, w0, C, gh, gw);
        out.insert(out.end(), grid.begin(), grid.end());
        return out;
    }

    VitConfig cfg_;
    ModelInfo info_;
    std::shared_ptr<const void> params_;  // the tensors read as stored (biases, norms, embeddings), copied out of the file
};

namespace detail {

inline Built build_vit(const BuildArgs& a, const std::string& family) {
    const std::string& where = a.file->path();
    VitConfig cfg;
    cfg.apply(a.preset.args, a.preset.name);
    cfg.apply(a.spec.model_args, where);
    cfg.num_classes = classes_for(a, cfg.num_classes, "head.weight");
    if (a.spec.hf.layer_norm_eps) cfg.eps = *a.spec.hf.layer_norm_eps;
    // a distilled model without head_dist uses its class token alone (transformers' DeiTForImageClassification)
    if (cfg.distilled) cfg.dist_head = a.file->find("head_dist.weight") != nullptr;
    Built b;
    b.data = a.preset.data;
    b.data.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
    b.network = VisionTransformer::load(cfg, a.file, family, a.bind);
    return b;
}

// A family whose kwargs are not vision_transformer.py's (BEiT, EVA-02): the preset's and
// config.json's model_args together, through the family's translation to VitConfig's keys.
inline Built build_vit_translated(const BuildArgs& a, const std::string& family,
                                  nlohmann::json (*translate)(const nlohmann::json& args, const std::string& where)) {
    nlohmann::json args = a.preset.args;
    args.update(a.spec.model_args);
    VitConfig cfg;
    cfg.apply(translate(args, a.file->path()), a.preset.name);
    cfg.num_classes = classes_for(a, cfg.num_classes, "head.weight");
    Built b;
    b.data = a.preset.data;
    b.data.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
    b.network = VisionTransformer::load(cfg, a.file, family, a.bind);
    return b;
}

// A checkpoint named as timm's ViT names its parameters (DINOv2's too; BEiT adds relative position tables).
inline bool is_vit_checkpoint(const SafeTensorsFile& f) {
    return f.find("pos_embed") && f.find("blocks.0.attn.qkv.weight") && !f.find("blocks.0.attn.relative_position_bias_table") &&
           !f.find("blocks.0.attn.q_bias");  // EVA's
}

// transformers' ViTForImageClassification / DeiTForImageClassification(WithTeacher) configs.
inline bool vit_from_transformers(const nlohmann::json& j, const std::string& where, ModelSpec& s) {
    const std::string type = j["model_type"].is_string() ? j["model_type"].get<std::string>() : "";
    if (type != "vit" && type != "deit") return false;
    auto get = [&](const char* key, auto fallback) { return hf_value(j, key, fallback, where); };
    hf_require_gelu(j, where);
    const auto hidden = get("hidden_size", std::int64_t{768});
    if (hidden <= 0 || hidden > 65536) fail(where, ": hidden_size ", hidden, " is out of range");
    auto& a = s.model_args;
    a["img_size"] = get("image_size", std::int64_t{224});
    a["patch_size"] = get("patch_size", std::int64_t{16});
    a["in_chans"] = get("num_channels", std::int64_t{3});
    a["qkv_bias"] = get("qkv_bias", true);
    a["embed_dim"] = hidden;
    a["depth"] = get("num_hidden_layers", std::int64_t{12});
    a["num_heads"] = get("num_attention_heads", std::int64_t{12});
    a["mlp_ratio"] = static_cast<double>(get("intermediate_size", 4 * hidden)) / static_cast<double>(hidden);
    s.hf.layer_norm_eps = get("layer_norm_eps", 1e-12f);
    if (!(*s.hf.layer_norm_eps > 0)) fail(where, ": layer_norm_eps must be positive");
    // DeiT embeddings always carry the distillation token; head_dist or not is read off the weights
    s.architecture = type == "vit" ? "vit_base_patch16_224" : "deit_base_distilled_patch16_224";
    if (j.contains("id2label")) s.label_names = read_label_names(j["id2label"], where, "id2label");
    return true;
}

// transformers' names (4 as on the hub, and 5's), fused q / k / v.
inline std::vector<CheckpointLayout> vit_layouts() {
    const std::vector<RenameRule> rules = {
        rename(R"(^(vit|deit)\.embeddings\.cls_token$)", "cls_token"),
        rename(R"(^deit\.embeddings\.distillation_token$)", "dist_token"),
        rename(R"(^(vit|deit)\.embeddings\.position_embeddings$)", "pos_embed"),
        rename(R"(^(vit|deit)\.embeddings\.patch_embeddings\.projection\.(weight|bias)$)", "patch_embed.proj.$2"),
        rename(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.layernorm_before\.(weight|bias)$)", "blocks.$2.norm1.$3"),
        rename(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.layernorm_after\.(weight|bias)$)", "blocks.$2.norm2.$3"),
        rename(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$)", "blocks.$2.attn.proj.$3"),
        rename(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)$)", "blocks.$2.mlp.fc1.$3"),
        rename(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)$)", "blocks.$2.mlp.fc2.$3"),
        rename(R"(^(vit|deit)\.layers\.(\d+)\.layernorm_before\.(weight|bias)$)", "blocks.$2.norm1.$3"),
        rename(R"(^(vit|deit)\.layers\.(\d+)\.layernorm_after\.(weight|bias)$)", "blocks.$2.norm2.$3"),
        rename(R"(^(vit|deit)\.layers\.(\d+)\.attention\.o_proj\.(weight|bias)$)", "blocks.$2.attn.proj.$3"),
        rename(R"(^(vit|deit)\.layers\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$)", "blocks.$2.mlp.$3.$4"),
        rename(R"(^(vit|deit)\.layernorm\.(weight|bias)$)", "norm.$2"),
        rename(R"(^(classifier|cls_classifier)\.(weight|bias)$)", "head.$2"),
        rename(R"(^distillation_classifier\.(weight|bias)$)", "head_dist.$1"),
        rename(R"(^vit\.pooler\..*)", ""),  // ViTModel's pooler: not part of classification
    };
    const QkvFusion qkv{
        std::regex(R"(^(.*?)\.(?:attention\.attention|attention)\.(query|key|value|q_proj|k_proj|v_proj)\.(weight|bias)$)"),
        {rename(R"(^(vit|deit)\.(?:encoder\.layer|layers)\.(\d+)$)", "blocks.$2")}};
    auto has = [](const char* name) { return [name](const SafeTensorsFile& f) { return f.find(name) != nullptr; }; };
    return {{"hf-vit", has("vit.embeddings.patch_embeddings.projection.weight"), rules, qkv, nullptr},
            {"hf-deit", has("deit.embeddings.patch_embeddings.projection.weight"), rules, qkv, nullptr}};
}

// transformers' CLIP-style image encoders (CLIP, SigLIP): vision_model.encoder.layers.N with
// self_attn.{q,k,v}_proj (fused), out_proj, layer_norm1/2, mlp.fc1/fc2; post_layernorm; the text
// tower and the logit scale / bias dropped.
inline std::vector<RenameRule> hf_clip_style_rules() {
    return {rename(R"(^vision_model\.encoder\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)$)", "blocks.$1.attn.proj.$2"),
            rename(R"(^vision_model\.encoder\.layers\.(\d+)\.layer_norm(1|2)\.(weight|bias)$)", "blocks.$1.norm$2.$3"),
            rename(R"(^vision_model\.encoder\.layers\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$)", "blocks.$1.mlp.$2.$3"),
            rename(R"(^vision_model\.post_layernorm\.(weight|bias)$)", "norm.$1"),
            rename(R"(^vision_model\.embeddings\.(position_embedding\.weight|position_ids)$)", ""),  // derived
            rename(R"(^(text_model\..*|text_projection\.weight|logit_scale|logit_bias)$)", "")};
}
inline QkvFusion hf_clip_style_qkv() {
    return {std::regex(R"(^(vision_model\.encoder\.layers\.\d+)\.self_attn\.(q|k|v)_proj\.(weight|bias)$)"),
            {rename(R"(^vision_model\.encoder\.layers\.(\d+)$)", "blocks.$1")}};
}
// transformers' CLIP-style config: the whole model's (`model`, the image tower under vision_config)
// or the tower's own (`tower`) -> `preset` with the trunk's model_args and layer_norm_eps. Returns
// the tower's config (for the family's own fields), or nullopt when the config is another model's.
inline std::optional<nlohmann::json> hf_clip_style_spec(const nlohmann::json& j, const std::string& where, ModelSpec& s,
                                                        const char* model, const char* tower, const char* preset,
                                                        std::int64_t default_patch, float default_eps) {
    if (!j["model_type"].is_string()) return std::nullopt;
    const std::string type = j["model_type"].get<std::string>();
    if (type != model && type != tower) return std::nullopt;
    const nlohmann::json v = type == model ? j.value("vision_config", nlohmann::json::object()) : j;
    if (!v.is_object()) fail(where, ": vision_config must be a JSON object");
    auto get = [&](const char* key, auto fallback) { return hf_value(v, key, fallback, where); };
    const auto hidden = get("hidden_size", std::int64_t{768});
    if (hidden <= 0 || hidden > 65536) fail(where, ": hidden_size ", hidden, " is out of range");
    s.architecture = preset;
    auto& a = s.model_args;
    a["img_size"] = get("image_size", std::int64_t{224});
    a["patch_size"] = get("patch_size", default_patch);
    a["in_chans"] = get("num_channels", std::int64_t{3});
    a["embed_dim"] = hidden;
    a["depth"] = get("num_hidden_layers", std::int64_t{12});
    a["num_heads"] = get("num_attention_heads", std::int64_t{12});
    a["mlp_ratio"] = static_cast<double>(get("intermediate_size", 4 * hidden)) / static_cast<double>(hidden);
    s.hf.layer_norm_eps = get("layer_norm_eps", default_eps);
    if (!(*s.hf.layer_norm_eps > 0)) fail(where, ": layer_norm_eps must be positive");
    return v;
}

inline Preset vit_preset(const std::string& name, nlohmann::json args, std::int64_t img, double crop_pct, bool inception) {
    args["img_size"] = img;
    return {name, std::move(args), data_cfg(img, crop_pct, inception)};
}

// timm's register_model entries, one line each: name, the kwargs it passes, its default data config.
inline std::vector<Preset> vit_presets() {
    using J = nlohmann::json;
    const J ti = {{"patch_size", 16}, {"embed_dim", 192}, {"depth", 12}, {"num_heads", 3}};
    const J s = {{"patch_size", 16}, {"embed_dim", 384}, {"depth", 12}, {"num_heads", 6}};
    const J b = {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}};
    const J l = {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}};
    const J b32 = {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}};
    auto with = [](J a, const J& extra) { a.update(extra); return a; };
    const J distilled = {{"distilled", true}}, deit3 = {{"no_embed_class", true}, {"init_values", 1e-6}};
    const J gap = {{"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}};
    const J reg = {{"class_token", false}, {"no_embed_class", true}, {"reg_tokens", 4}, {"global_pool", "avg"}};
    const J medium = {{"patch_size", 16}, {"embed_dim", 512}, {"depth", 12}, {"num_heads", 8}};
    return {
        vit_preset("vit_tiny_patch16_224", ti, 224, 0.9, true),
        vit_preset("vit_tiny_patch16_384", ti, 384, 1.0, true),
        vit_preset("vit_small_patch16_224", s, 224, 0.9, true),
        vit_preset("vit_small_patch16_384", s, 384, 1.0, true),
        vit_preset("vit_base_patch16_224", b, 224, 0.9, true),
        vit_preset("vit_base_patch16_384", b, 384, 1.0, true),
        vit_preset("vit_large_patch16_224", l, 224, 0.9, true),
        vit_preset("vit_large_patch16_384", l, 384, 1.0, true),
        vit_preset("vit_base_patch32_224", b32, 224, 0.9, true),
        vit_preset("vit_base_patch32_384", b32, 384, 1.0, true),
        vit_preset("deit_tiny_patch16_224", ti, 224, 0.9, false),
        vit_preset("deit_tiny_distilled_patch16_224", with(ti, distilled), 224, 0.9, false),
        vit_preset("deit_small_patch16_224", s, 224, 0.9, false),
        vit_preset("deit_small_distilled_patch16_224", with(s, distilled), 224, 0.9, false),
        vit_preset("deit_base_patch16_224", b, 224, 0.9, false),
        vit_preset("deit_base_distilled_patch16_224", with(b, distilled), 224, 0.9, false),
        vit_preset("deit3_small_patch16_224", with(s, deit3), 224, 0.9, false),
        vit_preset("deit3_base_patch16_224", with(b, deit3), 224, 0.9, false),
        vit_preset("vit_medium_patch16_gap_256", with(medium, with(gap, {{"qkv_bias", false}, {"init_values", 1e-6}})), 256, 0.95, true),
        vit_preset("vit_base_patch16_gap_224", with(b, with(gap, {{"num_heads", 16}})), 224, 0.9, true),
        vit_preset("vit_medium_patch16_reg4_gap_256", with(medium, with(reg, {{"init_values", 1e-6}})), 256, 0.95, true),
        vit_preset("vit_base_patch16_reg4_gap_256", with(b, reg), 256, 0.9, true),
    };
}

inline Family vit_family() {
    return {"vit", vit_presets(), vit_layouts(), is_vit_checkpoint, vit_from_transformers,
            [](const BuildArgs& a) { return build_vit(a, "vit"); }};
}

}  // namespace detail

}  // namespace fovea

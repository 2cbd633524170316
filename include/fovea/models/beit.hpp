#pragma once
// BEiT and BEiT v2 as timm's beit.py: a ViT whose blocks each learn a relative position bias (over
// the class token and the patch grid, so inputs have the configured size), with q and v biases but
// no k bias, LayerScale stored as gamma_1 / gamma_2, no absolute position embedding in the
// presets, and mean pooling through fc_norm. Members carry timm's names (blocks.3.attn.q_bias).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fovea/layers/block.hpp"
#include "fovea/layers/patch_embed.hpp"
#include "fovea/models/common.hpp"
#include "fovea/models/registry.hpp"

namespace fovea {

struct BeitConfig {
    std::int64_t img_h = 224, img_w = 224, patch_size = 16, in_chans = 3, num_classes = 1000;
    std::int64_t embed_dim = 768, depth = 12, num_heads = 12;
    double mlp_ratio = 4.0;
    bool qkv_bias = true, use_abs_pos_emb = true, use_rel_pos_bias = false, swiglu_mlp = false;
    bool layer_scale = false;  // init_values is not None
    Pool global_pool = Pool::Avg;
    float eps = 1e-6f;  // timm.layers.LayerNorm

    void apply(const nlohmann::json& args, const std::string& where) {
        detail::ArgReader r(args, where);
        detail::read_vit_args(r, *this, where);
        r.read("use_abs_pos_emb", use_abs_pos_emb);
        r.read("use_rel_pos_bias", use_rel_pos_bias);
        r.read("swiglu_mlp", swiglu_mlp);
        bool shared = false, scale_mlp = false;
        r.read("use_shared_rel_pos_bias", shared);
        r.read("scale_mlp", scale_mlp);
        if (shared) detail::fail(where, ": model_args 'use_shared_rel_pos_bias' is not supported by fovea");
        if (scale_mlp) detail::fail(where, ": model_args 'scale_mlp' is not supported by fovea");
        if (r.has("global_pool")) {
            std::string p;
            r.read("global_pool", p);
            global_pool = p == "avg" ? Pool::Avg : p.empty() ? Pool::None : Pool::Token;  // timm: anything else takes x[:, 0]
        }
        if (args.contains("init_values")) {
            auto& v = args["init_values"];
            if (!v.is_null() && !v.is_number()) detail::fail(where, ": model_args 'init_values' must be a number or null");
            layer_scale = !v.is_null();
        }
        r.ignore({"init_values", "drop_rate", "pos_drop_rate", "proj_drop_rate", "attn_drop_rate", "drop_path_rate",
                  "head_init_scale"});
        r.finish();
    }

    void validate(const std::string& where) const {
        if (!(mlp_ratio > 0 && mlp_ratio <= 64)) detail::fail(where, ": BEiT mlp_ratio ", mlp_ratio, " is out of range (0, 64]");
        if (static_cast<std::int64_t>(static_cast<double>(embed_dim) * mlp_ratio) < 1)
            detail::fail(where, ": BEiT mlp_ratio ", mlp_ratio, " gives an MLP of width 0 for embed_dim ", embed_dim);
        if (img_h % patch_size || img_w % patch_size)
            detail::fail(where, ": img_size ", img_h, "x", img_w, " is not a multiple of patch_size ", patch_size);
        if ((img_h / patch_size) * (img_w / patch_size) > 16384)
            detail::fail(where, ": img_size ", img_h, "x", img_w, " makes more than 16384 patches");
        if (num_heads > embed_dim || embed_dim % num_heads)
            detail::fail(where, ": embed_dim ", embed_dim, " not divisible by num_heads ", num_heads);
    }
};

class Beit final : public detail::Network {
public:
    static std::shared_ptr<Beit> load(const BeitConfig& cfg, std::shared_ptr<const SafeTensorsFile> file,
                                      WeightBinder::Options bind = {}) {
        cfg.validate(file->path());
        auto m = std::make_shared<Beit>();
        m->cfg_ = cfg;
        WeightBinder w(file, bind);
        const std::int64_t C = cfg.embed_dim, gh = cfg.img_h / cfg.patch_size, gw = cfg.img_w / cfg.patch_size;
        m->patch_embed = PatchEmbed::load(w, "patch_embed", cfg.in_chans, C, cfg.patch_size, true);
        m->cls_token = w.get<3>("cls_token", {1, 1, C});
        if (cfg.use_abs_pos_emb) m->pos_embed = w.get<3>("pos_embed", {1, gh * gw + 1, C});
        BlockOptions b;
        b.dim = C;
        b.num_heads = cfg.num_heads;
        b.hidden = static_cast<std::int64_t>(static_cast<double>(C) * cfg.mlp_ratio);
        b.eps = cfg.eps;
        b.attn.bias = cfg.qkv_bias ? Attention::QkvBias::QV : Attention::QkvBias::None;
        if (cfg.use_rel_pos_bias) b.attn.rel_grid_h = gh, b.attn.rel_grid_w = gw;
        b.mlp = cfg.swiglu_mlp ? MlpKind::SwiGlu : MlpKind::Gelu;
        b.layer_scale = cfg.layer_scale;
        b.ls1 = "gamma_1";
        b.ls2 = "gamma_2";
        for (std::int64_t i = 0; i < cfg.depth; ++i) m->blocks.push_back(Block::load(w, "blocks." + std::to_string(i), b));
        if (cfg.global_pool == Pool::Avg) m->fc_norm = LayerNorm::load(w, "fc_norm", C, cfg.eps);
        else m->norm = LayerNorm::load(w, "norm", C, cfg.eps);
        if (cfg.num_classes > 0) m->head = Linear::load(w, "head", C, cfg.num_classes);
        else for (const char* k : {"head.weight", "head.bias"}) w.ignore(k);
        w.finish();
        m->params_ = w.kept();
        m->info_ = {"beit", cfg.num_classes, C, cfg.in_chans, cfg.img_h, cfg.img_w, cfg.patch_size, 1, cfg.depth,
                    true};
        return m;
    }

    const BeitConfig& config() const { return cfg_; }
    const ModelInfo& info() const override { return info_; }
    Tensor<float, 4> patch_embed_filters() const override { return patch_embed.filters(); }

    Features forward_features(const Context& ctx, TensorView<const float, 4> x, const ForwardHooks& hooks) const override {
        return run(ctx, x, hooks, {}, nullptr);
    }

    Intermediates forward_intermediates(const Context& ctx, TensorView<const float, 4> x, const IntermediateOptions& o) const override {
        Intermediates out;
        const std::vector<int> take = detail::take_indices(static_cast<int>(blocks.size()), o);
        Features f = run(ctx, x, {}, take, [&](const float* t, std::int64_t B, std::int64_t T, std::int64_t gh, std::int64_t gw) {
            detail::add_token_intermediate(out, o, ctx, norm ? &*norm : nullptr, t, B, T, cfg_.embed_dim, 1, gh, gw);
        });
        if (!o.intermediates_only) out.features = std::move(f);
        return out;
    }

    // features (B, T, C) -> mean of the patch tokens (or the class token) -> fc_norm -> head
    Tensor<float, 2> forward_head(const Context& ctx, const Features& f, bool pre_logits) const override {
        const auto x = f.tokens.view();
        if (x.shape(2) != cfg_.embed_dim || x.shape(1) < 2)
            detail::fail("forward_head: expected [N,T,", cfg_.embed_dim, "] with T > 1, got ", detail::dims_str(x.shape()));
        Tensor<float, 2> pooled = detail::pool_tokens(x, cfg_.global_pool, 1);
        if (fc_norm) fc_norm->forward(ctx, pooled, pooled);
        if (pre_logits || !head) return pooled;
        Tensor<float, 2> logits({pooled.shape(0), cfg_.num_classes});
        head->forward(ctx, pooled, logits);
        return logits;
    }

    PatchEmbed patch_embed;
    TensorView<const float, 3> cls_token, pos_embed;
    std::vector<Block> blocks;
    std::optional<LayerNorm> norm, fc_norm;
    std::optional<Linear> head;

private:
    using BlockOut = std::function<void(const float* tokens, std::int64_t B, std::int64_t T, std::int64_t gh, std::int64_t gw)>;

    Features run(const Context& ctx, TensorView<const float, 4> x, const ForwardHooks& hooks, const std::vector<int>& take,
                 const BlockOut& on_block) const {
        const std::int64_t B = x.shape(0), C = cfg_.embed_dim;
        const bool fixed = cfg_.use_rel_pos_bias || cfg_.use_abs_pos_emb;  // tables for one grid
        if (fixed && (x.shape(2) != cfg_.img_h || x.shape(3) != cfg_.img_w))
            detail::fail("input: expected [N,", cfg_.in_chans, ",", cfg_.img_h, ",", cfg_.img_w, "] (BEiT's position tables are for ",
                         "this size), got ", detail::dims_str(x.shape()));
        detail::check_input(x, cfg_.in_chans, cfg_.patch_size, cfg_.img_h, cfg_.img_w);
        const std::int64_t gh = x.shape(2) / cfg_.patch_size, gw = x.shape(3) / cfg_.patch_size, L = gh * gw, T = L + 1;
        const auto scope = ctx.arena->scope();
        float* patches = ctx.arena->alloc<float>(B * L * C);
        patch_embed.forward(ctx, x, {patches, {B, L, C}});
        if (hooks.stage) hooks.stage("patch_embed", patches, {B, L, C});
        Features f{Tensor<float, 3>({B, T, C}), 1, gh, gw};
        float* out = f.tokens.data();
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t t = 0; t < T; ++t) {
                float* o = out + (b * T + t) * C;
                const float* src = t == 0 ? cls_token.data() : patches + (b * L + t - 1) * C;
                for (std::int64_t c = 0; c < C; ++c) o[c] = src[c] + (pos_embed.empty() ? 0.0f : pos_embed.data()[t * C + c]);
            }
        if (hooks.stage) hooks.stage("pos_embed", out, {B, T, C});
        const TensorView<float, 3> tokens = f.tokens.view();
        const auto rows = tokens.reshape<2>({B * T, C});
        std::size_t next = 0;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
            const std::string name = "blocks." + std::to_string(i);
            AttentionMap* map = nullptr;
            if (hooks.wants_attention(name)) {
                hooks.attention_out->push_back({name, Tensor<float, 5>({B, cfg_.num_heads, 1, T, T}), 0, 0, 0, 0, gh, gw, {}});
                map = &hooks.attention_out->back();
            }
            blocks[i].forward(ctx, tokens, map ? map->probs.data() : nullptr);
            if (hooks.stage) hooks.stage(name, out, {B, T, C});
            if (next < take.size() && take[next] == static_cast<int>(i)) {
                on_block(out, B, T, gh, gw);
                while (next < take.size() && take[next] == static_cast<int>(i)) ++next;
            }
        }
        if (norm) norm->forward(ctx, rows, rows);
        if (hooks.stage) hooks.stage("features", out, {B, T, C});
        return f;
    }

    BeitConfig cfg_;
    ModelInfo info_;
    std::shared_ptr<const void> params_;
};

namespace detail {

inline Family beit_family() {
    using J = nlohmann::json;
    // BEiT v1 presets normalise as Inception (0.5, 0.5), v2 as ImageNet
    auto beit = [](const char* name, std::int64_t dim, std::int64_t depth, std::int64_t heads, double init, std::int64_t img,
                   bool inception = true) {
        J a = {{"patch_size", 16}, {"embed_dim", dim}, {"depth", depth}, {"num_heads", heads}, {"mlp_ratio", 4},
               {"use_abs_pos_emb", false}, {"use_rel_pos_bias", true}, {"init_values", init}, {"img_size", img}};
        return Preset{name, a, data_cfg(img, img == 224 ? 0.9 : 1.0, inception)};
    };
    return {"beit",
            {beit("beit_base_patch16_224", 768, 12, 12, 0.1, 224), beit("beit_base_patch16_384", 768, 12, 12, 0.1, 384),
             beit("beit_large_patch16_224", 1024, 24, 16, 1e-5, 224), beit("beit_large_patch16_384", 1024, 24, 16, 1e-5, 384),
             beit("beit_large_patch16_512", 1024, 24, 16, 1e-5, 512), beit("beitv2_base_patch16_224", 768, 12, 12, 1e-5, 224, false),
             beit("beitv2_large_patch16_224", 1024, 24, 16, 1e-5, 224, false)},
            {},
            [](const SafeTensorsFile& f) { return f.find("blocks.0.attn.relative_position_bias_table") || f.find("blocks.0.gamma_1"); },
            nullptr,
            [](const BuildArgs& a) {
                BeitConfig cfg;
                cfg.apply(a.preset.args, a.preset.name);
                cfg.apply(a.spec.model_args, a.file->path());
                cfg.num_classes = classes_for(a, cfg.num_classes, "head.weight");
                Built b;
                b.data = a.preset.data;
                b.data.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
                b.network = Beit::load(cfg, a.file, a.bind);
                return b;
            }};
}

}  // namespace detail

inline const detail::Registration beit_registration{detail::beit_family()};

}  // namespace fovea

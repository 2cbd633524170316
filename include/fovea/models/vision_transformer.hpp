#pragma once
// Vision Transformer (ViT), DeiT, DeiT III and register/GAP variants, as timm's
// vision_transformer.py and deit.py. Members carry timm's module names, so the checkpoint
// keys (blocks.3.attn.qkv.weight, ...) are the names used below.
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fovea/layers/block.hpp"
#include "fovea/layers/patch_embed.hpp"
#include "fovea/models/common.hpp"

namespace fovea {

struct VitConfig {
    std::int64_t img_h = 224, img_w = 224, patch_size = 16, in_chans = 3, num_classes = 1000;
    std::int64_t embed_dim = 768, depth = 12, num_heads = 12, reg_tokens = 0;
    double mlp_ratio = 4.0;
    bool qkv_bias = true, class_token = true, no_embed_class = false, pre_norm = false, final_norm = true;
    bool layer_scale = false;        // timm: init_values is not None
    std::optional<bool> fc_norm;     // None: on when global_pool is avg/avgmax/max
    std::string global_pool = "token";  // token | avg | max | avgmax | "" (per-token logits)
    bool distilled = false;          // DeiT: dist_token + head_dist, logits averaged
    bool dist_head = true;           // false: dist_token but one head on the class token (transformers' DeiTForImageClassification)
    float eps = 1e-6f;

    std::int64_t num_prefix_tokens() const { return (class_token ? 1 : 0) + reg_tokens + (distilled ? 1 : 0); }
    bool use_fc_norm() const {
        return fc_norm.value_or(global_pool == "avg" || global_pool == "max" || global_pool == "avgmax");
    }

    void apply(const nlohmann::json& args, const std::string& where) {
        detail::ArgReader r(args, where);
        r.read_pair("img_size", img_h, img_w);
        std::int64_t ph = patch_size, pw = patch_size;
        r.read_pair("patch_size", ph, pw);
        if (ph != pw) detail::fail(where, ": non-square patch_size is not supported");
        patch_size = ph;
        r.read("in_chans", in_chans);
        r.read("num_classes", num_classes);
        r.read("embed_dim", embed_dim);
        r.read("depth", depth);
        r.read("num_heads", num_heads);
        r.read("mlp_ratio", mlp_ratio);
        r.read("qkv_bias", qkv_bias);
        r.read("class_token", class_token);
        r.read("no_embed_class", no_embed_class);
        r.read("reg_tokens", reg_tokens);
        r.read("pre_norm", pre_norm);
        r.read("final_norm", final_norm);
        r.read("global_pool", global_pool);
        if (args.contains("fc_norm")) {
            if (args["fc_norm"].is_null()) fc_norm.reset();
            else { bool v = false; r.read("fc_norm", v); fc_norm = v; }
        }
        if (args.contains("init_values")) {
            auto& v = args["init_values"];
            if (!v.is_null() && !v.is_number()) detail::fail(where, ": model_args 'init_values' must be a number or null");
            layer_scale = !v.is_null();
        }
        r.ignore({"fc_norm", "init_values", "dynamic_img_size", "drop_rate", "pos_drop_rate", "patch_drop_rate",
                  "proj_drop_rate", "attn_drop_rate", "drop_path_rate", "weight_init", "fix_init"});
        r.finish();
        validate(where);
    }

    void validate(const std::string& where) const {
        if (img_h <= 0 || img_w <= 0 || patch_size <= 0 || in_chans <= 0 || embed_dim <= 0 || depth < 0 ||
            num_heads <= 0 || num_classes < 0 || reg_tokens < 0 || !(mlp_ratio > 0))
            detail::fail(where, ": ViT config has a non-positive size");
        // Far beyond any real model, and small enough that no shape product can overflow.
        if (img_h > 65536 || img_w > 65536 || patch_size > 4096 || in_chans > 4096 || embed_dim > 65536 ||
            depth > 1024 || num_heads > embed_dim || num_classes > 10000000 || reg_tokens > 4096 || mlp_ratio > 64)
            detail::fail(where, ": ViT config has a size out of range");
        if (img_h % patch_size || img_w % patch_size)
            detail::fail(where, ": img_size ", img_h, "x", img_w, " is not a multiple of patch_size ", patch_size);
        if (embed_dim % num_heads) detail::fail(where, ": embed_dim ", embed_dim, " not divisible by num_heads ", num_heads);
        if (global_pool != "token" && global_pool != "avg" && global_pool != "max" && global_pool != "avgmax" &&
            !global_pool.empty())
            detail::fail(where, ": global_pool '", global_pool, "' is not supported (token, avg, max, avgmax, '')");
        if (global_pool == "token" && !class_token) detail::fail(where, ": global_pool 'token' needs class_token");
    }
};

namespace detail {

// PyTorch's antialiased bicubic (a = -0.5, support widened by the shrink factor, weights
// normalised), align_corners=False: what F.interpolate(..., antialias=True) computes.
struct AaWeights {
    std::vector<std::int64_t> start, count;
    std::vector<float> w;  // count taps per output, padded to max_taps
    std::int64_t max_taps = 0;
};

inline float aa_bicubic_filter(float x) {
    constexpr float a = -0.5f;
    x = std::fabs(x);
    if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    if (x < 2.0f) return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    return 0.0f;
}

inline AaWeights aa_bicubic_weights(std::int64_t in, std::int64_t out) {
    AaWeights r;
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    const float support = scale >= 1.0f ? 2.0f * scale : 2.0f;
    const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    r.max_taps = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    r.w.assign(static_cast<std::size_t>(out * r.max_taps), 0.0f);
    for (std::int64_t i = 0; i < out; ++i) {
        const float center = scale * (static_cast<float>(i) + 0.5f);
        const std::int64_t lo = std::max<std::int64_t>(static_cast<std::int64_t>(center - support + 0.5f), 0);
        const std::int64_t hi = std::min<std::int64_t>(static_cast<std::int64_t>(center + support + 0.5f), in);
        const std::int64_t n = std::min(hi - lo, r.max_taps);
        float total = 0.0f;
        float* wi = r.w.data() + i * r.max_taps;
        for (std::int64_t j = 0; j < n; ++j) {
            wi[j] = aa_bicubic_filter((static_cast<float>(j + lo) - center + 0.5f) * invscale);
            total += wi[j];
        }
        if (total != 0.0f)
            for (std::int64_t j = 0; j < n; ++j) wi[j] /= total;
        r.start.push_back(lo);
        r.count.push_back(n);
    }
    return r;
}

// grid (h0, w0, C) -> (h1, w1, C); width pass first, then height, as PyTorch's separable kernel.
inline std::vector<float> resize_grid_bicubic_aa(const float* src, std::int64_t h0, std::int64_t w0, std::int64_t C,
                                                 std::int64_t h1, std::int64_t w1) {
    std::vector<float> tmp(static_cast<std::size_t>(h0 * w1 * C), 0.0f), dst(static_cast<std::size_t>(h1 * w1 * C), 0.0f);
    const AaWeights ww = aa_bicubic_weights(w0, w1), wh = aa_bicubic_weights(h0, h1);
    for (std::int64_t y = 0; y < h0; ++y)
        for (std::int64_t x = 0; x < w1; ++x)
            for (std::int64_t j = 0; j < ww.count[x]; ++j) {
                const float wt = ww.w[x * ww.max_taps + j];
                const float* s = src + (y * w0 + ww.start[x] + j) * C;
                float* d = tmp.data() + (y * w1 + x) * C;
                for (std::int64_t c = 0; c < C; ++c) d[c] += wt * s[c];
            }
    for (std::int64_t y = 0; y < h1; ++y)
        for (std::int64_t j = 0; j < wh.count[y]; ++j) {
            const float wt = wh.w[y * wh.max_taps + j];
            const float* s = tmp.data() + (wh.start[y] + j) * w1 * C;
            float* d = dst.data() + y * w1 * C;
            for (std::int64_t i = 0; i < w1 * C; ++i) d[i] += wt * s[i];
        }
    return dst;
}

inline void check_input(TensorView<const float, 4> x, std::int64_t in_chans, std::int64_t multiple,
                        std::int64_t h, std::int64_t w) {
    const auto& s = x.shape();
    if (s[0] < 1 || s[1] != in_chans || s[2] < multiple || s[3] < multiple || s[2] % multiple || s[3] % multiple)
        fail("input: expected [N,", in_chans, ",", h, ",", w, "] (N >= 1; any H and W that are multiples of ",
             multiple, "), got ", dims_str(s));
}

}  // namespace detail

class VisionTransformer {
public:
    static VisionTransformer load(const VitConfig& cfg, std::shared_ptr<const SafeTensorsFile> file) {
        cfg.validate(file->path());
        VisionTransformer m;
        m.cfg_ = cfg;
        WeightBinder w(file);
        const std::int64_t C = cfg.embed_dim, gh = cfg.img_h / cfg.patch_size, gw = cfg.img_w / cfg.patch_size;
        m.patch_embed = PatchEmbed::load(w, "patch_embed", cfg.in_chans, C, cfg.patch_size, !cfg.pre_norm);
        if (cfg.class_token) m.cls_token = w.get<3>("cls_token", {1, 1, C});
        if (cfg.reg_tokens) m.reg_token = w.get<3>("reg_token", {1, cfg.reg_tokens, C});
        if (cfg.distilled) m.dist_token = w.get<3>("dist_token", {1, 1, C});
        const std::int64_t embed_len = gh * gw + (cfg.no_embed_class ? 0 : cfg.num_prefix_tokens());
        m.pos_embed = w.get<3>("pos_embed", {1, embed_len, C});
        if (cfg.pre_norm) m.norm_pre = LayerNorm::load(w, "norm_pre", C, cfg.eps);
        const auto hidden = static_cast<std::int64_t>(static_cast<double>(C) * cfg.mlp_ratio);
        for (std::int64_t i = 0; i < cfg.depth; ++i)
            m.blocks.push_back(Block::load(w, "blocks." + std::to_string(i), C, cfg.num_heads, hidden, cfg.qkv_bias,
                                           cfg.layer_scale, cfg.eps));
        if (cfg.final_norm && !cfg.use_fc_norm()) m.norm = LayerNorm::load(w, "norm", C, cfg.eps);
        if (cfg.final_norm && cfg.use_fc_norm()) m.fc_norm = LayerNorm::load(w, "fc_norm", C, cfg.eps);
        if (cfg.num_classes > 0) {
            m.head = Linear::load(w, "head", C, cfg.num_classes);
            if (cfg.distilled && cfg.dist_head) m.head_dist = Linear::load(w, "head_dist", C, cfg.num_classes);
        }
        w.finish();
        m.params_ = w.kept();
        return m;
    }

    const VitConfig& config() const { return cfg_; }
    std::int64_t num_features() const { return cfg_.embed_dim; }

    // x (B, in_chans, H, W) -> tokens (B, T, C), T = prefix tokens + (H/p)*(W/p)
    Tensor<float, 3> forward_features(TensorView<const float, 4> x, const StageHook& hook = {}) const {
        detail::check_input(x, cfg_.in_chans, cfg_.patch_size, cfg_.img_h, cfg_.img_w);
        const std::int64_t B = x.shape(0), C = cfg_.embed_dim, P = cfg_.num_prefix_tokens();
        const std::int64_t gh = x.shape(2) / cfg_.patch_size, gw = x.shape(3) / cfg_.patch_size, L = gh * gw,
                           T = P + L;
        const Context ctx = Context::top();
        const auto scope = ctx.arena->scope();
        float* patches = ctx.arena->alloc<float>(B * L * C);
        patch_embed.forward(ctx, x, patches);
        if (hook) hook("patch_embed", patches, {B, L, C});

        // prefix tokens in timm's order: cls, then reg (or dist), then patches
        std::vector<const float*> prefix;
        if (!cls_token.empty()) prefix.push_back(cls_token.data());
        if (!dist_token.empty()) prefix.push_back(dist_token.data());
        for (std::int64_t r = 0; r < cfg_.reg_tokens; ++r) prefix.push_back(reg_token.data() + r * C);

        const std::vector<float> pos = pos_embed_for(gh, gw);
        Tensor<float, 3> out({B, T, C});
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t t = 0; t < T; ++t) {
                float* o = &out(b, t, 0);
                const float* src = t < P ? prefix[t] : patches + (b * L + t - P) * C;
                const std::int64_t pt = cfg_.no_embed_class ? t - P : t;  // no_embed_class: prefix gets no pos
                for (std::int64_t c = 0; c < C; ++c) o[c] = src[c] + (pt >= 0 ? pos[pt * C + c] : 0.0f);
            }
        if (norm_pre) norm_pre->forward(ctx, out.data(), B * T, out.data());
        if (hook) hook("pos_embed", out.data(), {B, T, C});

        for (std::size_t i = 0; i < blocks.size(); ++i) {
            blocks[i].forward(ctx, out.data(), B, T);
            if (hook) hook("blocks." + std::to_string(i), out.data(), {B, T, C});
        }
        if (norm) norm->forward(ctx, out.data(), B * T, out.data());
        if (hook) hook("features", out.data(), {B, T, C});
        return out;
    }

    // tokens (B, T, C) -> (B, num_classes), or (B, C) with pre_logits; global_pool '' gives (B*T, ...)
    Tensor<float, 2> forward_head(TensorView<const float, 3> x, bool pre_logits = false) const {
        const std::int64_t B = x.shape(0), T = x.shape(1), C = cfg_.embed_dim, P = cfg_.num_prefix_tokens();
        if (x.shape(2) != C || T < P + (cfg_.global_pool == "token" ? 0 : 1))
            detail::fail("forward_head: expected [N,T,", C, "] with T > ", P, ", got ", detail::dims_str(x.shape()));
        const std::int64_t R = cfg_.global_pool.empty() ? B * T : B;  // rows after pooling
        Tensor<float, 2> pooled({R, C});
        Tensor<float, 2> dist_pooled;
        for (std::int64_t b = 0; b < B; ++b) {
            if (cfg_.global_pool.empty()) {
                for (std::int64_t t = 0; t < T; ++t)
                    for (std::int64_t c = 0; c < C; ++c) pooled(b * T + t, c) = x(b, t, c);
            } else if (cfg_.distilled || cfg_.global_pool == "token") {
                for (std::int64_t c = 0; c < C; ++c) pooled(b, c) = x(b, 0, c);
            } else {
                for (std::int64_t c = 0; c < C; ++c) {
                    double sum = 0;
                    float mx = -INFINITY;
                    for (std::int64_t t = P; t < T; ++t) {
                        sum += x(b, t, c);
                        mx = std::max(mx, x(b, t, c));
                    }
                    const float avg = static_cast<float>(sum / static_cast<double>(T - P));
                    pooled(b, c) = cfg_.global_pool == "avg" ? avg : cfg_.global_pool == "max" ? mx : 0.5f * (avg + mx);
                }
            }
        }
        const bool two_heads = cfg_.distilled && cfg_.dist_head;
        if (two_heads) {  // eval mode: the class and distillation heads are averaged
            dist_pooled = Tensor<float, 2>({B, C});
            for (std::int64_t b = 0; b < B; ++b)
                for (std::int64_t c = 0; c < C; ++c) dist_pooled(b, c) = x(b, 1, c);
        }
        const Context ctx = Context::top();
        if (fc_norm) fc_norm->forward(ctx, pooled.data(), R, pooled.data());
        if (pre_logits || cfg_.num_classes == 0) {
            if (two_heads)
                for (std::int64_t i = 0; i < B * C; ++i) pooled.data()[i] = (pooled.data()[i] + dist_pooled.data()[i]) / 2;
            return pooled;
        }
        Tensor<float, 2> logits({R, cfg_.num_classes});
        head->forward(ctx, pooled.data(), R, logits.data());
        if (two_heads) {
            Tensor<float, 2> ld({B, cfg_.num_classes});
            head_dist->forward(ctx, dist_pooled.data(), B, ld.data());
            for (std::int64_t i = 0; i < logits.size(); ++i) logits.data()[i] = (logits.data()[i] + ld.data()[i]) / 2;
        }
        return logits;
    }

    Tensor<float, 2> forward(TensorView<const float, 4> x) const { return forward_head(forward_features(x)); }

    PatchEmbed patch_embed;
    TensorView<const float, 3> cls_token, reg_token, dist_token, pos_embed;
    std::optional<LayerNorm> norm_pre, norm, fc_norm;
    std::vector<Block> blocks;
    std::optional<Linear> head, head_dist;

private:
    // pos_embed for a (gh, gw) grid: the stored one, or resampled as timm's dynamic_img_size does.
    std::vector<float> pos_embed_for(std::int64_t gh, std::int64_t gw) const {
        const std::int64_t C = cfg_.embed_dim, P = cfg_.no_embed_class ? 0 : cfg_.num_prefix_tokens();
        const std::int64_t h0 = cfg_.img_h / cfg_.patch_size, w0 = cfg_.img_w / cfg_.patch_size;
        const float* p = pos_embed.data();
        if (gh * gw == h0 * w0 && gh == gw) return {p, p + (P + gh * gw) * C};  // timm's shortcut
        std::vector<float> out(p, p + P * C);
        const auto grid = detail::resize_grid_bicubic_aa(p + P * C, h0, w0, C, gh, gw);
        out.insert(out.end(), grid.begin(), grid.end());
        return out;
    }

    VitConfig cfg_;
    std::shared_ptr<const void> params_;  // the tensors read as stored (biases, norms, embeddings), copied out of the file
};

// ---- presets: timm's registered configurations, as data ----------------------------------

struct VitPreset {
    std::string name;
    VitConfig cfg;
    PretrainedCfg data;
};

namespace detail {

inline VitConfig vit(std::int64_t img, std::int64_t patch, std::int64_t dim, std::int64_t depth, std::int64_t heads) {
    VitConfig c;
    c.img_h = c.img_w = img;
    c.patch_size = patch;
    c.embed_dim = dim;
    c.depth = depth;
    c.num_heads = heads;
    return c;
}

inline PretrainedCfg data_cfg(std::int64_t img, double crop_pct, bool inception) {
    PretrainedCfg d;
    d.input_size = {3, img, img};
    d.crop_pct = crop_pct;
    if (inception) {
        d.mean.assign(kInceptionMean.begin(), kInceptionMean.end());
        d.std.assign(kInceptionStd.begin(), kInceptionStd.end());
    }
    return d;
}

inline std::vector<VitPreset> make_vit_presets() {
    std::vector<VitPreset> p;
    const struct { const char* size; std::int64_t dim, depth, heads; } sizes[] = {
        {"tiny", 192, 12, 3}, {"small", 384, 12, 6}, {"base", 768, 12, 12}, {"large", 1024, 24, 16}};
    for (auto& s : sizes)
        for (std::int64_t img : {224, 384})
            p.push_back({std::string("vit_" + std::string(s.size) + "_patch16_" + std::to_string(img)),
                         vit(img, 16, s.dim, s.depth, s.heads), data_cfg(img, img == 384 ? 1.0 : 0.9, true)});
    for (std::int64_t img : {224, 384})
        p.push_back({std::string("vit_base_patch32_" + std::to_string(img)), vit(img, 32, 768, 12, 12),
                     data_cfg(img, img == 384 ? 1.0 : 0.9, true)});
    for (int i = 0; i < 3; ++i) {
        auto& s = sizes[i];
        p.push_back({std::string("deit_" + std::string(s.size) + "_patch16_224"), vit(224, 16, s.dim, s.depth, s.heads),
                     data_cfg(224, 0.9, false)});
        VitConfig d = vit(224, 16, s.dim, s.depth, s.heads);
        d.distilled = true;
        p.push_back({std::string("deit_" + std::string(s.size) + "_distilled_patch16_224"), d, data_cfg(224, 0.9, false)});
    }
    for (int i = 1; i < 3; ++i) {
        auto& s = sizes[i];
        VitConfig d = vit(224, 16, s.dim, s.depth, s.heads);
        d.no_embed_class = true;
        d.layer_scale = true;
        p.push_back({std::string("deit3_" + std::string(s.size) + "_patch16_224"), d, data_cfg(224, 0.9, false)});
    }
    {
        VitConfig m = vit(256, 16, 512, 12, 8);
        m.class_token = false;
        m.global_pool = "avg";
        m.fc_norm = false;
        m.qkv_bias = false;
        m.layer_scale = true;
        p.push_back({"vit_medium_patch16_gap_256", m, data_cfg(256, 0.95, true)});
        VitConfig b = vit(224, 16, 768, 12, 16);
        b.class_token = false;
        b.global_pool = "avg";
        b.fc_norm = false;
        p.push_back({"vit_base_patch16_gap_224", b, data_cfg(224, 0.9, true)});
        VitConfig mr = vit(256, 16, 512, 12, 8);
        mr.class_token = false;
        mr.no_embed_class = true;
        mr.reg_tokens = 4;
        mr.global_pool = "avg";
        mr.layer_scale = true;
        p.push_back({"vit_medium_patch16_reg4_gap_256", mr, data_cfg(256, 0.95, true)});
        VitConfig br = vit(256, 16, 768, 12, 12);
        br.class_token = false;
        br.no_embed_class = true;
        br.reg_tokens = 4;
        br.global_pool = "avg";
        p.push_back({"vit_base_patch16_reg4_gap_256", br, data_cfg(256, 0.9, true)});
    }
    return p;
}

}  // namespace detail

inline const std::vector<VitPreset>& vit_presets() {
    static const std::vector<VitPreset> presets = detail::make_vit_presets();
    return presets;
}

}  // namespace fovea

#pragma once
// Swin Transformer (v1) as timm's swin_transformer.py with strict_img_size=False:
// any input whose sides are multiples of the patch size. Checkpoint layout of timm >= 0.9
// (downsample at the start of stages 1-3: layers.{1,2,3}.downsample, head.fc).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fovea/layers/mlp.hpp"
#include "fovea/layers/patch_embed.hpp"
#include "fovea/layers/patch_merging.hpp"
#include "fovea/layers/window_attention.hpp"
#include "fovea/models/common.hpp"
#include "fovea/models/vision_transformer.hpp"  // detail::check_input

namespace fovea {

struct SwinConfig {
    std::int64_t img_h = 224, img_w = 224, patch_size = 4, in_chans = 3, num_classes = 1000, embed_dim = 96;
    std::vector<std::int64_t> depths{2, 2, 6, 2}, num_heads{3, 6, 12, 24};
    std::int64_t window_size = 7;
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
    bool always_partition = false;  // true: never clamp the window to a small feature map
    std::string global_pool = "avg";
    float eps = 1e-5f;  // nn.LayerNorm default
    // transformers' SwinLayer instead of timm's: pad the map, then roll the padded map (timm rolls,
    // then pads), and clamp the window to a square of min(H, W). Same numbers when nothing is padded.
    bool hf_padding = false;

    std::int64_t num_stages() const { return static_cast<std::int64_t>(depths.size()); }
    std::int64_t stage_dim(std::int64_t i) const { return embed_dim << i; }
    std::int64_t num_features() const { return stage_dim(num_stages() - 1); }

    void apply(const nlohmann::json& args, const std::string& where) {
        detail::ArgReader r(args, where);
        r.read_pair("img_size", img_h, img_w);
        r.read("patch_size", patch_size);
        r.read("in_chans", in_chans);
        r.read("num_classes", num_classes);
        r.read("embed_dim", embed_dim);
        r.read("depths", depths);
        r.read("num_heads", num_heads);
        std::int64_t wh = window_size, ww = window_size;
        r.read_pair("window_size", wh, ww);
        if (wh != ww) detail::fail(where, ": non-square window_size is not supported");
        window_size = wh;
        r.read("mlp_ratio", mlp_ratio);
        r.read("qkv_bias", qkv_bias);
        r.read("always_partition", always_partition);
        r.read("global_pool", global_pool);
        r.ignore({"strict_img_size", "drop_rate", "proj_drop_rate", "attn_drop_rate", "drop_path_rate", "weight_init"});
        r.finish();
        validate(where);
    }

    void validate(const std::string& where) const {
        if (img_h <= 0 || img_w <= 0 || patch_size <= 0 || in_chans <= 0 || embed_dim <= 0 || window_size <= 0 ||
            num_classes < 0 || !(mlp_ratio > 0) || depths.empty() || depths.size() > 8)
            detail::fail(where, ": Swin config has a non-positive size");
        // Far beyond any real model, and small enough that no shape product can overflow.
        if (img_h > 65536 || img_w > 65536 || patch_size > 4096 || in_chans > 4096 || embed_dim > 8192 ||
            window_size > 256 || num_classes > 10000000 || mlp_ratio > 64)
            detail::fail(where, ": Swin config has a size out of range");
        if (depths.size() != num_heads.size())
            detail::fail(where, ": depths has ", depths.size(), " stages but num_heads has ", num_heads.size());
        for (std::size_t i = 0; i < depths.size(); ++i)
            if (depths[i] > 1024 || num_heads[i] > 4096)
                detail::fail(where, ": Swin config has a size out of range");
        for (std::size_t i = 0; i < depths.size(); ++i)
            if (depths[i] < 0 || num_heads[i] <= 0 || stage_dim(static_cast<std::int64_t>(i)) % num_heads[i])
                detail::fail(where, ": stage ", i, " dim ", stage_dim(static_cast<std::int64_t>(i)),
                             " is not divisible by num_heads ", num_heads[i]);
        if (global_pool != "avg") detail::fail(where, ": Swin global_pool '", global_pool, "' is not supported (avg)");
    }
};

// timm SwinTransformerBlock: x = x + attn(norm1(x)) over (shifted) windows; x = x + mlp(norm2(x)).
struct SwinTransformerBlock {
    LayerNorm norm1, norm2;
    WindowAttention attn;
    Mlp mlp;
    std::int64_t wh = 7, ww = 7, sh = 0, sw = 0;  // window and shift after clamping
    bool pad_then_roll = false;                    // transformers' order (SwinConfig::hf_padding)

    static SwinTransformerBlock load(WeightBinder& w, const std::string& prefix, const SwinConfig& cfg,
                                     std::int64_t dim, std::int64_t heads, std::int64_t res_h, std::int64_t res_w,
                                     bool shifted) {
        SwinTransformerBlock b;
        // timm clamps the window to the configured feature map, and drops the shift there.
        const std::int64_t win = cfg.window_size, shift = shifted ? win / 2 : 0;
        if (cfg.hf_padding) {
            const std::int64_t r = std::min(res_h, res_w);
            b.wh = b.ww = r <= win ? r : win;
            b.sh = b.sw = r <= win ? 0 : shift;
            b.pad_then_roll = true;
        } else {
            const bool clamp_h = !cfg.always_partition && res_h <= win, clamp_w = !cfg.always_partition && res_w <= win;
            b.wh = clamp_h ? res_h : win;
            b.ww = clamp_w ? res_w : win;
            b.sh = clamp_h ? 0 : shift;
            b.sw = clamp_w ? 0 : shift;
        }
        b.norm1 = LayerNorm::load(w, prefix + ".norm1", dim, cfg.eps);
        b.attn = WindowAttention::load(w, prefix + ".attn", dim, heads, b.wh, b.ww, cfg.qkv_bias);
        w.ignore(prefix + ".attn_mask");
        b.norm2 = LayerNorm::load(w, prefix + ".norm2", dim, cfg.eps);
        b.mlp = Mlp::load(w, prefix + ".mlp", dim, static_cast<std::int64_t>(static_cast<double>(dim) * cfg.mlp_ratio));
        return b;
    }

    // x (B, H, W, C), updated in place. The whole block is local to a window (attention inside
    // it, then the token-wise MLP), so where the windows share evenly over the pool each thread
    // takes its windows through every layer, a few at a time while they sit in its caches: one
    // fork-join per block instead of one per layer. With too few windows (one in Swin's last
    // stage at batch 1) the layers run over all windows in turn, each split over the pool.
    void forward(const Context& ctx, float* x, std::int64_t B, std::int64_t H, std::int64_t W) const {
        const std::int64_t N = wh * ww;
        const std::int64_t nh = (H + wh - 1) / wh, nw = (W + ww - 1) / ww, Hp = nh * wh, Wp = nw * ww;
        const std::int64_t windows = B * nh * nw;
        // Window row -> map row (-1 for padding) and, in shifted blocks, each token's region.
        const bool shifted = sh || sw;
        std::vector<int> labels(shifted ? static_cast<std::size_t>(windows * N) : 0);
        std::vector<std::int64_t> src(static_cast<std::size_t>(windows * N));
        const auto lab_h = region_labels(Hp, wh, sh), lab_w = region_labels(Wp, ww, sw);
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t wy = 0; wy < nh; ++wy)
                for (std::int64_t wx = 0; wx < nw; ++wx)
                    for (std::int64_t t = 0; t < N; ++t) {
                        const std::int64_t py = wy * wh + t / ww, px = wx * ww + t % ww;
                        const std::int64_t row = ((b * nh + wy) * nw + wx) * N + t;
                        const std::int64_t sy = source(py, H, Hp, sh), sx = source(px, W, Wp, sw);
                        src[row] = sy >= 0 && sx >= 0 ? (b * H + sy) * W + sx : -1;
                        if (shifted) labels[row] = lab_h[py] * 3 + lab_w[px];
                    }
        const int* lab = shifted ? labels.data() : nullptr;
        const std::int64_t threads = ctx.threads;
        if (threads > 1 && detail::split_imbalance(windows, threads) > 1.125)  // the busiest thread would do > 1/8 extra
            return run_windows(ctx, x, 0, windows, src.data(), lab);
        const std::int64_t group = std::max<std::int64_t>(1, kGroupRows / N);
        parallel_for(ctx, windows, 1, threads, [&](std::int64_t w0, std::int64_t w1, Context& sub) {
            const std::int64_t n = w1 - w0, groups = (n + group - 1) / group;
            for (std::int64_t g = 0; g < groups; ++g)
                run_windows(sub, x, w0 + n * g / groups, w0 + n * (g + 1) / groups, src.data(), lab);
        });
    }

private:
    static constexpr std::int64_t kGroupRows = 128;  // tokens a thread takes through the block at once

    // Windows [w0, w1) through the whole block. Their tokens are gathered from x (rolled by -shift,
    // padded with zeros as after timm's F.pad, partitioned), go through attention and the MLP, and
    // are written back (padding cropped, rolled back by +shift).
    void run_windows(const Context& ctx, float* x, std::int64_t w0, std::int64_t w1, const std::int64_t* src,
                     const int* labels) const {
        const std::int64_t C = norm1.dim, N = wh * ww, rows = (w1 - w0) * N;
        const std::int64_t* s = src + w0 * N;
        const auto scope = ctx.arena->scope();
        float* xs = ctx.arena->alloc<float>(rows * C);  // (rows, C) the residual stream, window order
        float* h = ctx.arena->alloc<float>(rows * C);
        parallel_for(ctx, rows, 64, ctx.threads, [&](std::int64_t r0, std::int64_t r1, Context&) {
            for (std::int64_t r = r0; r < r1; ++r) {
                if (s[r] >= 0) {
                    std::copy(x + s[r] * C, x + (s[r] + 1) * C, xs + r * C);
                    norm1.forward_row(xs + r * C, h + r * C);
                } else {
                    std::fill(xs + r * C, xs + (r + 1) * C, 0.0f);
                    std::fill(h + r * C, h + (r + 1) * C, 0.0f);
                }
            }
        });
        detail::Epilogue residual;
        residual.accumulate = true;
        attn.forward(ctx, h, w1 - w0, labels ? labels + w0 * N : nullptr, xs, residual);
        // Padding stops here (the MLP is token-wise): the kept tokens move up, in order.
        std::int64_t kept = 0;
        for (std::int64_t r = 0; r < rows; ++r)
            if (s[r] >= 0) {
                if (kept != r) std::copy(xs + r * C, xs + (r + 1) * C, xs + kept * C);
                ++kept;
            }
        norm2.forward(ctx, xs, kept, h);
        mlp.forward(ctx, h, kept, xs, residual);
        for (std::int64_t r = 0, k = 0; r < rows; ++r)
            if (s[r] >= 0) std::copy(xs + k * C, xs + (k + 1) * C, x + s[r] * C), ++k;
    }

    // The map position that padded, shifted position p holds, or -1 for padding. timm rolls the
    // map and then pads it; transformers pads and then rolls the padded map.
    std::int64_t source(std::int64_t p, std::int64_t n, std::int64_t padded, std::int64_t shift) const {
        if (pad_then_roll) {
            const std::int64_t q = (p + shift) % padded;
            return q < n ? q : -1;
        }
        return p < n ? (p + shift) % n : -1;
    }

    // Region of each padded coordinate, as timm fills img_mask with the Python slices
    // (0, -win), (-win, -shift), (-shift, None) in order: a later slice overwrites.
    static std::vector<int> region_labels(std::int64_t n, std::int64_t win, std::int64_t shift) {
        auto at = [n](std::int64_t v) { return v < 0 ? std::max<std::int64_t>(n + v, 0) : std::min(v, n); };
        const std::int64_t bounds[3][2] = {{0, at(-win)}, {at(-win), at(-shift)}, {at(-shift), n}};
        std::vector<int> lab(static_cast<std::size_t>(n), 0);
        for (int r = 0; r < 3; ++r)
            for (std::int64_t p = bounds[r][0]; p < bounds[r][1]; ++p) lab[p] = r;
        return lab;
    }
};

// timm SwinTransformerStage: optional PatchMerging first, then the blocks.
struct SwinTransformerStage {
    std::optional<PatchMerging> downsample;
    std::vector<SwinTransformerBlock> blocks;
};

class SwinTransformer {
public:
    static SwinTransformer load(const SwinConfig& cfg, std::shared_ptr<const SafeTensorsFile> file) {
        cfg.validate(file->path());
        SwinTransformer m;
        m.cfg_ = cfg;
        WeightBinder w(file);
        m.patch_embed = PatchEmbed::load(w, "patch_embed", cfg.in_chans, cfg.embed_dim, cfg.patch_size, true, cfg.eps);
        const std::int64_t gh = cfg.img_h / cfg.patch_size, gw = cfg.img_w / cfg.patch_size;
        for (std::int64_t i = 0; i < cfg.num_stages(); ++i) {
            const std::string p = "layers." + std::to_string(i);
            SwinTransformerStage s;
            const std::int64_t dim = cfg.stage_dim(i);
            if (i > 0) s.downsample = PatchMerging::load(w, p + ".downsample", cfg.stage_dim(i - 1), dim, cfg.eps);
            for (std::int64_t j = 0; j < cfg.depths[i]; ++j)
                s.blocks.push_back(SwinTransformerBlock::load(w, p + ".blocks." + std::to_string(j), cfg, dim,
                                                              cfg.num_heads[i], gh >> i, gw >> i, j % 2 == 1));
            m.layers.push_back(std::move(s));
        }
        m.norm = LayerNorm::load(w, "norm", cfg.num_features(), cfg.eps);
        if (cfg.num_classes > 0) m.head_fc = Linear::load(w, "head.fc", cfg.num_features(), cfg.num_classes);
        w.finish();
        m.params_ = w.kept();
        return m;
    }

    const SwinConfig& config() const { return cfg_; }
    std::int64_t num_features() const { return cfg_.num_features(); }

    // x (B, in_chans, H, W) -> (B, H/32, W/32, C) after the final norm (NHWC, as timm)
    Tensor<float, 4> forward_features(TensorView<const float, 4> x, const StageHook& hook = {}) const {
        return run(x, hook, nullptr);
    }

    // The output of every stage, NCHW, before the final norm: timm's forward_intermediates.
    std::vector<Tensor<float, 4>> forward_intermediates(TensorView<const float, 4> x) const {
        std::vector<Tensor<float, 4>> maps;
        run(x, {}, &maps);
        return maps;
    }

    // (B, H, W, C) -> (B, num_classes), or (B, C) with pre_logits
    Tensor<float, 2> forward_head(TensorView<const float, 4> x, bool pre_logits = false) const {
        const std::int64_t B = x.shape(0), C = num_features(), L = x.shape(1) * x.shape(2);
        if (x.shape(3) != C || L < 1)
            detail::fail("forward_head: expected [N,H,W,", C, "], got ", detail::dims_str(x.shape()));
        Tensor<float, 2> pooled({B, C});
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t c = 0; c < C; ++c) {
                double s = 0;
                for (std::int64_t i = 0; i < x.shape(1); ++i)
                    for (std::int64_t j = 0; j < x.shape(2); ++j) s += x(b, i, j, c);
                pooled(b, c) = static_cast<float>(s / static_cast<double>(L));
            }
        if (pre_logits || !head_fc) return pooled;
        Tensor<float, 2> logits({B, cfg_.num_classes});
        head_fc->forward(Context::top(), pooled.data(), B, logits.data());
        return logits;
    }

    Tensor<float, 2> forward(TensorView<const float, 4> x) const { return forward_head(forward_features(x)); }

    PatchEmbed patch_embed;
    std::vector<SwinTransformerStage> layers;
    LayerNorm norm;
    std::optional<Linear> head_fc;

private:
    Tensor<float, 4> run(TensorView<const float, 4> x, const StageHook& hook, std::vector<Tensor<float, 4>>* maps) const {
        detail::check_input(x, cfg_.in_chans, cfg_.patch_size, cfg_.img_h, cfg_.img_w);
        const std::int64_t B = x.shape(0);
        std::int64_t H = x.shape(2) / cfg_.patch_size, W = x.shape(3) / cfg_.patch_size, C = cfg_.embed_dim;
        const Context ctx = Context::top();
        std::vector<float> cur(static_cast<std::size_t>(B * H * W * C)), next;
        patch_embed.forward(ctx, x, cur.data());
        if (hook) hook("patch_embed", cur.data(), {B, H, W, C});
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& stage = layers[i];
            const std::string p = "layers." + std::to_string(i);
            if (stage.downsample) {
                const std::int64_t Ho = (H + 1) / 2, Wo = (W + 1) / 2, Co = stage.downsample->reduction.out;
                next.assign(static_cast<std::size_t>(B * Ho * Wo * Co), 0.0f);
                stage.downsample->forward(ctx, cur.data(), B, H, W, next.data());
                std::swap(cur, next);
                H = Ho, W = Wo, C = Co;
                if (hook) hook(p + ".downsample", cur.data(), {B, H, W, C});
            }
            for (std::size_t j = 0; j < stage.blocks.size(); ++j) {
                stage.blocks[j].forward(ctx, cur.data(), B, H, W);
                if (hook) hook(p + ".blocks." + std::to_string(j), cur.data(), {B, H, W, C});
            }
            if (maps) {  // NHWC -> NCHW
                Tensor<float, 4> m({B, C, H, W});
                for (std::int64_t b = 0; b < B; ++b)
                    for (std::int64_t y = 0; y < H; ++y)
                        for (std::int64_t xx = 0; xx < W; ++xx)
                            for (std::int64_t c = 0; c < C; ++c) m(b, c, y, xx) = cur[((b * H + y) * W + xx) * C + c];
                maps->push_back(std::move(m));
            }
        }
        Tensor<float, 4> out({B, H, W, C});
        norm.forward(ctx, cur.data(), B * H * W, out.data());
        if (hook) hook("features", out.data(), {B, H, W, C});
        return out;
    }

    SwinConfig cfg_;
    std::shared_ptr<const void> params_;  // the tensors read as stored (biases, norms, embeddings), copied out of the file
};

// ---- presets ----------------------------------------------------------------------------

struct SwinPreset {
    std::string name;
    SwinConfig cfg;
    PretrainedCfg data;
};

inline const std::vector<SwinPreset>& swin_presets() {
    static const std::vector<SwinPreset> presets = [] {
        auto swin = [](std::int64_t img, std::int64_t win, std::int64_t dim, std::vector<std::int64_t> depths,
                       std::vector<std::int64_t> heads) {
            SwinConfig c;
            c.img_h = c.img_w = img;
            c.window_size = win;
            c.embed_dim = dim;
            c.depths = std::move(depths);
            c.num_heads = std::move(heads);
            return c;
        };
        const auto d224 = detail::data_cfg(224, 0.9, false), d384 = detail::data_cfg(384, 1.0, false);
        return std::vector<SwinPreset>{
            {"swin_tiny_patch4_window7_224", swin(224, 7, 96, {2, 2, 6, 2}, {3, 6, 12, 24}), d224},
            {"swin_small_patch4_window7_224", swin(224, 7, 96, {2, 2, 18, 2}, {3, 6, 12, 24}), d224},
            {"swin_base_patch4_window7_224", swin(224, 7, 128, {2, 2, 18, 2}, {4, 8, 16, 32}), d224},
            {"swin_large_patch4_window7_224", swin(224, 7, 192, {2, 2, 18, 2}, {6, 12, 24, 48}), d224},
            {"swin_base_patch4_window12_384", swin(384, 12, 128, {2, 2, 18, 2}, {4, 8, 16, 32}), d384},
            {"swin_large_patch4_window12_384", swin(384, 12, 192, {2, 2, 18, 2}, {6, 12, 24, 48}), d384},
        };
    }();
    return presets;
}

}  // namespace fovea

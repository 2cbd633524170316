#pragma once
// Swin Transformer (v1) as timm's swin_transformer.py with strict_img_size=False: any input whose
// sides are multiples of the patch size. Checkpoint layout of timm >= 0.9 (downsample at the start
// of stages 1-3: layers.{1,2,3}.downsample, head.fc). After the model: its presets, transformers'
// Swin config, the transformers and Microsoft checkpoint layouts, and the family (swin_family()).
// Swin V2 (models/swin_transformer_v2.hpp) is this network with SwinConfig::v2: residual post-norm
// blocks (x + norm(attn(x))), cosine window attention with its continuous position bias, and patch
// merging that normalises after the reduction.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fovea/layers/mlp.hpp"
#include "fovea/layers/patch_embed.hpp"
#include "fovea/layers/patch_merging.hpp"
#include "fovea/layers/window_attention.hpp"
#include "fovea/models/common.hpp"
#include "fovea/models/registry.hpp"

namespace fovea {

struct SwinConfig {
    std::int64_t img_h = 224, img_w = 224, patch_size = 4, in_chans = 3, num_classes = 1000, embed_dim = 96;
    std::vector<std::int64_t> depths{2, 2, 6, 2}, num_heads{3, 6, 12, 24};
    std::int64_t window_size = 7;
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
    bool always_partition = false;  // true: never clamp the window to a small feature map
    float eps = 1e-5f;              // nn.LayerNorm default
    // transformers' SwinLayer instead of timm's: pad the map, then roll the padded map (timm rolls,
    // then pads), and clamp the window to a square of min(H, W). Same numbers when nothing is padded.
    bool hf_padding = false;
    bool v2 = false;                                // Swin V2's blocks, attention and patch merging
    std::vector<std::int64_t> pretrained_window_sizes;  // V2: per stage, the window of pre-training (0: this one)

    std::int64_t num_stages() const { return static_cast<std::int64_t>(depths.size()); }
    std::int64_t stage_dim(std::int64_t i) const { return embed_dim << i; }
    std::int64_t num_features() const { return stage_dim(num_stages() - 1); }

    void apply(const nlohmann::json& args, const std::string& where) {
        detail::ArgReader r(args, where);
        r.read_pair("img_size", img_h, img_w, 65536);
        r.read("patch_size", patch_size, 1, 4096);
        r.read("in_chans", in_chans, 1, 4096);
        r.read("num_classes", num_classes, 0, 10'000'000);
        r.read("embed_dim", embed_dim, 1, 8192);
        r.read("depths", depths, 0, 1024, 8);
        r.read("num_heads", num_heads, 1, 4096, 8);
        std::int64_t wh = window_size, ww = window_size;
        r.read_pair("window_size", wh, ww, 64);
        if (wh != ww) detail::fail(where, ": non-square window_size is not supported");
        window_size = wh;
        r.read("mlp_ratio", mlp_ratio);
        r.read("qkv_bias", qkv_bias);
        r.read("always_partition", always_partition);
        r.read("pretrained_window_sizes", pretrained_window_sizes, 0, 64, 8);
        if (r.has("global_pool")) {
            std::string p;
            r.read("global_pool", p);
            if (p != "avg") detail::fail(where, ": Swin global_pool '", p.substr(0, 50), "' is not supported (avg)");
        }
        r.ignore({"strict_img_size", "drop_rate", "proj_drop_rate", "attn_drop_rate", "drop_path_rate", "weight_init"});
        r.finish();
    }

    void validate(const std::string& where) const {
        if (!(mlp_ratio > 0 && mlp_ratio <= 64)) detail::fail(where, ": Swin mlp_ratio ", mlp_ratio, " is out of range (0, 64]");
        if (static_cast<std::int64_t>(static_cast<double>(embed_dim) * mlp_ratio) < 1)
            detail::fail(where, ": Swin mlp_ratio ", mlp_ratio, " gives an MLP of width 0 for embed_dim ", embed_dim);
        if (depths.size() != num_heads.size())
            detail::fail(where, ": depths has ", depths.size(), " stages but num_heads has ", num_heads.size());
        if (!pretrained_window_sizes.empty() && (!v2 || pretrained_window_sizes.size() != depths.size()))
            detail::fail(where, ": pretrained_window_sizes needs Swin V2 and one size per stage (", depths.size(), ")");
        for (std::size_t i = 0; i < depths.size(); ++i)
            if (stage_dim(static_cast<std::int64_t>(i)) % num_heads[i] || stage_dim(static_cast<std::int64_t>(i)) > 65536)
                detail::fail(where, ": stage ", i, " dim ", stage_dim(static_cast<std::int64_t>(i)),
                             " is not divisible by num_heads ", num_heads[i], " (or over 65536)");
        // each stage halves the grid (rounding down, as timm sizes its stages): none may be empty
        const std::int64_t last = num_stages() - 1, gh = img_h / patch_size, gw = img_w / patch_size;
        if (last >= 0 && ((gh >> last) < 1 || (gw >> last) < 1))
            detail::fail(where, ": img_size ", img_h, "x", img_w, " with patch_size ", patch_size, " leaves stage ", last,
                         " no tokens (a ", gh, "x", gw, " grid halved ", last, " times)");
    }
};

// timm SwinTransformerBlock: x = x + attn(norm1(x)) over (shifted) windows; x = x + mlp(norm2(x)).
// Swin V2's (SwinTransformerV2Block) normalises the branch instead: x = x + norm1(attn(x)), x = x + norm2(mlp(x)).
struct SwinTransformerBlock {
    LayerNorm norm1, norm2;
    WindowAttention attn;
    Mlp mlp;
    std::int64_t wh = 7, ww = 7, sh = 0, sw = 0;  // window and shift after clamping
    bool pad_then_roll = false;                    // transformers' order (SwinConfig::hf_padding)
    bool post_norm = false;                        // Swin V2

    static SwinTransformerBlock load(WeightBinder& w, const std::string& prefix, const SwinConfig& cfg, std::int64_t dim,
                                     std::int64_t heads, std::int64_t res_h, std::int64_t res_w, bool shifted,
                                     std::int64_t pretrained_window = 0) {
        SwinTransformerBlock b;
        // timm clamps the window to the configured feature map, and drops the shift there.
        const std::int64_t win = cfg.window_size, shift = shifted ? win / 2 : 0;
        if (cfg.hf_padding) {
            const std::int64_t r = std::max<std::int64_t>(1, std::min(res_h, res_w));
            b.wh = b.ww = r <= win ? r : win;
            b.sh = b.sw = r <= win ? 0 : shift;
            b.pad_then_roll = true;
        } else {
            const bool clamp_h = !cfg.always_partition && res_h <= win, clamp_w = !cfg.always_partition && res_w <= win;
            b.wh = clamp_h ? std::max<std::int64_t>(1, res_h) : win;
            b.ww = clamp_w ? std::max<std::int64_t>(1, res_w) : win;
            b.sh = clamp_h ? 0 : shift;
            b.sw = clamp_w ? 0 : shift;
        }
        b.post_norm = cfg.v2;
        b.norm1 = LayerNorm::load(w, prefix + ".norm1", dim, cfg.eps);
        b.attn = cfg.v2 ? WindowAttention::load_v2(w, prefix + ".attn", dim, heads, b.wh, b.ww, pretrained_window, pretrained_window, cfg.qkv_bias)
                        : WindowAttention::load(w, prefix + ".attn", dim, heads, b.wh, b.ww, cfg.qkv_bias);
        w.ignore(prefix + ".attn_mask");
        b.norm2 = LayerNorm::load(w, prefix + ".norm2", dim, cfg.eps);
        b.mlp = Mlp::load(w, prefix + ".mlp", dim, static_cast<std::int64_t>(static_cast<double>(dim) * cfg.mlp_ratio));
        return b;
    }

    // Where this block's windows take their tokens from on an H x W map: for each window row, the map
    // position (-1 for padding) and, in shifted blocks, the token's region for the mask.
    struct Windows {
        std::int64_t nh = 0, nw = 0, count = 0;  // windows per image: nh x nw; count: all images
        std::vector<std::int64_t> src;           // [count * N]: b * H * W + y * W + x, or -1
        std::vector<int> labels;                 // [count * N] or empty
    };
    Windows windows(std::int64_t B, std::int64_t H, std::int64_t W) const {
        Windows w;
        const std::int64_t N = wh * ww;
        w.nh = (H + wh - 1) / wh;
        w.nw = (W + ww - 1) / ww;
        w.count = B * w.nh * w.nw;
        const std::int64_t Hp = w.nh * wh, Wp = w.nw * ww;
        const bool shifted = sh || sw;
        w.src.resize(static_cast<std::size_t>(w.count * N));
        if (shifted) w.labels.resize(w.src.size());
        const auto lab_h = region_labels(Hp, wh, sh), lab_w = region_labels(Wp, ww, sw);
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t wy = 0; wy < w.nh; ++wy)
                for (std::int64_t wx = 0; wx < w.nw; ++wx)
                    for (std::int64_t t = 0; t < N; ++t) {
                        const std::int64_t py = wy * wh + t / ww, px = wx * ww + t % ww;
                        const auto row = static_cast<std::size_t>(((b * w.nh + wy) * w.nw + wx) * N + t);
                        const std::int64_t sy = source(py, H, Hp, sh), sx = source(px, W, Wp, sw);
                        w.src[row] = sy >= 0 && sx >= 0 ? (b * H + sy) * W + sx : -1;
                        if (shifted) w.labels[row] = lab_h[static_cast<std::size_t>(py)] * 3 + lab_w[static_cast<std::size_t>(px)];
                    }
        return w;
    }

    // x (B, H, W, C), updated in place. The whole block is local to a window (attention inside
    // it, then the token-wise MLP), so where the windows share evenly over the pool each thread
    // takes its windows through every layer, a few at a time while they sit in its caches: one
    // fork-join per block instead of one per layer. With too few windows (one in Swin's last
    // stage at batch 1) the layers run over all windows in turn, each split over the pool.
    // probs (optional): [windows, heads, N, N] attention of every window, batch-major.
    void forward(const Context& ctx, TensorView<float, 4> map, float* probs = nullptr) const {
        const std::int64_t B = map.shape(0), H = map.shape(1), W = map.shape(2), N = wh * ww;
        detail::check_shape("SwinTransformerBlock", "x", map.shape(), -1, -1, -1, norm1.dim);
        float* x = map.data();
        const Windows win = windows(B, H, W);
        const int* lab = win.labels.empty() ? nullptr : win.labels.data();
        const std::int64_t threads = ctx.threads;
        if (threads > 1 && detail::split_imbalance(win.count, threads) > 1.125)  // the busiest thread would do > 1/8 extra
            return run_windows(ctx, x, 0, win.count, win.src.data(), lab, probs);
        const std::int64_t group = std::max<std::int64_t>(1, kGroupRows / N);
        parallel_for(ctx, win.count, 1, threads, [&](std::int64_t w0, std::int64_t w1, Context& sub) {
            const std::int64_t n = w1 - w0, groups = (n + group - 1) / group;
            for (std::int64_t g = 0; g < groups; ++g)
                run_windows(sub, x, w0 + n * g / groups, w0 + n * (g + 1) / groups, win.src.data(), lab, probs);
        });
    }

private:
    static constexpr std::int64_t kGroupRows = 128;  // tokens a thread takes through the block at once

    // Windows [w0, w1) through the whole block. Their tokens are gathered from x (rolled by -shift,
    // padded with zeros as after timm's F.pad, partitioned), go through attention and the MLP, and
    // are written back (padding cropped, rolled back by +shift).
    void run_windows(const Context& ctx, float* x, std::int64_t w0, std::int64_t w1, const std::int64_t* src,
                     const int* labels, float* probs) const {
        const std::int64_t C = norm1.dim, N = wh * ww, rows = (w1 - w0) * N;
        const std::int64_t* s = src + w0 * N;
        const auto scope = ctx.arena->scope();
        float* xs = ctx.arena->alloc<float>(rows * C);  // (rows, C) the residual stream, window order
        float* h = ctx.arena->alloc<float>(rows * C);
        parallel_for(ctx, rows, 64, ctx.threads, [&](std::int64_t r0, std::int64_t r1, Context&) {
            for (std::int64_t r = r0; r < r1; ++r) {
                if (s[r] >= 0) {
                    std::copy(x + s[r] * C, x + (s[r] + 1) * C, xs + r * C);
                    if (!post_norm) norm1.forward_row(xs + r * C, h + r * C);
                } else {
                    std::fill(xs + r * C, xs + (r + 1) * C, 0.0f);
                    std::fill(h + r * C, h + (r + 1) * C, 0.0f);
                }
            }
        });
        detail::Epilogue residual;
        residual.accumulate = true;
        float* wprobs = probs ? probs + w0 * attn.num_heads * N * N : nullptr;
        const int* wlabels = labels ? labels + w0 * N : nullptr;
        if (post_norm) {  // h = attn(x); x += norm1(h)
            attn.forward(ctx, TensorView<const float, 3>(xs, {w1 - w0, N, C}), wlabels, TensorView<float, 3>(h, {w1 - w0, N, C}), {},
                         wprobs);
            add_normed(ctx, norm1, h, xs, rows);
        } else {
            attn.forward(ctx, TensorView<const float, 3>(h, {w1 - w0, N, C}), wlabels, TensorView<float, 3>(xs, {w1 - w0, N, C}),
                         residual, wprobs);
        }
        // Padding stops here (the MLP is token-wise): the kept tokens move up, in order.
        std::int64_t kept = 0;
        for (std::int64_t r = 0; r < rows; ++r)
            if (s[r] >= 0) {
                if (kept != r) std::copy(xs + r * C, xs + (r + 1) * C, xs + kept * C);
                ++kept;
            }
        const TensorView<float, 2> xk(xs, {kept, C}), hk(h, {kept, C});
        if (post_norm) {  // h = mlp(x); x += norm2(h)
            mlp.forward(ctx, xk, hk);
            add_normed(ctx, norm2, h, xs, kept);
        } else {
            norm2.forward(ctx, xk, hk);
            mlp.forward(ctx, hk, xk, residual);
        }
        for (std::int64_t r = 0, k = 0; r < rows; ++r)
            if (s[r] >= 0) std::copy(xs + k * C, xs + (k + 1) * C, x + s[r] * C), ++k;
    }

    // x += norm(h), row by row (h is overwritten)
    static void add_normed(const Context& ctx, const LayerNorm& norm, float* h, float* x, std::int64_t rows) {
        const std::int64_t C = norm.dim;
        parallel_for(ctx, rows, 64, ctx.threads, [&](std::int64_t r0, std::int64_t r1, Context&) {
            for (std::int64_t r = r0; r < r1; ++r) {
                norm.forward_row(h + r * C, h + r * C);
                for (std::int64_t c = 0; c < C; ++c) x[r * C + c] += h[r * C + c];
            }
        });
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
            for (std::int64_t p = bounds[r][0]; p < bounds[r][1]; ++p) lab[static_cast<std::size_t>(p)] = r;
        return lab;
    }
};

// timm SwinTransformerStage: optional PatchMerging first, then the blocks.
struct SwinTransformerStage {
    std::optional<PatchMerging> downsample;
    std::vector<SwinTransformerBlock> blocks;
};

class SwinTransformer final : public Network {
public:
    static std::shared_ptr<SwinTransformer> load(const SwinConfig& cfg, std::shared_ptr<const SafeTensorsFile> file,
                                                 WeightBinder::Options bind = {}, const std::string& family = "swin") {
        cfg.validate(file->path());
        auto m = std::make_shared<SwinTransformer>();
        m->cfg_ = cfg;
        WeightBinder w(file, bind);
        m->patch_embed = PatchEmbed::load(w, "patch_embed", cfg.in_chans, cfg.embed_dim, cfg.patch_size, true, cfg.eps);
        const std::int64_t gh = cfg.img_h / cfg.patch_size, gw = cfg.img_w / cfg.patch_size;
        for (std::int64_t i = 0; i < cfg.num_stages(); ++i) {
            const std::string p = "layers." + std::to_string(i);
            SwinTransformerStage s;
            const std::int64_t dim = cfg.stage_dim(i);
            if (i > 0) s.downsample = PatchMerging::load(w, p + ".downsample", cfg.stage_dim(i - 1), dim, cfg.eps, cfg.v2);
            const std::int64_t pretrained = cfg.pretrained_window_sizes.empty() ? 0 : cfg.pretrained_window_sizes[static_cast<std::size_t>(i)];
            for (std::int64_t j = 0; j < cfg.depths[static_cast<std::size_t>(i)]; ++j)
                s.blocks.push_back(SwinTransformerBlock::load(w, p + ".blocks." + std::to_string(j), cfg, dim,
                                                              cfg.num_heads[static_cast<std::size_t>(i)], gh >> i, gw >> i, j % 2 == 1,
                                                              pretrained));
            m->layers.push_back(std::move(s));
        }
        m->norm = LayerNorm::load(w, "norm", cfg.num_features(), cfg.eps);
        if (cfg.num_classes > 0) m->head_fc = Linear::load(w, "head.fc", cfg.num_features(), cfg.num_classes);
        else for (const char* k : {"head.fc.weight", "head.fc.bias"}) w.ignore(k);
        w.finish();
        m->params_ = w.kept();
        m->info_ = {family, cfg.num_classes, cfg.num_features(), cfg.in_chans, cfg.img_h, cfg.img_w, cfg.patch_size, 0,
                    cfg.num_stages()};
        return m;
    }

    const SwinConfig& config() const { return cfg_; }
    const ModelInfo& info() const override { return info_; }
    Tensor<float, 4> patch_embed_filters() const override { return patch_embed.filters(); }
    std::vector<std::string> block_names() const override {
        std::vector<std::string> names;
        for (std::size_t i = 0; i < layers.size(); ++i)
            for (std::size_t j = 0; j < layers[i].blocks.size(); ++j)
                names.push_back("layers." + std::to_string(i) + ".blocks." + std::to_string(j));
        return names;
    }
    std::array<std::int64_t, 2> feature_grid(std::int64_t h, std::int64_t w) const override {
        h /= cfg_.patch_size, w /= cfg_.patch_size;
        for (std::int64_t i = 1; i < cfg_.num_stages(); ++i) h = (h + 1) / 2, w = (w + 1) / 2;  // each patch merging
        return {h, w};
    }
    std::int64_t num_features() const { return cfg_.num_features(); }

    // x (B, in_chans, H, W) -> the final map after the norm, as (B, H/32 * W/32, C) tokens of its grid
    Features forward_features(const Context& ctx, TensorView<const float, 4> x, const Trace& trace) const override {
        return run(ctx, x, trace);
    }

    // forward_intermediates takes stages, before the final norm (norm: on the last stage only, as timm)
    std::vector<std::string> intermediate_names() const override {
        std::vector<std::string> names;
        for (std::size_t i = 0; i < layers.size(); ++i) names.push_back("layers." + std::to_string(i));
        return names;
    }
    void intermediate_norm(const Context& ctx, std::size_t index, TensorView<float, 2> rows) const override {
        if (index + 1 == layers.size()) norm.forward(ctx, rows, rows);
    }

    // features (B, H*W, C) -> (B, num_classes), or the pooled (B, C) with pre_logits or without a head
    Tensor<float, 2> forward_head(const Context& ctx, const Features& f, bool pre_logits) const override {
        const auto x = f.tokens.view();
        if (x.shape(2) != num_features() || x.shape(1) < 1)
            detail::fail("forward_head: expected [N,L,", num_features(), "], got ", detail::dims_str(x.shape()));
        Tensor<float, 2> pooled = detail::pool_tokens(x, Pool::Avg, 0);
        if (pre_logits || !head_fc) return pooled;
        Tensor<float, 2> logits({x.shape(0), cfg_.num_classes});
        head_fc->forward(ctx, pooled, logits);
        return logits;
    }

    PatchEmbed patch_embed;
    std::vector<SwinTransformerStage> layers;
    LayerNorm norm;
    std::optional<Linear> head_fc;

private:
    Features run(const Context& ctx, TensorView<const float, 4> x, const Trace& trace) const {
        detail::check_input(x, cfg_.in_chans, cfg_.patch_size, cfg_.img_h, cfg_.img_w);
        const std::int64_t B = x.shape(0);
        std::int64_t H = x.shape(2) / cfg_.patch_size, W = x.shape(3) / cfg_.patch_size, C = cfg_.embed_dim;
        Tensor<float, 4> cur({B, H, W, C});
        const auto tokens = [&] { return std::as_const(cur).view().reshape<3>({B, H * W, C}); };
        patch_embed.forward(ctx, x, cur.view().reshape<3>({B, H * W, C}));
        trace("patch_embed", tokens(), 0, H, W);
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& s = layers[i];
            const std::string p = "layers." + std::to_string(i);
            if (s.downsample) {
                const std::int64_t Ho = (H + 1) / 2, Wo = (W + 1) / 2, Co = s.downsample->reduction.out;
                Tensor<float, 4> next({B, Ho, Wo, Co});
                s.downsample->forward(ctx, cur, next);
                cur = std::move(next);
                H = Ho, W = Wo, C = Co;
                trace(p + ".downsample", tokens(), 0, H, W);
            }
            for (std::size_t j = 0; j < s.blocks.size(); ++j) {
                const std::string name = p + ".blocks." + std::to_string(j);
                const auto& blk = s.blocks[j];
                if (trace.takes_attention(name)) {
                    const auto win = blk.windows(B, H, W);
                    const std::int64_t N = blk.wh * blk.ww, heads = blk.attn.num_heads, per = win.nh * win.nw;
                    std::vector<float> probs(static_cast<std::size_t>(win.count * heads * N * N));
                    blk.forward(ctx, cur, probs.data());
                    AttentionMap m{name, Tensor<float, 5>({B, heads, per, N, N}), blk.wh, blk.ww, blk.sh, blk.sw, H, W, {}};
                    for (std::int64_t b = 0; b < B; ++b)  // [windows, heads, N, N] -> [B, heads, windows/B, N, N]
                        for (std::int64_t w = 0; w < per; ++w)
                            for (std::int64_t h = 0; h < heads; ++h)
                                std::copy_n(probs.data() + ((b * per + w) * heads + h) * N * N, N * N,
                                            m.probs.data() + ((b * heads + h) * per + w) * N * N);
                    m.token_pos.assign(win.src.begin(), win.src.begin() + per * N);  // image 0's: b * H * W is 0
                    trace.attention(std::move(m));
                } else {
                    blk.forward(ctx, cur);
                }
                trace(name, tokens(), 0, H, W);
            }
            trace(p, tokens(), 0, H, W);
        }
        Features f{Tensor<float, 3>({B, H * W, C}), 0, H, W};
        norm.forward(ctx, cur.view().reshape<2>({B * H * W, C}), f.tokens.view().reshape<2>({B * H * W, C}));
        trace("features", std::as_const(f.tokens).view(), 0, H, W);
        return f;
    }

    SwinConfig cfg_;
    ModelInfo info_;
    std::shared_ptr<const void> params_;  // the tensors read as stored (biases, norms, embeddings), copied out of the file
};

namespace detail {

// transformers' SwinForImageClassification / Swinv2ForImageClassification config.json (`type`
// "swin" or "swinv2") as a preset's model_args: transformers' layers pad the map before rolling it.
inline bool hf_swin_spec(const nlohmann::json& j, const std::string& where, ModelSpec& s, const char* type,
                         const char* preset, std::int64_t img, std::int64_t window) {
    if (!j["model_type"].is_string() || j["model_type"].get<std::string>() != type) return false;
    auto get = [&](const char* key, auto fallback) { return hf_value(j, key, fallback, where); };
    hf_require_gelu(j, where);
    if (get("use_absolute_embeddings", false)) fail(where, ": ", type, " with use_absolute_embeddings is not supported");
    auto& a = s.model_args;
    s.architecture = preset;
    a["img_size"] = get("image_size", img);
    a["patch_size"] = get("patch_size", std::int64_t{4});
    a["in_chans"] = get("num_channels", std::int64_t{3});
    a["qkv_bias"] = get("qkv_bias", true);
    a["embed_dim"] = get("embed_dim", std::int64_t{96});
    a["depths"] = get("depths", std::vector<std::int64_t>{2, 2, 6, 2});
    a["num_heads"] = get("num_heads", std::vector<std::int64_t>{3, 6, 12, 24});
    a["window_size"] = get("window_size", window);
    a["mlp_ratio"] = get("mlp_ratio", 4.0);
    s.hf.layer_norm_eps = get("layer_norm_eps", 1e-5f);
    if (!(*s.hf.layer_norm_eps > 0)) fail(where, ": layer_norm_eps must be positive");
    s.hf.swin_pad_then_roll = true;
    if (j.contains("id2label")) s.label_names = read_label_names(j["id2label"], where, "id2label");
    return true;
}

// Swin (v1) or Swin V2 from a preset, config.json's model_args and a transformers reader's options.
inline Built build_swin(const BuildArgs& a, const std::string& family, bool v2) {
    SwinConfig cfg;
    cfg.v2 = v2;
    cfg.apply(a.preset.args, a.preset.name);
    cfg.apply(a.spec.model_args, a.file->path());
    cfg.num_classes = classes_for(a, cfg.num_classes, "head.fc.weight");
    if (a.spec.hf.layer_norm_eps) cfg.eps = *a.spec.hf.layer_norm_eps;
    cfg.hf_padding = a.spec.hf.swin_pad_then_roll;
    Built b;
    b.data = a.preset.data;
    b.data.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
    b.network = SwinTransformer::load(cfg, a.file, a.bind, family);
    return b;
}

inline bool swin_from_transformers(const nlohmann::json& j, const std::string& where, ModelSpec& s) {
    return hf_swin_spec(j, where, s, "swin", "swin_tiny_patch4_window7_224", 224, 7);
}

// transformers' SwinForImageClassification (4 and 5 names), and Microsoft's release / timm <= 0.6
// (downsample at the end of each stage, head.weight, stored attn_mask / relative_position_index).
inline std::vector<CheckpointLayout> swin_layouts() {
    std::vector<RenameRule> hf = {
        rename(R"(^swin\.embeddings\.patch_embeddings\.projection\.(weight|bias)$)", "patch_embed.proj.$1"),
        rename(R"(^swin\.embeddings\.norm\.(weight|bias)$)", "patch_embed.norm.$1"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_before\.(weight|bias)$)", "layers.$1.blocks.$2.norm1.$3"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_after\.(weight|bias)$)", "layers.$1.blocks.$2.norm2.$3"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.self\.relative_position_bias_table$)",
               "layers.$1.blocks.$2.attn.relative_position_bias_table"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.output\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.attn.proj.$3"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.intermediate\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.fc1.$3"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.output\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.fc2.$3"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.relative_position_bias\.relative_position_bias_table$)",
               "layers.$1.blocks.$2.attn.relative_position_bias_table"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.o_proj\.(weight|bias)$)", "layers.$1.blocks.$2.attn.proj.$3"),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.$3.$4"),
        rename(R"(^swin\..*\.relative_position_index$)", ""),
        rename(R"(^swin\.encoder\.layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)$)", "+1:layers.$1.downsample.$2.$3"),
        rename(R"(^swin\.layernorm\.(weight|bias)$)", "norm.$1"),
        rename(R"(^classifier\.(weight|bias)$)", "head.fc.$1"),
    };
    const QkvFusion qkv{std::regex(R"(^(.*?)\.attention(?:\.self)?\.(query|key|value|q_proj|k_proj|v_proj)\.(weight|bias)$)"),
                        {rename(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)$)", "layers.$1.blocks.$2")}};
    std::vector<RenameRule> original = {
        rename(R"(^layers\.(\d+)\.downsample\.(.*)$)", "+1:layers.$1.downsample.$2"),
        rename(R"(^head\.(weight|bias)$)", "head.fc.$1"),
        rename(R"(.*\.(attn_mask|relative_position_index)$)", ""),
    };
    return {{"hf-swin", [](const SafeTensorsFile& f) { return f.find("swin.embeddings.patch_embeddings.projection.weight") != nullptr; },
             hf, qkv, nullptr},
            {"swin-original",
             [](const SafeTensorsFile& f) {
                 return f.find("layers.0.blocks.0.attn.relative_position_bias_table") &&
                        (f.find("layers.0.downsample.reduction.weight") || f.find("head.weight"));
             },
             original, std::nullopt, nullptr}};
}

inline Family swin_family() {
    using J = nlohmann::json;
    auto swin = [](const char* name, std::int64_t img, std::int64_t win, std::int64_t dim, std::vector<std::int64_t> depths,
                   std::vector<std::int64_t> heads) {
        return Preset{name, J{{"img_size", img}, {"window_size", win}, {"embed_dim", dim}, {"depths", depths}, {"num_heads", heads}},
                      data_cfg(img, img == 224 ? 0.9 : 1.0, false)};
    };
    return {"swin",
            {swin("swin_tiny_patch4_window7_224", 224, 7, 96, {2, 2, 6, 2}, {3, 6, 12, 24}),
             swin("swin_small_patch4_window7_224", 224, 7, 96, {2, 2, 18, 2}, {3, 6, 12, 24}),
             swin("swin_base_patch4_window7_224", 224, 7, 128, {2, 2, 18, 2}, {4, 8, 16, 32}),
             swin("swin_large_patch4_window7_224", 224, 7, 192, {2, 2, 18, 2}, {6, 12, 24, 48}),
             swin("swin_base_patch4_window12_384", 384, 12, 128, {2, 2, 18, 2}, {4, 8, 16, 32}),
             swin("swin_large_patch4_window12_384", 384, 12, 192, {2, 2, 18, 2}, {6, 12, 24, 48})},
            swin_layouts(),
            [](const SafeTensorsFile& f) { return f.find("layers.0.blocks.0.attn.relative_position_bias_table") != nullptr; },
            swin_from_transformers,
            [](const BuildArgs& a) { return build_swin(a, "swin", false); }};
}

}  // namespace detail

}  // namespace fovea

#pragma once
// timm swin_transformer.WindowAttention: attention inside (wh x ww) windows with a learned
// relative position bias, plus the shifted-window mask (-100 between tokens that came from
// different regions of the rolled map). Swin V2's (swin_transformer_v2.WindowAttention) is cosine
// attention, softmax(s_h cos(q, k) + 16 sigmoid(cpb)) v with s_h = exp(min(logit_scale_h, ln 100)):
// q and k rows are L2-normalised in place, and the bias comes from relative_position.hpp's
// continuous_position_bias, computed once at load like v1's gathered table.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fovea/core/ops.hpp"
#include "fovea/layers/linear.hpp"
#include "fovea/layers/relative_position.hpp"

namespace fovea {

struct WindowAttention {
    Linear qkv, proj;
    TensorView<const float, 3> bias;  // (heads, N, N), gathered once at load
    std::int64_t num_heads = 1, head_dim = 0, wh = 7, ww = 7;
    float scale = 1.0f;
    std::vector<float> head_scale;  // Swin V2: each head's logit scale (q and k normalised); empty: v1

    static WindowAttention load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                                std::int64_t wh, std::int64_t ww, bool qkv_bias) {
        WindowAttention a = shaped(dim, num_heads, wh, ww);
        a.scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
        // [(2wh-1)*(2ww-1), heads], read once here to build `bias`
        const auto table = w.borrow<2>(prefix + ".relative_position_bias_table", {(2 * wh - 1) * (2 * ww - 1), num_heads});
        w.ignore(prefix + ".relative_position_index");  // older checkpoints store it
        a.qkv = Linear::load(w, prefix + ".qkv", dim, 3 * dim, qkv_bias);
        a.proj = Linear::load(w, prefix + ".proj", dim, dim);
        const std::int64_t N = wh * ww;
        a.bias = w.keep<3>(gather_relative_bias(table, relative_position_index(wh, ww), N), {num_heads, N, N});
        w.release(table);
        return a;
    }

    // Swin V2: qkv without bias (q_bias, v_bias beside it), logit_scale, cpb_mlp; pwh x pww the
    // pre-training window (0: this one).
    static WindowAttention load_v2(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                                   std::int64_t wh, std::int64_t ww, std::int64_t pwh, std::int64_t pww, bool qkv_bias) {
        WindowAttention a = shaped(dim, num_heads, wh, ww);
        a.qkv = Linear::load(w, prefix + ".qkv", dim, 3 * dim, false);
        if (qkv_bias) a.qkv.bias = Linear::qv_bias(w, prefix + ".q_bias", prefix + ".v_bias", dim);
        a.proj = Linear::load(w, prefix + ".proj", dim, dim);
        const auto ls = w.borrow<3>(prefix + ".logit_scale", {num_heads, 1, 1});
        for (std::int64_t h = 0; h < num_heads; ++h) a.head_scale.push_back(std::exp(std::min(ls(h, 0, 0), std::log(100.0f))));
        w.release(ls);
        const auto w1 = w.borrow<2>(prefix + ".cpb_mlp.0.weight", {512, 2});
        const auto b1 = w.borrow<1>(prefix + ".cpb_mlp.0.bias", {512});
        const auto w2 = w.borrow<2>(prefix + ".cpb_mlp.2.weight", {num_heads, 512});
        for (const char* k : {".relative_coords_table", ".relative_position_index"}) w.ignore(prefix + k);  // buffers, recomputed
        const std::int64_t N = wh * ww;
        a.bias = w.keep<3>(continuous_position_bias(w1, b1, w2, wh, ww, pwh, pww), {num_heads, N, N});
        for (auto& t : {w1, w2}) w.release(t);
        w.release(b1);
        return a;
    }

    // x (windows, N, C) -> y (windows, N, C) through proj's epilogue `out` (a block adds into its
    // residual). labels (windows*N) give each token's shift region, or nullptr for unshifted windows.
    // probs (optional): [windows, heads, N, N], the softmax output (mask included).
    void forward(const Context& ctx, TensorView<const float, 3> x, const int* labels, TensorView<float, 3> y,
                 detail::Epilogue out = {}, float* probs = nullptr) const {
        const std::int64_t windows = x.shape(0), C = qkv.in, H = num_heads, D = head_dim, N = wh * ww;
        detail::check_shape("WindowAttention", "x", x.shape(), -1, N, C);
        detail::check_shape("WindowAttention", "y", y.shape(), windows, N, C);
        const auto scope = ctx.arena->scope();
        float* qkv_buf = ctx.arena->alloc<float>(windows * N * 3 * C);  // (windows*N, 3*C)
        float* o = ctx.arena->alloc<float>(windows * N * C);
        qkv.forward(ctx, x.reshape<2>({windows * N, C}), {qkv_buf, {windows * N, 3 * C}});
        PhaseTimer timer(ctx, Phase::Attention);
        // (window, head) pairs in chunks that the pool's threads claim as they finish: windows
        // on a shift boundary cost more (their mask)
        const detail::LowpConfig* lp = detail::attention_lowp(qkv.precision(), N);  // bf16 products, or fp32
        parallel_for(ctx, windows * H, 1, 8 * ctx.threads, [&](std::int64_t begin, std::int64_t end, Context& sub) {
            const detail::LowpRun run(lp);  // AMX: tiles configured once per chunk
            for (std::int64_t wi = begin; wi < end; ++wi) {
                const std::int64_t win = wi / H, h = wi % H;
                float* q = qkv_buf + win * N * 3 * C + h * D;
                const bool cosine = !head_scale.empty();
                if (cosine) {  // this (window, head)'s own columns of q and k
                    detail::l2_normalize_rows(q, N, D, 3 * C);
                    detail::l2_normalize_rows(q + C, N, D, 3 * C);
                }
                // Only windows that straddle a shift boundary need the mask.
                const int* lab = labels ? labels + win * N : nullptr;
                if (lab && std::all_of(lab, lab + N, [&](int l) { return l == lab[0]; })) lab = nullptr;
                detail::attention_head(sub, q, q + C, q + 2 * C, 3 * C, N, D, cosine ? head_scale[static_cast<std::size_t>(h)] : scale, bias.data() + h * N * N, lab,
                                       o + win * N * C + h * D, C, probs ? probs + (win * H + h) * N * N : nullptr, lp);
            }
        });
        timer.stop();
        proj.forward(ctx, TensorView<const float, 2>(o, {windows * N, C}), y.reshape<2>({windows * N, C}), out);
    }

private:
    static WindowAttention shaped(std::int64_t dim, std::int64_t num_heads, std::int64_t wh, std::int64_t ww) {
        if (num_heads <= 0 || dim % num_heads != 0) detail::fail("dim ", dim, " is not divisible by num_heads ", num_heads);
        WindowAttention a;
        a.num_heads = num_heads;
        a.head_dim = dim / num_heads;
        a.wh = wh;
        a.ww = ww;
        return a;
    }
};

}  // namespace fovea

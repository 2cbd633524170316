#pragma once
// timm Attention (vision_transformer.py), BEiT's (beit.py) and EVA's (eva.py): a qkv projection,
// then per head
//   softmax(q k^T / sqrt(head_dim) (+ relative position bias)) v
// and proj. Chosen by configuration: the qkv bias on q, k and v (qkv.bias), on q and v only
// (BEiT's and EVA's q_bias and v_bias; k has none), or none; q, k and v stored as one qkv or as
// q_proj, k_proj, v_proj (EVA-02 base and large; fused here at load); a learned relative position
// bias over a class token and a fixed grid (BEiT's per-block relative_position_bias_table);
// EVA-02's rotary embedding of q and k, given with the input (it depends on the grid); and
// EVA-CLIP's LayerNorm of the heads' output before proj.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "fovea/core/context.hpp"
#include "fovea/core/ops.hpp"
#include "fovea/layers/layer_norm.hpp"
#include "fovea/layers/linear.hpp"
#include "fovea/layers/relative_position.hpp"
#include "fovea/layers/rope.hpp"

namespace fovea {

enum class QkvBias { All, QV, None };

struct AttentionOptions {
    QkvBias bias = QkvBias::All;
    std::int64_t rel_grid_h = 0, rel_grid_w = 0;  // > 0: relative position bias over [cls] + this grid
    bool fused_qkv = true;                        // false: q_proj, k_proj (no bias), v_proj
    float inner_norm_eps = 0.0f;                  // > 0: attn.norm, a LayerNorm of the heads' output before proj (EVA-CLIP)
};

struct Attention {
    static constexpr std::int64_t kQueryBlock = 48;  // queries per task: a multiple of the kernels' row tiles (6, 8, 12, 16)
    // Queries per task for attention's products on lp's kernels (null: fp32): whole row tiles of
    // the bf16 kernel (AMX: 64 as 2 x 32).
    static std::int64_t query_block(const detail::LowpConfig* lp) {
        return lp ? (kQueryBlock + lp->mr - 1) / lp->mr * lp->mr : kQueryBlock;
    }
    using QkvBias = fovea::QkvBias;
    using Options = AttentionOptions;

    Linear qkv, proj;
    std::int64_t num_heads = 1, head_dim = 0;
    float scale = 1.0f;
    TensorView<const float, 3> rel_bias;  // (heads, T, T) gathered at load, or empty
    std::optional<LayerNorm> norm;         // EVA-CLIP's scale_attn_inner

    static Attention load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                          const Options& o = {}) {
        if (num_heads <= 0 || dim % num_heads != 0)
            detail::fail(w.file()->path(), ": ", prefix, ": dim ", dim, " is not divisible by num_heads ", num_heads);
        Attention a;
        a.num_heads = num_heads;
        a.head_dim = dim / num_heads;
        a.scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
        if (o.fused_qkv) {
            a.qkv = Linear::load(w, prefix + ".qkv", dim, 3 * dim, o.bias == QkvBias::All);
            if (o.bias == QkvBias::QV) a.qkv.bias = Linear::qv_bias(w, prefix + ".q_bias", prefix + ".v_bias", dim);
        } else {
            if (o.bias == QkvBias::All) detail::fail(w.file()->path(), ": ", prefix, ": separate q, k, v projections have no k bias");
            a.qkv = Linear::load_fused(w, {prefix + ".q_proj", prefix + ".k_proj", prefix + ".v_proj"}, dim, dim, false);
            if (o.bias == QkvBias::QV) a.qkv.bias = Linear::qv_bias(w, prefix + ".q_proj.bias", prefix + ".v_proj.bias", dim);
        }
        if (o.inner_norm_eps > 0) a.norm = LayerNorm::load(w, prefix + ".norm", dim, o.inner_norm_eps);
        a.proj = Linear::load(w, prefix + ".proj", dim, dim);
        if (o.rel_grid_h > 0) {
            const std::int64_t gh = o.rel_grid_h, gw = o.rel_grid_w, T = gh * gw + 1;
            const auto table = w.borrow<2>(prefix + ".relative_position_bias_table", {(2 * gh - 1) * (2 * gw - 1) + 3, num_heads});
            w.ignore(prefix + ".relative_position_index");  // a buffer some checkpoints store; recomputed
            a.rel_bias = w.keep<3>(gather_relative_bias(table, relative_position_index_with_cls(gh, gw), T), {num_heads, T, T});
            w.release(table);
        }
        return a;
    }

    // x [B, T, C] -> y [B, T, C] through proj's epilogue `out` (a block adds into its residual).
    // probs (optional): [B, heads, T, T], the softmax output of every head. rope (optional): the
    // rotation of q and k for this input's grid.
    void forward(const Context& ctx, TensorView<const float, 3> x, TensorView<float, 3> y, detail::Epilogue out = {},
                 float* probs = nullptr, const RotaryEmbedding::Table* rope = nullptr) const {
        const std::int64_t B = x.shape(0), T = x.shape(1), C = qkv.in, H = num_heads, D = head_dim;
        detail::check_shape("Attention", "y", y.shape(), B, T, C);
        if (!rel_bias.empty() && rel_bias.shape(1) != T)
            detail::fail("attention: relative position bias is for ", rel_bias.shape(1), " tokens, the input has ", T);
        if (rope && (rope->prefix + rope->tokens != T || rope->dim != D))
            detail::fail("attention: rotary table is for ", rope->prefix + rope->tokens, " tokens of ", rope->dim,
                         " channels, the input has ", T, " of ", D);
        const auto scope = ctx.arena->scope();
        float* qkv_buf = ctx.arena->alloc<float>(B * T * 3 * C);  // (B*T, 3*C) -> q | k | v, heads inside each
        float* o = ctx.arena->alloc<float>(B * T * C);            // (B*T, C), heads side by side
        const detail::LowpConfig* lp = detail::attention_lowp(qkv.precision(), T);  // bf16 products, or fp32
        const std::int64_t ks = detail::packed_k_floats(T, D, lp), vs = detail::packed_v_floats(T, D, lp);
        float* kv = ctx.arena->alloc<float>(B * H * (ks + vs));   // every head's K^T and V, packed once
        qkv.forward(ctx, x.reshape<2>({B * T, x.shape(2)}), {qkv_buf, {B * T, 3 * C}});
        PhaseTimer timer(ctx, Phase::Attention);
        parallel_for(ctx, B * H, 1, ctx.threads, [&](std::int64_t begin, std::int64_t end, Context& sub) {
            for (std::int64_t bh = begin; bh < end; ++bh) {
                float* q = qkv_buf + bh / H * T * 3 * C + bh % H * D;
                if (rope) {  // this (batch, head)'s own columns of q and k
                    RotaryEmbedding::apply(*rope, q, 3 * C);
                    RotaryEmbedding::apply(*rope, q + C, 3 * C);
                }
                detail::pack_kv(*sub.arena, q + C, q + 2 * C, 3 * C, T, D, kv + bh * (ks + vs), kv + bh * (ks + vs) + ks, lp);
            }
        });
        // (batch, head, block of queries) in chunks that the pool's threads claim as they finish:
        // all cores work at batch 1 with few heads, and a thread's scratch is one block's scores
        // (qb x T), never T x T. The blocks do not depend on the thread count.
        const std::int64_t qb = query_block(lp);
        const std::int64_t nq = (T + qb - 1) / qb;
        parallel_for(ctx, B * H * nq, 1, 4 * ctx.threads, [&](std::int64_t begin, std::int64_t end, Context& sub) {
            const detail::LowpRun run(lp);  // AMX: tiles configured once per chunk
            for (std::int64_t task = begin; task < end; ++task) {
                const std::int64_t bh = task / nq, b = bh / H, h = bh % H, q0 = task % nq * qb;
                const std::int64_t rows = std::min(qb, T - q0);
                const float* q = qkv_buf + (b * T + q0) * 3 * C + h * D;
                detail::attention_packed(sub, q, 3 * C, rows, kv + bh * (ks + vs), kv + bh * (ks + vs) + ks, T, D, scale,
                                         rel_bias.empty() ? nullptr : rel_bias.data() + (h * T + q0) * T, nullptr, q0,
                                         o + (b * T + q0) * C + h * D, C, probs ? probs + (bh * T + q0) * T : nullptr, lp);
            }
        });
        timer.stop();
        if (norm) norm->forward(ctx, TensorView<const float, 2>(o, {B * T, C}), TensorView<float, 2>(o, {B * T, C}));
        proj.forward(ctx, TensorView<const float, 2>(o, {B * T, C}), y.reshape<2>({B * T, C}), out);
    }
};

}  // namespace fovea

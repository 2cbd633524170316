#pragma once
// timm's AttentionPoolLatent (layers/attention_pool.py), the "map" head of SigLIP: a learned latent
// query attends over the tokens, then a residual MLP on the result.
//   q = q(latent);  k | v = kv(x);  o = proj(softmax(q k^T / sqrt(head_dim)) v)
//   o = o + mlp(norm(o));  pooled = o[:, 0]
// With latent_len 1 (every timm preset) one row per image comes out.
#include <string>

#include "fovea/core/context.hpp"
#include "fovea/core/ops.hpp"
#include "fovea/layers/layer_norm.hpp"
#include "fovea/layers/linear.hpp"
#include "fovea/layers/mlp.hpp"

namespace fovea {

struct AttentionPoolLatent {
    TensorView<const float, 3> latent;  // (1, latent_len, C)
    Linear q, kv, proj;
    LayerNorm norm;
    Mlp mlp;
    std::int64_t num_heads = 1, head_dim = 0;

    static AttentionPoolLatent load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                                    std::int64_t hidden, float eps, Activation act) {
        if (num_heads <= 0 || dim % num_heads != 0)
            detail::fail(w.file()->path(), ": ", prefix, ": dim ", dim, " is not divisible by num_heads ", num_heads);
        AttentionPoolLatent a;
        a.num_heads = num_heads;
        a.head_dim = dim / num_heads;
        a.latent = w.get<3>(prefix + ".latent", {1, 1, dim});  // latent_len 1, as every timm preset
        a.q = Linear::load(w, prefix + ".q", dim, dim);
        a.kv = Linear::load(w, prefix + ".kv", dim, 2 * dim);
        a.proj = Linear::load(w, prefix + ".proj", dim, dim);
        a.norm = LayerNorm::load(w, prefix + ".norm", dim, eps);
        a.mlp = Mlp::load(w, prefix + ".mlp", dim, hidden, MlpKind::Gelu, act);
        return a;
    }

    // x [B, N, C] (the tokens pooled over) -> y [B, C].
    void forward(const Context& ctx, TensorView<const float, 3> x, TensorView<float, 2> y) const {
        const std::int64_t B = x.shape(0), N = x.shape(1), C = q.in, H = num_heads, D = head_dim;
        detail::check_shape("AttentionPoolLatent", "y", y.shape(), B, C);
        const auto scope = ctx.arena->scope();
        float* qrow = ctx.arena->alloc<float>(C);        // the query: the same for every image
        float* kvb = ctx.arena->alloc<float>(B * N * 2 * C);  // (B*N, 2C) -> k | v, heads inside each
        float* o = ctx.arena->alloc<float>(B * C);        // (B, C), heads side by side
        q.forward(ctx, latent.reshape<2>({1, C}), {qrow, {1, C}});
        kv.forward(ctx, x.reshape<2>({B * N, x.shape(2)}), {kvb, {B * N, 2 * C}});
        const float scale = 1.0f / std::sqrt(static_cast<float>(D));
        parallel_for(ctx, B * H, 1, 4 * ctx.threads, [&](std::int64_t begin, std::int64_t end, Context& sub) {
            for (std::int64_t bh = begin; bh < end; ++bh) {
                const std::int64_t b = bh / H, h = bh % H;
                const float* k = kvb + b * N * 2 * C + h * D;
                detail::attention_rows(sub, qrow + h * D, C, 1, k, k + C, 2 * C, N, D, scale, nullptr, nullptr, o + b * C + h * D, C);
            }
        });
        proj.forward(ctx, TensorView<const float, 2>(o, {B, C}), y);
        float* n = ctx.arena->alloc<float>(B * C);
        norm.forward(ctx, y, {n, {B, C}});
        detail::Epilogue residual;
        residual.accumulate = true;
        mlp.forward(ctx, TensorView<const float, 2>(n, {B, C}), y, residual);
    }
};

}  // namespace fovea

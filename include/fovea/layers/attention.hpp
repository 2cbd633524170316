#pragma once
// timm Attention: fused qkv projection, softmax(q k^T * head_dim^-0.5) v per head, proj.
#include <cmath>
#include <string>

#include "fovea/core/ops.hpp"
#include "fovea/layers/linear.hpp"

namespace fovea {

struct Attention {
    Linear qkv, proj;
    std::int64_t num_heads = 1, head_dim = 0;
    float scale = 1.0f;

    static Attention load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                          bool qkv_bias) {
        if (num_heads <= 0 || dim % num_heads != 0)
            detail::fail("embed dim ", dim, " is not divisible by num_heads ", num_heads);
        Attention a;
        a.qkv = Linear::load(w, prefix + ".qkv", dim, 3 * dim, qkv_bias);
        a.proj = Linear::load(w, prefix + ".proj", dim, dim);
        a.num_heads = num_heads;
        a.head_dim = dim / num_heads;
        a.scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
        return a;
    }

    // x [B*T, C] -> y [B*T, C] through proj's epilogue `out` (a block adds into its residual).
    void forward(const Context& ctx, const float* x, std::int64_t B, std::int64_t T, float* y, detail::Epilogue out = {}) const {
        const std::int64_t C = qkv.in, H = num_heads, D = head_dim;
        const auto scope = ctx.arena->scope();
        float* qkv_buf = ctx.arena->alloc<float>(B * T * 3 * C);  // (B*T, 3*C) -> q | k | v, heads inside each
        float* o = ctx.arena->alloc<float>(B * T * C);            // (B*T, C), heads side by side
        qkv.forward(ctx, x, B * T, qkv_buf);
        // (batch, head) pairs in chunks that the pool's threads claim as they finish
        parallel_for(ctx, B * H, 1, 4 * ctx.threads, [&](std::int64_t begin, std::int64_t end, Context& sub) {
            for (std::int64_t bh = begin; bh < end; ++bh) {
                const std::int64_t b = bh / H, h = bh % H;
                const float* q = qkv_buf + b * T * 3 * C + h * D;
                detail::attention_head(sub, q, q + C, q + 2 * C, 3 * C, T, D, scale, nullptr, nullptr, o + b * T * C + h * D, C);
            }
        });
        proj.forward(ctx, o, B * T, y, out);
    }
};

}  // namespace fovea

#pragma once
// timm vision_transformer.Block: pre-norm attention and MLP, each with optional LayerScale.
//   x = x + ls1(attn(norm1(x)));  x = x + ls2(mlp(norm2(x)))
// Both residual adds (and LayerScale) happen in the epilogue of the branch's last GEMM.
#include <string>

#include "fovea/layers/attention.hpp"
#include "fovea/layers/layer_norm.hpp"
#include "fovea/layers/layer_scale.hpp"
#include "fovea/layers/mlp.hpp"

namespace fovea {

struct Block {
    LayerNorm norm1, norm2;
    Attention attn;
    Mlp mlp;
    LayerScale ls1, ls2;

    static Block load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                      std::int64_t hidden, bool qkv_bias, bool layer_scale, float eps) {
        Block b;
        b.norm1 = LayerNorm::load(w, prefix + ".norm1", dim, eps);
        b.attn = Attention::load(w, prefix + ".attn", dim, num_heads, qkv_bias);
        if (layer_scale) b.ls1 = LayerScale::load(w, prefix + ".ls1", dim);
        b.norm2 = LayerNorm::load(w, prefix + ".norm2", dim, eps);
        b.mlp = Mlp::load(w, prefix + ".mlp", dim, hidden);
        if (layer_scale) b.ls2 = LayerScale::load(w, prefix + ".ls2", dim);
        return b;
    }

    // x (B*T, C), updated in place
    void forward(const Context& ctx, float* x, std::int64_t B, std::int64_t T) const {
        const std::int64_t rows = B * T, C = norm1.dim;
        const auto scope = ctx.arena->scope();
        float* h = ctx.arena->alloc<float>(rows * C);
        norm1.forward(ctx, x, rows, h);
        attn.forward(ctx, h, B, T, x, ls1.residual());
        norm2.forward(ctx, x, rows, h);
        mlp.forward(ctx, h, rows, x, ls2.residual());
    }
};

}  // namespace fovea

#pragma once
// timm's pre-norm transformer block (vision_transformer.Block, beit.Block), composed by
// configuration rather than subclassed per family:
//   x = x + ls1(attn(norm1(x)));  x = x + ls2(mlp(norm2(x)))
// The attention's options (qkv bias, relative position bias), the MLP kind (GELU, SwiGLU) and
// LayerScale (and its checkpoint keys) come from BlockOptions. Both residual adds (and LayerScale)
// happen in the epilogue of the branch's last GEMM.
#include <string>

#include "fovea/layers/attention.hpp"
#include "fovea/layers/layer_norm.hpp"
#include "fovea/layers/layer_scale.hpp"
#include "fovea/layers/mlp.hpp"

namespace fovea {

struct BlockOptions {
    std::int64_t dim = 0, num_heads = 1, hidden = 0;  // hidden: timm's hidden_features of the MLP
    float eps = 1e-6f;
    Attention::Options attn;
    MlpKind mlp = MlpKind::Gelu;
    Activation act = Activation::Gelu;  // the Gelu MLP's activation (timm's act_layer)
    bool layer_scale = false;
    float mlp_norm_eps = 0.0f;  // > 0: the MLP's inner norm (EVA-02's scale_mlp)
    std::string ls1 = "ls1.gamma", ls2 = "ls2.gamma";  // LayerScale keys under the block (BEiT: gamma_1, gamma_2)
};

struct Block {
    LayerNorm norm1, norm2;
    Attention attn;
    Mlp mlp;
    LayerScale ls1, ls2;

    static Block load(WeightBinder& w, const std::string& prefix, const BlockOptions& o) {
        Block b;
        b.norm1 = LayerNorm::load(w, prefix + ".norm1", o.dim, o.eps);
        b.attn = Attention::load(w, prefix + ".attn", o.dim, o.num_heads, o.attn);
        if (o.layer_scale) b.ls1 = LayerScale::load(w, prefix + "." + o.ls1, o.dim);
        b.norm2 = LayerNorm::load(w, prefix + ".norm2", o.dim, o.eps);
        b.mlp = Mlp::load(w, prefix + ".mlp", o.dim, o.hidden, o.mlp, o.act, o.mlp_norm_eps);
        if (o.layer_scale) b.ls2 = LayerScale::load(w, prefix + "." + o.ls2, o.dim);
        return b;
    }

    // x [B, T, C], updated in place. probs (optional): the attention's [B, heads, T, T]; rope
    // (optional): the rotary embedding of this input's grid.
    void forward(const Context& ctx, TensorView<float, 3> x, float* probs = nullptr,
                 const RotaryEmbedding::Table* rope = nullptr) const {
        const std::int64_t B = x.shape(0), T = x.shape(1), C = norm1.dim;
        const auto scope = ctx.arena->scope();
        const TensorView<float, 3> h(ctx.arena->alloc<float>(B * T * C), {B, T, C});
        const auto rows = x.reshape<2>({B * T, C}), hrows = h.reshape<2>({B * T, C});
        norm1.forward(ctx, rows, hrows);
        attn.forward(ctx, h, x, ls1.residual(), probs, rope);
        norm2.forward(ctx, rows, hrows);
        mlp.forward(ctx, hrows, rows, ls2.residual());
    }
};

}  // namespace fovea

#pragma once
// timm swin_transformer.PatchMerging: pad odd sizes with zeros, gather each 2x2 neighbourhood
// as channels in timm's order (x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]),
// LayerNorm(4C), then reduction Linear(4C -> out, no bias). Swin V2's (swin_transformer_v2.PatchMerging)
// reduces first and normalises the output: LayerNorm(out) after the reduction.
#include <string>

#include "fovea/layers/layer_norm.hpp"
#include "fovea/layers/linear.hpp"

namespace fovea {

struct PatchMerging {
    LayerNorm norm;
    Linear reduction;
    std::int64_t dim = 0;
    bool norm_after = false;  // Swin V2

    static PatchMerging load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t out_dim,
                             float eps, bool norm_after = false) {
        return {LayerNorm::load(w, prefix + ".norm", norm_after ? out_dim : 4 * dim, eps),
                Linear::load(w, prefix + ".reduction", 4 * dim, out_dim, false), dim, norm_after};
    }

    // x (B, H, W, C) -> y (B, ceil(H/2), ceil(W/2), out)
    void forward(const Context& ctx, TensorView<const float, 4> x, TensorView<float, 4> y) const {
        const std::int64_t B = x.shape(0), H = x.shape(1), W = x.shape(2), rows = B * ((H + 1) / 2) * ((W + 1) / 2);
        detail::check_shape("PatchMerging", "x", x.shape(), -1, -1, -1, dim);
        detail::check_shape("PatchMerging", "y", y.shape(), B, (H + 1) / 2, (W + 1) / 2, reduction.out);
        const auto scope = ctx.arena->scope();
        const TensorView<float, 2> g(ctx.arena->alloc<float>(rows * 4 * dim), {rows, 4 * dim});
        gather(ctx, x.data(), B, H, W, dim, g.data());
        const auto out = y.reshape<2>({rows, reduction.out});
        if (norm_after) {
            reduction.forward(ctx, g, out);
            norm.forward(ctx, out, out);
            return;
        }
        norm.forward(ctx, g, g);
        reduction.forward(ctx, g, out);
    }

    // (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 4C), channel block k = dw*2 + dh, zero padded
    static void gather(const Context& ctx, const float* x, std::int64_t B, std::int64_t H, std::int64_t W, std::int64_t C,
                       float* g) {
        const std::int64_t Ho = (H + 1) / 2, Wo = (W + 1) / 2;
        parallel_for(ctx, B * Ho * Wo, 64, ctx.threads, [&](std::int64_t r0, std::int64_t r1, Context&) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const std::int64_t b = r / (Ho * Wo), i = r / Wo % Ho, j = r % Wo;
                for (std::int64_t k = 0; k < 4; ++k) {
                    const std::int64_t yy = 2 * i + k % 2, xx = 2 * j + k / 2;
                    float* d = g + r * 4 * C + k * C;
                    if (yy < H && xx < W) {
                        const float* s = x + ((b * H + yy) * W + xx) * C;
                        std::copy(s, s + C, d);
                    } else {
                        std::fill(d, d + C, 0.0f);
                    }
                }
            }
        });
    }
};

}  // namespace fovea

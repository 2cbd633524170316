#pragma once
// timm PatchEmbed: Conv2d(k = s = patch) computed as im2col + GEMM, optional norm.
// Output is (B, gh*gw, E) in row-major grid order, as timm's flatten(2).transpose(1, 2).
#include <optional>
#include <string>

#include "fovea/core/gemm.hpp"
#include "fovea/layers/layer_norm.hpp"

namespace fovea {

struct PatchEmbed {
    detail::PackedMatrix weight;      // [E, in_chans, p, p] read as [E, K], packed
    TensorView<const float, 1> bias;  // [E] or empty
    std::optional<LayerNorm> norm;
    std::int64_t in_chans = 3, embed_dim = 0, patch = 16;

    static PatchEmbed load(WeightBinder& w, const std::string& prefix, std::int64_t in_chans, std::int64_t embed_dim,
                           std::int64_t patch, bool bias, std::optional<float> norm_eps = std::nullopt) {
        PatchEmbed p;
        p.in_chans = in_chans;
        p.embed_dim = embed_dim;
        p.patch = patch;
        const auto wt = w.borrow<4>(prefix + ".proj.weight", {embed_dim, in_chans, patch, patch});
        p.weight = detail::PackedMatrix::from_nk(wt.data(), embed_dim, in_chans * patch * patch, in_chans * patch * patch);
        w.release(wt);
        if (bias) p.bias = w.get<1>(prefix + ".proj.bias", {embed_dim});
        if (norm_eps) p.norm = LayerNorm::load(w, prefix + ".norm", embed_dim, *norm_eps);
        return p;
    }

    // The convolution's weight unpacked, [E, in_chans, p, p].
    Tensor<float, 4> filters() const {
        Tensor<float, 4> out({embed_dim, in_chans, patch, patch});
        const std::int64_t K = in_chans * patch * patch;
        for (std::int64_t e = 0; e < embed_dim; ++e)
            for (std::int64_t j = 0; j < K; ++j) out.data()[e * K + j] = weight.at(e, j);
        return out;
    }

    // x (B, in_chans, H, W), H and W multiples of patch -> y (B, gh*gw, E)
    void forward(const Context& ctx, TensorView<const float, 4> x, TensorView<float, 3> y) const {
        const std::int64_t B = x.shape(0), gh = x.shape(2) / patch, gw = x.shape(3) / patch;
        const std::int64_t K = in_chans * patch * patch, L = gh * gw;
        detail::check_shape("PatchEmbed", "x", x.shape(), -1, in_chans);
        detail::check_shape("PatchEmbed", "y", y.shape(), B, L, embed_dim);
        const auto scope = ctx.arena->scope();
        float* cols = ctx.arena->alloc<float>(B * L * K);  // (B*L, C*p*p), columns in (c, ky, kx) order like the weight
        parallel_for(ctx, B * L, 16, ctx.threads, [&](std::int64_t r0, std::int64_t r1, Context&) {
            for (std::int64_t bl = r0; bl < r1; ++bl) {
                const std::int64_t b = bl / L, gy = (bl % L) / gw, gx = bl % gw;
                float* row = cols + bl * K;
                for (std::int64_t c = 0; c < in_chans; ++c)
                    for (std::int64_t ky = 0; ky < patch; ++ky)
                        for (std::int64_t kx = 0; kx < patch; ++kx) *row++ = x(b, c, gy * patch + ky, gx * patch + kx);
            }
        });
        detail::Epilogue ep;
        ep.bias = bias.empty() ? nullptr : bias.data();
        const auto rows = y.reshape<2>({B * L, embed_dim});
        detail::gemm(ctx, B * L, cols, K, weight, rows.data(), embed_dim, ep);
        if (norm) norm->forward(ctx, rows, rows);
    }
};

}  // namespace fovea

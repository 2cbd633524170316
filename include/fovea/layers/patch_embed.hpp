#pragma once
// timm PatchEmbed: Conv2d(k = s = patch) computed as im2col + GEMM, optional norm.
// Output is (B, gh*gw, E) in row-major grid order, as timm's flatten(2).transpose(1, 2).
#include <optional>
#include <string>

#include "fovea/core/workspace.hpp"
#include "fovea/layers/layer_norm.hpp"

namespace fovea {

struct PatchEmbed {
    TensorView<const float, 4> weight;  // [E, in_chans, p, p]
    TensorView<const float, 1> bias;    // [E] or empty
    std::optional<LayerNorm> norm;
    std::int64_t in_chans = 3, embed_dim = 0, patch = 16;

    static PatchEmbed load(WeightBinder& w, const std::string& prefix, std::int64_t in_chans, std::int64_t embed_dim,
                           std::int64_t patch, bool bias, std::optional<float> norm_eps = std::nullopt) {
        PatchEmbed p;
        p.in_chans = in_chans;
        p.embed_dim = embed_dim;
        p.patch = patch;
        p.weight = w.get<4>(prefix + ".proj.weight", {embed_dim, in_chans, patch, patch});
        if (bias) p.bias = w.get<1>(prefix + ".proj.bias", {embed_dim});
        if (norm_eps) p.norm = LayerNorm::load(w, prefix + ".norm", embed_dim, *norm_eps);
        return p;
    }

    // x (B, in_chans, H, W), H and W multiples of patch -> y (B, gh*gw, E)
    void forward(TensorView<const float, 4> x, float* y, Workspace& ws) const {
        const std::int64_t B = x.shape(0), gh = x.shape(2) / patch, gw = x.shape(3) / patch;
        const std::int64_t K = in_chans * patch * patch, L = gh * gw;
        float* cols = ws.get(Slot::Cols, B * L * K);  // (B*L, C*p*p), columns in (c, ky, kx) order like the weight
#pragma omp parallel for schedule(static)
        for (std::int64_t bl = 0; bl < B * L; ++bl) {
            const std::int64_t b = bl / L, gy = (bl % L) / gw, gx = bl % gw;
            float* row = cols + bl * K;
            for (std::int64_t c = 0; c < in_chans; ++c)
                for (std::int64_t ky = 0; ky < patch; ++ky)
                    for (std::int64_t kx = 0; kx < patch; ++kx)
                        *row++ = x(b, c, gy * patch + ky, gx * patch + kx);
        }
        detail::gemm_nt(B * L, embed_dim, K, cols, K, weight.data(), K, y, embed_dim);
        if (!bias.empty()) detail::add_bias_rows(y, B * L, embed_dim, bias.data());
        if (norm) norm->forward(y, B * L, y);
    }
};

}  // namespace fovea

#pragma once
// nn.LayerNorm over the last dimension.
#include <string>

#include "fovea/core/ops.hpp"
#include "fovea/io/safetensors.hpp"

namespace fovea {

struct LayerNorm {
    TensorView<const float, 1> weight, bias;  // [dim]
    std::int64_t dim = 0;
    float eps = 1e-5f;

    static LayerNorm load(WeightBinder& w, const std::string& prefix, std::int64_t dim, float eps) {
        return {w.get<1>(prefix + ".weight", {dim}), w.get<1>(prefix + ".bias", {dim}), dim, eps};
    }

    // x [rows, dim] -> y [rows, dim]; in place is fine.
    void forward(const Context& ctx, const float* x, std::int64_t rows, float* y) const {
        detail::layer_norm_rows(ctx, x, rows, dim, weight.data(), bias.data(), eps, y);
    }

    void forward_row(const float* x, float* y) const { detail::layer_norm_row(x, dim, weight.data(), bias.data(), eps, y); }
};

}  // namespace fovea

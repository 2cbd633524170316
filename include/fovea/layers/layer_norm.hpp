#pragma once
// nn.LayerNorm over the last dimension.
#include <string>

#include "fovea/core/ops.hpp"
#include "fovea/models/weight_binder.hpp"

namespace fovea {

struct LayerNorm {
    TensorView<const float, 1> weight, bias;  // [dim]
    std::int64_t dim = 0;
    float eps = 1e-5f;

    static LayerNorm load(WeightBinder& w, const std::string& prefix, std::int64_t dim, float eps) {
        return {w.get<1>(prefix + ".weight", {dim}), w.get<1>(prefix + ".bias", {dim}), dim, eps};
    }

    // x [rows, dim] -> y [rows, dim], contiguous; in place is fine.
    void forward(const Context& ctx, TensorView<const float, 2> x, TensorView<float, 2> y) const {
        detail::check_shape("LayerNorm", "x", x.shape(), -1, dim);
        detail::check_shape("LayerNorm", "y", y.shape(), x.shape(0), dim);
        if (!x.is_contiguous() || !y.is_contiguous()) detail::fail("LayerNorm: rows must be contiguous");
        const PhaseTimer timer(ctx, Phase::LayerNorm);
        detail::layer_norm_rows(ctx, x.data(), x.shape(0), dim, weight.data(), bias.data(), eps, y.data());
    }

    void forward_row(const float* x, float* y) const { detail::layer_norm_row(x, dim, weight.data(), bias.data(), eps, y); }
};

}  // namespace fovea

#pragma once
// nn.Linear: y = x W^T + b, weight [out, in] as stored by PyTorch.
#include <string>

#include "fovea/core/ops.hpp"
#include "fovea/io/safetensors.hpp"

namespace fovea {

struct Linear {
    TensorView<const float, 2> weight;  // [out, in]
    TensorView<const float, 1> bias;    // [out] or empty
    std::int64_t in = 0, out = 0;

    static Linear load(WeightBinder& w, const std::string& prefix, std::int64_t in, std::int64_t out,
                       bool bias = true) {
        Linear l;
        l.in = in;
        l.out = out;
        l.weight = w.get<2>(prefix + ".weight", {out, in});
        if (bias) l.bias = w.get<1>(prefix + ".bias", {out});
        return l;
    }

    // x [rows, in] -> y [rows, out]; y must not alias x.
    void forward(const float* x, std::int64_t rows, float* y) const {
        detail::gemm_nt(rows, out, in, x, in, weight.data(), in, y, out);
        if (!bias.empty()) detail::add_bias_rows(y, rows, out, bias.data());
    }
};

}  // namespace fovea

#pragma once
// nn.Linear: y = x W^T + b, weight [out, in] as stored by PyTorch, packed once for the GEMM kernel.
#include <string>

#include "fovea/core/gemm.hpp"
#include "fovea/io/safetensors.hpp"

namespace fovea {

struct Linear {
    detail::PackedMatrix weight;      // W^T [in, out] in kernel panels
    TensorView<const float, 1> bias;  // [out] or empty
    std::int64_t in = 0, out = 0;

    static Linear load(WeightBinder& w, const std::string& prefix, std::int64_t in, std::int64_t out,
                       bool bias = true) {
        Linear l;
        l.in = in;
        l.out = out;
        const auto wt = w.borrow<2>(prefix + ".weight", {out, in});
        l.weight = detail::PackedMatrix::from_nk(wt.data(), out, in, in);
        w.release(wt);
        if (bias) l.bias = w.get<1>(prefix + ".bias", {out});
        return l;
    }

    // x [rows, in] -> y [rows, out], through ep (GELU, LayerScale, residual add) as it is written.
    // y must not alias x.
    void forward(const Context& ctx, const float* x, std::int64_t rows, float* y, detail::Epilogue ep = {}) const {
        ep.bias = bias.empty() ? nullptr : bias.data();
        detail::gemm(ctx, rows, x, in, weight, y, out, ep);
    }
};

}  // namespace fovea

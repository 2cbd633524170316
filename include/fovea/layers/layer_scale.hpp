#pragma once
// timm LayerScale: per-channel gamma (present when the model has init_values).
#include <string>

#include "fovea/io/safetensors.hpp"

namespace fovea {

struct LayerScale {
    TensorView<const float, 1> gamma;  // [dim] or empty (identity)

    static LayerScale load(WeightBinder& w, const std::string& prefix, std::int64_t dim) {
        return {w.get<1>(prefix + ".gamma", {dim})};
    }

    void forward(float* x, std::int64_t rows) const {
        if (gamma.empty()) return;
        const std::int64_t C = gamma.shape(0);
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < C; ++c) x[r * C + c] *= gamma.data()[c];
    }
};

}  // namespace fovea

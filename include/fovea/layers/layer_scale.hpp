#pragma once
// timm LayerScale: per-channel gamma (present when the model has init_values), applied in the
// epilogue of the GEMM that ends its branch. Its checkpoint key is configuration: timm's
// "ls1.gamma", BEiT's "gamma_1".
#include <string>

#include "fovea/core/epilogue.hpp"
#include "fovea/models/weight_binder.hpp"

namespace fovea {

struct LayerScale {
    TensorView<const float, 1> gamma;  // [dim] or empty (identity)

    static LayerScale load(WeightBinder& w, const std::string& key, std::int64_t dim) { return {w.get<1>(key, {dim})}; }

    // Epilogue of a residual branch: x += gamma * branch
    detail::Epilogue residual() const {
        detail::Epilogue e;
        e.scale = gamma.empty() ? nullptr : gamma.data();
        e.accumulate = true;
        return e;
    }
};

}  // namespace fovea

#pragma once
// What happens to a tile of alpha * A * B on its way out of the GEMM, in this order:
//   v = alpha * acc (+ bias[j]) (+ add[i, j]) -> GELU -> (* scale[j]) -> C = v, or C += v
#include <cstdint>

namespace fovea::detail {

struct Epilogue {
    float alpha = 1.0f;
    const float* bias = nullptr;   // [N], added to every row
    const float* add = nullptr;    // [M, N] at leading dimension add_ld, added elementwise
    std::int64_t add_ld = 0;
    bool gelu = false;             // exact GELU
    const float* scale = nullptr;  // [N], multiplied in (LayerScale)
    bool accumulate = false;       // C += result (a residual connection) instead of C = result
};

}  // namespace fovea::detail

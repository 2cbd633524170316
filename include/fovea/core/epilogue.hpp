#pragma once
// What happens to a tile of alpha * A * B on its way out of the GEMM, in this order:
//   v = alpha * acc (+ bias[j]) (+ add[i, j]) -> activation -> (* scale[j]) -> C = v, or C += v
#include <cstdint>

namespace fovea {

// The MLP activations timm's act_layer names: gelu (exact, erf), gelu_tanh (the tanh
// approximation: SigLIP 2) and quick_gelu (x sigmoid(1.702 x): OpenAI's CLIP).
enum class Activation : std::uint8_t { None, Gelu, GeluTanh, QuickGelu };

}  // namespace fovea

namespace fovea::detail {

struct Epilogue {
    float alpha = 1.0f;
    const float* bias = nullptr;   // [N], added to every row
    const float* add = nullptr;    // [M, N] at leading dimension add_ld, added elementwise
    std::int64_t add_ld = 0;
    Activation act = Activation::None;
    const float* scale = nullptr;  // [N], multiplied in (LayerScale)
    bool accumulate = false;       // C += result (a residual connection) instead of C = result

    // Nothing but the store (or, with accumulate, the add into C): a kernel may sum the tile in C.
    bool stores_only() const { return alpha == 1.0f && !bias && !add && act == Activation::None && !scale; }
};

}  // namespace fovea::detail

#pragma once
// The arithmetic of the matrix products: float32 (the default: timm's numbers), bfloat16 weights
// and activations with float32 sums, or int8 weights (per output channel) and activations (per
// token) with int32 sums.
#include <string>

#include "fovea/core/error.hpp"

namespace fovea {

enum class Precision { f32, bf16, int8 };

inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : p == Precision::int8 ? "int8" : "f32"; }

inline Precision parse_precision(const std::string& s) {
    if (s == "f32" || s == "fp32" || s == "float32") return Precision::f32;
    if (s == "bf16" || s == "bfloat16") return Precision::bf16;
    if (s == "int8") return Precision::int8;
    detail::fail("precision '", s.substr(0, 50), "' is not supported (f32, bf16, int8)");
}

}  // namespace fovea

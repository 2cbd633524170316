#pragma once
// What a caller may choose when loading a model: fovea::load_model(path, options).
#include <cstdint>
#include <optional>
#include <string>

#include "fovea/core/error.hpp"
#include "fovea/core/precision.hpp"

namespace fovea {

struct LoadOptions {
    // Classes of the head: unset, as the checkpoint (or config.json) says; 0, no head: forward
    // returns the pooled features [N, C] (timm's num_classes=0); else must match the checkpoint.
    std::optional<std::int64_t> num_classes;
    Precision precision = Precision::f32;
    // Parts this model's parallel loops are cut into: 0, the pool's size (fovea::set_num_threads).
    int threads = 0;
    // NaN or Inf in the weights makes every output NaN; without this they give a warning
    // (Model::warnings()).
    bool allow_non_finite = false;
};

}  // namespace fovea

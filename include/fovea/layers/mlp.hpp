#pragma once
// timm Mlp: fc1 -> exact GELU -> fc2.
#include <string>

#include "fovea/core/workspace.hpp"
#include "fovea/layers/linear.hpp"

namespace fovea {

struct Mlp {
    Linear fc1, fc2;

    static Mlp load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t hidden) {
        return {Linear::load(w, prefix + ".fc1", dim, hidden), Linear::load(w, prefix + ".fc2", hidden, dim)};
    }

    // x [rows, dim] -> y [rows, dim]
    void forward(const float* x, std::int64_t rows, float* y, Workspace& ws) const {
        float* h = ws.get(Slot::Hidden, rows * fc1.out);
        fc1.forward(x, rows, h);
        detail::gelu_inplace(h, rows * fc1.out);
        fc2.forward(h, rows, y);
    }
};

}  // namespace fovea

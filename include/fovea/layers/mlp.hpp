#pragma once
// timm Mlp: fc1 -> exact GELU -> fc2, GELU applied inside fc1's GEMM.
#include <string>

#include "fovea/core/workspace.hpp"
#include "fovea/layers/linear.hpp"

namespace fovea {

struct Mlp {
    Linear fc1, fc2;

    static Mlp load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t hidden) {
        return {Linear::load(w, prefix + ".fc1", dim, hidden), Linear::load(w, prefix + ".fc2", hidden, dim)};
    }

    // x [rows, dim] -> y [rows, dim]; out is fc2's epilogue (a residual block adds into y).
    void forward(const float* x, std::int64_t rows, float* y, Workspace& ws, detail::Epilogue out = {},
                 bool parallel = true) const {
        float* h = ws.get(Slot::Hidden, rows * fc1.out);  // (rows, hidden)
        detail::Epilogue act;
        act.gelu = true;
        fc1.forward(x, rows, h, act, parallel);
        fc2.forward(h, rows, y, out, parallel);
    }
};

}  // namespace fovea

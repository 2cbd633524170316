#pragma once
// timm Mlp: fc1 -> exact GELU -> fc2, GELU applied inside fc1's GEMM.
#include <string>

#include "fovea/layers/linear.hpp"

namespace fovea {

struct Mlp {
    Linear fc1, fc2;

    static Mlp load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t hidden) {
        return {Linear::load(w, prefix + ".fc1", dim, hidden), Linear::load(w, prefix + ".fc2", hidden, dim)};
    }

    // x [rows, dim] -> y [rows, dim]; out is fc2's epilogue (a residual block adds into y).
    void forward(const Context& ctx, const float* x, std::int64_t rows, float* y, detail::Epilogue out = {}) const {
        const auto scope = ctx.arena->scope();
        float* h = ctx.arena->alloc<float>(rows * fc1.out);  // (rows, hidden)
        detail::Epilogue act;
        act.gelu = true;
        fc1.forward(ctx, x, rows, h, act);
        fc2.forward(ctx, h, rows, y, out);
    }
};

}  // namespace fovea

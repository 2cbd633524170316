#pragma once
// timm Attention: fused qkv projection, softmax(q k^T * head_dim^-0.5) v per head, proj.
#include <cmath>
#include <string>

#include "fovea/core/workspace.hpp"
#include "fovea/layers/linear.hpp"

namespace fovea {

struct Attention {
    Linear qkv, proj;
    std::int64_t num_heads = 1, head_dim = 0;
    float scale = 1.0f;

    static Attention load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                          bool qkv_bias) {
        if (num_heads <= 0 || dim % num_heads != 0)
            detail::fail("embed dim ", dim, " is not divisible by num_heads ", num_heads);
        Attention a;
        a.qkv = Linear::load(w, prefix + ".qkv", dim, 3 * dim, qkv_bias);
        a.proj = Linear::load(w, prefix + ".proj", dim, dim);
        a.num_heads = num_heads;
        a.head_dim = dim / num_heads;
        a.scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
        return a;
    }

    // x [B*T, C] -> y [B*T, C]
    void forward(const float* x, std::int64_t B, std::int64_t T, float* y, Workspace& ws) const {
        const std::int64_t C = qkv.in, H = num_heads, D = head_dim;
        float* qkv_buf = ws.get(Slot::Qkv, B * T * 3 * C);  // (B*T, 3*C) -> q | k | v, heads inside each
        float* out = ws.get(Slot::AttnOut, B * T * C);
        float* scores = ws.get(Slot::Scores, B * H * T * T);
        qkv.forward(x, B * T, qkv_buf);
#pragma omp parallel for schedule(static)
        for (std::int64_t bh = 0; bh < B * H; ++bh) {
            const std::int64_t b = bh / H, h = bh % H;
            const float* q = qkv_buf + b * T * 3 * C + h * D;
            float* s = scores + bh * T * T;
            detail::gemm_nt(T, T, D, q, 3 * C, q + C, 3 * C, s, T);  // (T, D) x (T, D)^T -> (T, T)
            for (std::int64_t i = 0; i < T * T; ++i) s[i] *= scale;
            detail::softmax_rows(s, T, T, T);
            detail::gemm_nn(T, D, T, s, T, q + 2 * C, 3 * C, out + b * T * C + h * D, C);  // (T, T) x (T, D)
        }
        proj.forward(out, B * T, y);
    }
};

}  // namespace fovea

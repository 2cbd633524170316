#pragma once
// Row-wise kernels around the GEMMs (LayerNorm, softmax) and the fused attention head.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fovea/core/context.hpp"
#include "fovea/core/gemm.hpp"
#include "fovea/core/kernels.hpp"

namespace fovea::detail {

inline void layer_norm_row(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y) {
    kernels().layer_norm_row(x, C, w, b, eps, y);
}

// Row-wise LayerNorm over C channels; y may alias x.
inline void layer_norm_rows(const Context& ctx, const float* x, std::int64_t rows, std::int64_t C, const float* w,
                            const float* b, float eps, float* y) {
    const auto row = kernels().layer_norm_row;
    const std::int64_t parts = rows * C >= 32768 ? ctx.threads : 1;
    parallel_for(ctx, rows, 8, parts, [&](std::int64_t r0, std::int64_t r1, Context&) {
        for (std::int64_t r = r0; r < r1; ++r) row(x + r * C, C, w, b, eps, y + r * C);
    });
}

// Softmax of one row in place. labels (optional): the row's token has region labels[i]; keys
// from another region get -100 first, as the shifted-window mask of Swin.
inline void softmax_row(float* x, std::int64_t n, const int* labels = nullptr, std::int64_t i = 0) {
    if (labels)
        for (std::int64_t j = 0; j < n; ++j)
            if (labels[j] != labels[i]) x[j] += -100.0f;
    kernels().softmax_row(x, n);
}

// One head of attention without leaving the core's caches:
//   out[T, D] = softmax(alpha q k^T + add (+ shift mask)) v
// q, k, v: (T, D) rows at stride ld (slices of the qkv projection); add: (T, T) or null; labels:
// (T) region labels for the shift mask or null. The (T, T) scores live in the arena only, never
// as [heads, T, T] in memory, unless probs asks for a copy of the softmax output. Runs on the
// calling thread (ctx.threads is not used).
inline void attention_head(const Context& ctx, const float* q, const float* k, const float* v, std::int64_t ld,
                           std::int64_t T, std::int64_t D, float alpha, const float* add, const int* labels, float* out,
                           std::int64_t ldo, float* probs = nullptr) {
    const KernelConfig& cfg = kernels();
    const auto scope = ctx.arena->scope();
    float* kp = ctx.arena->alloc<float>(PackedMatrix::packed_size(D, T, cfg.nr));  // K^T [D, T] packed
    float* vp = ctx.arena->alloc<float>(PackedMatrix::packed_size(T, D, cfg.nr));  // V [T, D] packed
    float* s = ctx.arena->alloc<float>(T * T);                                     // scores (T, T)
    PackedMatrix::pack_nk(k, T, D, ld, cfg.isa, cfg.nr, kp);
    PackedMatrix::pack_kn(v, T, D, ld, cfg.isa, cfg.nr, vp);
    Context one = ctx;
    one.threads = 1;
    Epilogue e;
    e.alpha = alpha;
    e.add = add;
    e.add_ld = T;
    gemm(one, T, q, ld, PackedMatrix::view(kp, D, T, cfg.isa), s, T, e);
    for (std::int64_t i = 0; i < T; ++i) softmax_row(s + i * T, T, labels, i);
    if (probs) std::copy(s, s + T * T, probs);
    gemm(one, T, s, T, PackedMatrix::view(vp, T, D, cfg.isa), out, ldo, {});
}

}  // namespace fovea::detail

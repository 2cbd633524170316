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

// torch's F.normalize over rows: each of n rows (D wide, stride ld) divided by max(|row|, 1e-12),
// the norm summed in double.
template <typename T>
void l2_normalize_rows(T* x, std::int64_t n, std::int64_t D, std::int64_t ld) {
    for (std::int64_t r = 0; r < n; ++r) {
        T* v = x + r * ld;
        double ss = 0;
        for (std::int64_t d = 0; d < D; ++d) ss += static_cast<double>(v[d]) * static_cast<double>(v[d]);
        const auto inv = static_cast<T>(1.0 / std::max(std::sqrt(ss), 1e-12));
        for (std::int64_t d = 0; d < D; ++d) v[d] *= inv;
    }
}

// Softmax of one row in place. labels (optional): the row's token has region labels[i]; keys
// from another region get -100 first, as the shifted-window mask of Swin.
inline void softmax_row(float* x, std::int64_t n, const int* labels = nullptr, std::int64_t i = 0) {
    if (labels)
        for (std::int64_t j = 0; j < n; ++j)
            if (labels[j] != labels[i]) x[j] += -100.0f;
    kernels().softmax_row(x, n);
}

// One head's keys and values, packed once for the GEMMs of all its query blocks: K^T [D, Tk] and
// V [Tk, D] in the kernel's panel layout, at `kp` and `vp` (sizes from packed_kv_floats).
inline std::int64_t packed_k_floats(std::int64_t Tk, std::int64_t D) { return PackedMatrix::packed_size(D, Tk, kernels().nr); }
inline std::int64_t packed_v_floats(std::int64_t Tk, std::int64_t D) { return PackedMatrix::packed_size(Tk, D, kernels().nr); }
inline void pack_kv(const float* k, const float* v, std::int64_t ldkv, std::int64_t Tk, std::int64_t D, float* kp, float* vp) {
    const KernelConfig& cfg = kernels();
    PackedMatrix::pack_nk(k, Tk, D, ldkv, cfg.nr, kp);
    PackedMatrix::pack_kn(v, Tk, D, ldkv, cfg.nr, vp);
}

// Tq queries of one head over its packed keys and values, without leaving the core's caches:
//   out[Tq, D] = softmax(alpha q k^T + add (+ shift mask)) v
// q: (Tq, D) rows at stride ldq; add: (Tq, Tk) at stride Tk or null; labels: (Tk) region labels
// for the shift mask, the queries' own at labels + q0 (Swin: Tq = Tk, q0 = 0), or null. Only the
// (Tq, Tk) scores are scratch, unless probs asks for a copy of the softmax output (stride Tk).
// Each row's arithmetic is the same whatever Tq is, so splitting the queries does not change a bit.
// Runs on the calling thread (ctx.threads is not used).
inline void attention_packed(const Context& ctx, const float* q, std::int64_t ldq, std::int64_t Tq, const float* kp,
                             const float* vp, std::int64_t Tk, std::int64_t D, float alpha, const float* add, const int* labels,
                             std::int64_t q0, float* out, std::int64_t ldo, float* probs = nullptr) {
    const KernelConfig& cfg = kernels();
    const auto scope = ctx.arena->scope();
    float* s = ctx.arena->alloc<float>(Tq * Tk);  // scores (Tq, Tk)
    Context one = ctx;
    one.threads = 1;
    Epilogue e;
    e.alpha = alpha;
    e.add = add;
    e.add_ld = Tk;
    gemm(one, Tq, q, ldq, PackedMatrix::view(kp, D, Tk, cfg.isa), s, Tk, e);
    for (std::int64_t i = 0; i < Tq; ++i) softmax_row(s + i * Tk, Tk, labels, q0 + i);
    if (probs) std::copy(s, s + Tq * Tk, probs);
    gemm(one, Tq, s, Tk, PackedMatrix::view(vp, Tk, D, cfg.isa), out, ldo, {});
}

// attention_packed for q, k, v as they come (slices of the qkv or kv projection, k and v rows at
// stride ldkv): packs them in the arena first.
inline void attention_rows(const Context& ctx, const float* q, std::int64_t ldq, std::int64_t Tq, const float* k, const float* v,
                           std::int64_t ldkv, std::int64_t Tk, std::int64_t D, float alpha, const float* add, const int* labels,
                           float* out, std::int64_t ldo, float* probs = nullptr) {
    const auto scope = ctx.arena->scope();
    float* kp = ctx.arena->alloc<float>(packed_k_floats(Tk, D));
    float* vp = ctx.arena->alloc<float>(packed_v_floats(Tk, D));
    pack_kv(k, v, ldkv, Tk, D, kp, vp);
    attention_packed(ctx, q, ldq, Tq, kp, vp, Tk, D, alpha, add, labels, 0, out, ldo, probs);
}

// Self-attention of one head: T queries over the same T tokens, q, k, v at one stride.
inline void attention_head(const Context& ctx, const float* q, const float* k, const float* v, std::int64_t ld,
                           std::int64_t T, std::int64_t D, float alpha, const float* add, const int* labels, float* out,
                           std::int64_t ldo, float* probs = nullptr) {
    attention_rows(ctx, q, ld, T, k, v, ld, T, D, alpha, add, labels, out, ldo, probs);
}

}  // namespace fovea::detail

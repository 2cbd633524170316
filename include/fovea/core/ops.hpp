#pragma once
// Row-wise kernels around the GEMMs: LayerNorm and softmax, vectorised where the CPU allows.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fovea/core/gemm.hpp"
#include "fovea/core/simd.hpp"
#include "fovea/core/threads.hpp"

namespace fovea::detail {

// One row of LayerNorm: mean, then the mean square deviation (two passes: no cancellation).
inline void layer_norm_row_generic(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y) {
    float mean = 0;
    for (std::int64_t c = 0; c < C; ++c) mean += x[c];
    mean /= static_cast<float>(C);
    float var = 0;
    for (std::int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(C) + eps);
    for (std::int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean) * inv * w[c] + b[c];
}

#if FOVEA_X86
FOVEA_AVX512 inline void layer_norm_row_avx512(const float* x, std::int64_t C, const float* w, const float* b, float eps,
                                               float* y) {
    auto mask = [C](std::int64_t c) {
        return C - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (C - c)) - 1);
    };
    __m512 s = _mm512_setzero_ps();
    for (std::int64_t c = 0; c < C; c += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(mask(c), x + c));
    const float mean = _mm512_reduce_add_ps(s) / static_cast<float>(C);
    const __m512 m = _mm512_set1_ps(mean);
    __m512 v = _mm512_setzero_ps();
    for (std::int64_t c = 0; c < C; c += 16) {
        const __m512 d = _mm512_maskz_sub_ps(mask(c), _mm512_maskz_loadu_ps(mask(c), x + c), m);
        v = _mm512_fmadd_ps(d, d, v);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(v) / static_cast<float>(C) + eps));
    for (std::int64_t c = 0; c < C; c += 16) {
        const __mmask16 k = mask(c);
        const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), m), inv);
        _mm512_mask_storeu_ps(y + c, k, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, w + c), _mm512_maskz_loadu_ps(k, b + c)));
    }
}
#endif

inline void layer_norm_row(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y) {
#if FOVEA_X86
    if (cpu_isa() == Isa::Avx512) return layer_norm_row_avx512(x, C, w, b, eps, y);
#endif
    layer_norm_row_generic(x, C, w, b, eps, y);
}

// Row-wise LayerNorm over C channels; y may alias x.
inline void layer_norm_rows(const float* x, std::int64_t rows, std::int64_t C, const float* w, const float* b,
                            float eps, float* y, bool parallel = true) {
    const std::int64_t parts = parallel && rows * C >= 32768 ? ThreadPool::instance().size() : 1;
    parallel_ranges(rows, 8, parts, [&](std::int64_t r0, std::int64_t r1, std::int64_t) {
        for (std::int64_t r = r0; r < r1; ++r) layer_norm_row(x + r * C, C, w, b, eps, y + r * C);
    });
}

#if FOVEA_X86
FOVEA_AVX512 inline void softmax_row_avx512(float* x, std::int64_t n) {
    auto mask = [n](std::int64_t c) {
        return n - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - c)) - 1);
    };
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (std::int64_t c = 0; c < n; c += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, mask(c), x + c));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 s = _mm512_setzero_ps();
    for (std::int64_t c = 0; c < n; c += 16) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask(c), x + c), m));
        s = _mm512_add_ps(s, _mm512_maskz_mov_ps(mask(c), e));
        _mm512_mask_storeu_ps(x + c, mask(c), e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(s));
    for (std::int64_t c = 0; c < n; c += 16)
        _mm512_mask_storeu_ps(x + c, mask(c), _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(c), x + c), inv));
}
#endif

// Softmax of one row in place. labels (optional): the row's token has region labels[i]; keys
// from another region get -100 first, as the shifted-window mask of Swin.
inline void softmax_row(float* x, std::int64_t n, const int* labels = nullptr, std::int64_t i = 0) {
    if (labels)
        for (std::int64_t j = 0; j < n; ++j)
            if (labels[j] != labels[i]) x[j] += -100.0f;
#if FOVEA_X86
    if (cpu_isa() == Isa::Avx512) return softmax_row_avx512(x, n);
#endif
    float m = x[0];
    for (std::int64_t c = 1; c < n; ++c) m = std::max(m, x[c]);
    float sum = 0;
    for (std::int64_t c = 0; c < n; ++c) sum += (x[c] = std::exp(x[c] - m));
    const float inv = 1.0f / sum;
    for (std::int64_t c = 0; c < n; ++c) x[c] *= inv;
}

// One head of attention without leaving the core's caches:
//   out[T, D] = softmax(alpha q k^T + add (+ shift mask)) v
// q, k, v: (T, D) rows at stride ld (slices of the qkv projection); add: (T, T) or null; labels:
// (T) region labels for the shift mask or null. The (T, T) scores live in the calling thread's
// scratch only, never as [heads, T, T] in memory.
inline void attention_head(const float* q, const float* k, const float* v, std::int64_t ld, std::int64_t T,
                           std::int64_t D, float alpha, const float* add, const int* labels, float* out,
                           std::int64_t ldo) {
    const Isa isa = cpu_isa();
    const int nr = panel_width(isa);
    auto round16 = [](std::int64_t n) { return (n + 15) / 16 * 16; };
    const std::int64_t nk = round16(PackedMatrix::packed_size(D, T, nr)), nv = round16(PackedMatrix::packed_size(T, D, nr));
    float* kp = thread_scratch<1>(nk + nv + T * T);  // K^T [D, T] packed
    float* vp = kp + nk;                             // V [T, D] packed
    float* s = vp + nv;                              // scores (T, T)
    PackedMatrix::pack_nk(k, T, D, ld, isa, nr, kp);
    PackedMatrix::pack_kn(v, T, D, ld, isa, nr, vp);
    Epilogue e;
    e.alpha = alpha;
    e.add = add;
    e.add_ld = T;
    gemm(T, q, ld, PackedMatrix::view(kp, D, T, isa), s, T, e, false);
    for (std::int64_t i = 0; i < T; ++i) softmax_row(s + i * T, T, labels, i);
    gemm(T, s, T, PackedMatrix::view(vp, T, D, isa), out, ldo, {}, false);
}

}  // namespace fovea::detail

#pragma once
// Vector code, written once. A small wrapper `V` per instruction set (AVX-512: 16 floats, AVX2 +
// FMA: 8) gives the operations the kernels need; vec_math.inl (exp, GELU, LayerNorm and softmax
// rows, the GEMM epilogue) and gemm_ukernel.inl (the f32 micro-kernel) are written over V and
// included once per instruction set, inside a region compiled for it: fovea::detail::avx512 and
// fovea::detail::avx2. No -march flag is needed; core/kernels.hpp picks the region at run time.
#include <cmath>
#include <cstdint>

#include "fovea/core/epilogue.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC reports -Wmaybe-uninitialized inside its own intrinsic headers (the _mm512_undefined_*
// idiom) once they are inlined here; those are false positives of the headers, not of fovea.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// ---- AVX2 + FMA: 8 floats ----------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
namespace fovea::detail::avx2 {

struct V {
    using R = __m256;
    using M = __m256i;  // lane mask: all ones where active
    static constexpr int W = 8;
    static R zero() { return _mm256_setzero_ps(); }
    static R set1(float x) { return _mm256_set1_ps(x); }
    static R broadcast(const float* p) { return _mm256_broadcast_ss(p); }
    static R load(const float* p) { return _mm256_load_ps(p); }
    static R loadu(const float* p) { return _mm256_loadu_ps(p); }
    static void storeu(float* p, R v) { _mm256_storeu_ps(p, v); }
    static M mask(std::int64_t n) {  // the first n lanes
        const int k = static_cast<int>(n < 0 ? 0 : n > W ? W : n);
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static R load_masked(const float* p, M m) { return _mm256_maskload_ps(p, m); }   // 0 in inactive lanes
    static R load_masked_or(const float* p, M m, R fill) { return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m)); }
    static R keep(R v, M m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }   // 0 in inactive lanes
    static void store_masked(float* p, M m, R v) { _mm256_maskstore_ps(p, m, v); }
    static R add(R a, R b) { return _mm256_add_ps(a, b); }
    static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
    static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
    static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }    // a b + c
    static R fnmadd(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b
    static R max(R a, R b) { return _mm256_max_ps(a, b); }
    static R min(R a, R b) { return _mm256_min_ps(a, b); }
    static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    static R round(R a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static R recip(R d) { return _mm256_div_ps(_mm256_set1_ps(1.0f), d); }
    // p * 2^n for integral n >= -126 (exp's range after its clamp)
    static R scale2n(R p, R n) {
        const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
        return _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(2.0f));
    }
    static R select_negative(R x, R if_neg, R otherwise) {  // per lane: x < 0 ? if_neg : otherwise
        return _mm256_blendv_ps(otherwise, if_neg, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    }
    static float reduce_add(R v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static float reduce_max(R v) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }
};

#include "fovea/core/vec_math.inl"
#include "fovea/core/gemm_ukernel.inl"

}  // namespace fovea::detail::avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---- AVX-512 (F, BW, DQ, VL): 16 floats --------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#endif
namespace fovea::detail::avx512 {

struct V {
    using R = __m512;
    using M = __mmask16;
    static constexpr int W = 16;
    static R zero() { return _mm512_setzero_ps(); }
    static R set1(float x) { return _mm512_set1_ps(x); }
    static R broadcast(const float* p) { return _mm512_set1_ps(*p); }
    static R load(const float* p) { return _mm512_load_ps(p); }
    static R loadu(const float* p) { return _mm512_loadu_ps(p); }
    static void storeu(float* p, R v) { _mm512_storeu_ps(p, v); }
    static M mask(std::int64_t n) {
        return n >= W ? static_cast<M>(0xFFFF) : n <= 0 ? static_cast<M>(0) : static_cast<M>((1u << n) - 1);
    }
    static R load_masked(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
    static R load_masked_or(const float* p, M m, R fill) { return _mm512_mask_loadu_ps(fill, m, p); }
    static R keep(R v, M m) { return _mm512_maskz_mov_ps(m, v); }
    static void store_masked(float* p, M m, R v) { _mm512_mask_storeu_ps(p, m, v); }
    static R add(R a, R b) { return _mm512_add_ps(a, b); }
    static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
    static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
    static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
    static R fnmadd(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
    static R max(R a, R b) { return _mm512_max_ps(a, b); }
    static R min(R a, R b) { return _mm512_min_ps(a, b); }
    static R abs(R a) { return _mm512_abs_ps(a); }
// Without optimisation GCC's _mm512_roundscale_ps is a macro whose all-ones mask converts to a
// signed short in the caller's code: a -Wsign-conversion warning in a downstream Debug build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-conversion"
    static R round(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
#pragma GCC diagnostic pop
    // the 14-bit reciprocal estimate and one Newton step (relative error about 1e-8)
    static R recip(R d) {
        const R t = _mm512_rcp14_ps(d);
        return _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
    }
    static R scale2n(R p, R n) { return _mm512_scalef_ps(p, n); }
    static R select_negative(R x, R if_neg, R otherwise) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), otherwise, if_neg);
    }
    static float reduce_add(R v) { return _mm512_reduce_add_ps(v); }
    static float reduce_max(R v) { return _mm512_reduce_max_ps(v); }
    static void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }
};

#include "fovea/core/vec_math.inl"
#include "fovea/core/gemm_ukernel.inl"

}  // namespace fovea::detail::avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // __x86_64__

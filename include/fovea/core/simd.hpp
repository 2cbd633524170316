#pragma once
// Vector code, written once. A small wrapper `V` per instruction set (AVX-512: 16 floats, AVX2 +
// FMA: 8, aarch64's NEON: 4) gives the operations the kernels need; vec_math.inl (exp, GELU,
// LayerNorm and softmax rows, the GEMM epilogue) is written over V and included once per
// instruction set, inside a region compiled for it: fovea::detail::avx512, ::avx2 and ::neon. The
// f32 micro-kernel is gemm_ukernel.inl over V on x86 and for the portable entry (vector extensions),
// and gemm_ukernel_neon.inl on aarch64 (fmla by lane, which x86 has no form of). No -march flag is needed; core/kernels.hpp picks the region at
// run time.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "fovea/core/epilogue.hpp"

// ---- portable: 4 floats as GCC / clang vector extensions --------------------------------
// The generic entry's f32 micro-kernel (any CPU, or FOVEA_MAX_ISA=generic): the same loop as the
// vector ones, so each output element is computed in the same order however a GEMM is cut (Eigen's
// product, the fallback before, sums the edge rows of a block differently from the rest, and a
// thread count then changed the bits of Swin's outputs on aarch64).
namespace fovea::detail::portable {

struct V {
    using R = float __attribute__((vector_size(16)));
    static constexpr int W = 4;
    static R zero() { return R{0.0f, 0.0f, 0.0f, 0.0f}; }
    static R broadcast(const float* p) { return R{*p, *p, *p, *p}; }
    static R load(const float* p) {
        R v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    static R loadu(const float* p) { return load(p); }
    static void storeu(float* p, R v) { std::memcpy(p, &v, sizeof v); }
    static R fmadd(R a, R b, R c) { return a * b + c; }
    static void prefetch_l2(const void* p) { __builtin_prefetch(p, 0, 2); }
};
using R = V::R;

#include "fovea/core/gemm_ukernel.inl"

}  // namespace fovea::detail::portable

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
    // p * 2^n for integral n in [-126, 127] (exp's range after its clamp): 2^n is a normal float
    static R scale2n(R p, R n) {
        const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    }
    static R select_negative(R x, R if_neg, R otherwise) {  // per lane: x < 0 ? if_neg : otherwise
        return _mm256_blendv_ps(otherwise, if_neg, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    }
    static R zero_if_less(R a, R b, R v) {  // per lane: a < b ? 0 : v (NaN: v)
        return _mm256_and_ps(_mm256_cmp_ps(a, b, _CMP_NLT_UQ), v);
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
    static R zero_if_less(R a, R b, R v) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, b, _CMP_NLT_UQ), v); }
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

// ---- aarch64 NEON (Advanced SIMD): 4 floats ----------------------------------------------
// Part of every aarch64 CPU, so no target region is needed.
#if defined(__aarch64__)
#include <arm_neon.h>

namespace fovea::detail::neon {

struct V {
    using R = float32x4_t;
    struct M {  // the first n lanes active (NEON has no masked loads: partial vectors go through a copy)
        int n;
    };
    static constexpr int W = 4;
    static R zero() { return vdupq_n_f32(0.0f); }
    static R set1(float x) { return vdupq_n_f32(x); }
    static R broadcast(const float* p) { return vld1q_dup_f32(p); }
    static R load(const float* p) { return vld1q_f32(p); }
    static R loadu(const float* p) { return vld1q_f32(p); }
    static void storeu(float* p, R v) { vst1q_f32(p, v); }
    static M mask(std::int64_t n) { return M{static_cast<int>(n < 0 ? 0 : n > W ? W : n)}; }
    static R load_masked_or(const float* p, M m, R fill) {
        if (m.n == W) return vld1q_f32(p);
        float t[W];
        vst1q_f32(t, fill);
        std::memcpy(t, p, sizeof(float) * static_cast<std::size_t>(m.n));
        return vld1q_f32(t);
    }
    static R load_masked(const float* p, M m) { return load_masked_or(p, m, zero()); }
    static R keep(R v, M m) {
        const uint32x4_t lanes = {0, 1, 2, 3};
        return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vcltq_u32(lanes, vdupq_n_u32(static_cast<unsigned>(m.n)))));
    }
    static void store_masked(float* p, M m, R v) {
        if (m.n == W) return vst1q_f32(p, v);
        float t[W];
        vst1q_f32(t, v);
        std::memcpy(p, t, sizeof(float) * static_cast<std::size_t>(m.n));
    }
    static R add(R a, R b) { return vaddq_f32(a, b); }
    static R sub(R a, R b) { return vsubq_f32(a, b); }
    static R mul(R a, R b) { return vmulq_f32(a, b); }
    static R fmadd(R a, R b, R c) { return vfmaq_f32(c, a, b); }   // a b + c
    static R fnmadd(R a, R b, R c) { return vfmsq_f32(c, a, b); }  // c - a b
    static R max(R a, R b) { return vmaxq_f32(a, b); }
    static R min(R a, R b) { return vminq_f32(a, b); }
    static R abs(R a) { return vabsq_f32(a); }
    static R round(R a) { return vrndnq_f32(a); }
    static R recip(R d) { return vdivq_f32(vdupq_n_f32(1.0f), d); }
    static R scale2n(R p, R n) {  // p * 2^n for integral n in [-126, 127], as AVX2's
        const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
        return vmulq_f32(p, vreinterpretq_f32_s32(e));
    }
    static R select_negative(R x, R if_neg, R otherwise) { return vbslq_f32(vcltzq_f32(x), if_neg, otherwise); }
    static R zero_if_less(R a, R b, R v) {
        return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), vcltq_f32(a, b)));
    }
    static float reduce_add(R v) { return vaddvq_f32(v); }
    static float reduce_max(R v) { return vmaxvq_f32(v); }
    static void prefetch_l2(const void* p) { __builtin_prefetch(p, 0, 2); }
};

#include "fovea/core/vec_math.inl"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-schedule-insns")  // see gemm_ukernel_neon.inl
#endif
#include "fovea/core/gemm_ukernel_neon.inl"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

}  // namespace fovea::detail::neon
#endif  // __aarch64__

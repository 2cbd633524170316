#pragma once
// x86-64 vector helpers shared by the kernels: which ISA this CPU runs, and exp / erf / GELU on
// whole registers. Functions carry their own target attributes, so fovea needs no -march flag:
// the AVX-512 or AVX2 path is picked at run time.
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FOVEA_X86 1
#include <immintrin.h>
#endif

namespace fovea::detail {

enum class Isa { Generic, Avx2, Avx512 };

inline Isa detect_isa() {
#if FOVEA_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
    return Isa::Generic;
}

inline Isa cpu_isa() {
    static const Isa isa = detect_isa();
    return isa;
}

#if FOVEA_X86
#define FOVEA_AVX512 __attribute__((target("avx512f,avx512dq,fma,avx2")))
#define FOVEA_AVX2 __attribute__((target("avx2,fma")))

// exp(x): x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^7 (error < 1 ulp
// before rounding), 2^n built in the exponent bits. Inputs below -87.3 give 0.
FOVEA_AVX512 inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)), _mm512_set1_ps(-87.33654475f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

FOVEA_AVX2 inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)), _mm256_set1_ps(-87.33654475f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // 2^n: n + 127 into the exponent field (n >= -126 after the clamp above, or the result is tiny)
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
    return _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(2.0f));
}

// Exact (erf) GELU, 0.5 x (1 + erf(x / sqrt 2)). erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2):
// the Chebyshev fit with fractional error below 1.2e-7 for every z >= 0 (Numerical Recipes, erfcc).
#define FOVEA_ERFC_POLY(FMA, SET, t)                                                                         \
    FMA(FMA(FMA(FMA(FMA(FMA(FMA(FMA(FMA(SET(0.17087277f), t, SET(-0.82215223f)), t, SET(1.48851587f)), t,    \
                                SET(-1.13520398f)),                                                          \
                            t, SET(0.27886807f)),                                                            \
                        t, SET(-0.18628806f)),                                                               \
                    t, SET(0.09678418f)),                                                                    \
                t, SET(0.37409196f)),                                                                        \
            t, SET(1.00002368f)),                                                                            \
        t, SET(-1.26551223f))

FOVEA_AVX512 inline __m512 gelu512(__m512 x) {
    const __m512 z = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f)));
    // t = 1 / d: the 14-bit reciprocal estimate and one Newton step (relative error ~1e-8)
    const __m512 d = _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f));
    __m512 t = _mm512_rcp14_ps(d);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
    const __m512 poly = FOVEA_ERFC_POLY(_mm512_fmadd_ps, _mm512_set1_ps, t);
    const __m512 erfc = _mm512_mul_ps(t, exp512(_mm512_fnmadd_ps(z, z, poly)));
    // x >= 0: 0.5 x (2 - erfc);  x < 0: 0.5 x erfc
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 f = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc), erfc);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), f);
}

FOVEA_AVX2 inline __m256 gelu256(__m256 x) {
    const __m256 z = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752440f)));
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
    const __m256 poly = FOVEA_ERFC_POLY(_mm256_fmadd_ps, _mm256_set1_ps, t);
    const __m256 erfc = _mm256_mul_ps(t, exp256(_mm256_fnmadd_ps(z, z, poly)));
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 f = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), erfc, neg);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), f);
}
#endif

}  // namespace fovea::detail

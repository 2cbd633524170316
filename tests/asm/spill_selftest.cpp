// A kernel that must spill (40 accumulators, 32 vector registers): check_kernel_asm.py has to
// reject it, or the check itself is broken.
#include <cstdint>

#if defined(__aarch64__)
#include <arm_neon.h>

__attribute__((noinline)) void gemm_ukernel_spill_selftest(std::int64_t K, const float* a, const float* b, float* c) {
    float32x4_t acc[40];
    for (int i = 0; i < 40; ++i) acc[i] = vdupq_n_f32(0.0f);
    for (std::int64_t k = 0; k < K; ++k) {
        const float32x4_t x = vld1q_f32(b + 4 * k);
#pragma GCC unroll 40
        for (int i = 0; i < 40; ++i) acc[i] = vfmaq_n_f32(acc[i], x, a[40 * k + i]);
    }
    for (int i = 0; i < 40; ++i) vst1q_f32(c + 4 * i, acc[i]);
}
#else
#include <immintrin.h>

__attribute__((target("avx512f"), noinline)) void gemm_ukernel_spill_selftest(std::int64_t K, const float* a,
                                                                                const float* b, float* c) {
    __m512 acc[40];
    for (int i = 0; i < 40; ++i) acc[i] = _mm512_setzero_ps();
    for (std::int64_t k = 0; k < K; ++k) {
        const __m512 x = _mm512_loadu_ps(b + 16 * k);
#pragma GCC unroll 40
        for (int i = 0; i < 40; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[40 * k + i]), x, acc[i]);
    }
    for (int i = 0; i < 40; ++i) _mm512_storeu_ps(c + 16 * i, acc[i]);
}
#endif

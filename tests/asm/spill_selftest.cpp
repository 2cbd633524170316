// A kernel that must spill (40 accumulators, 32 vector registers): check_kernel_asm.cmake has to
// reject it, or the check itself is broken.
#include <immintrin.h>

#include <cstdint>

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

#pragma once
// The machine's fp32 FMA peak, measured: independent FMA chains on every register, one per thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <fovea/core/simd.hpp>

namespace fovea_bench {

#if FOVEA_X86
FOVEA_AVX512 inline float fma_chains_avx512(std::int64_t iters) {
    __m512 acc[24];
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (std::int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 24
        for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}
FOVEA_AVX2 inline float fma_chains_avx2(std::int64_t iters) {
    __m256 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (std::int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 s = acc[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
    alignas(32) float t[8];
    _mm256_store_ps(t, s);
    return t[0];
}
#endif

// GFLOP/s of `threads` threads each running FMA chains (best of a few tries). Plain std::threads
// that start together: a pool that was just resized may not have its workers awake yet.
inline double fma_peak_gflops(int threads) {
    const auto isa = fovea::detail::cpu_isa();
    const std::int64_t iters = 4'000'000;
    const double flops_per_thread = isa == fovea::detail::Isa::Avx512 ? iters * 24.0 * 16 * 2 : iters * 12.0 * 8 * 2;
    double best = 0;
    for (int trial = 0; trial < 5; ++trial) {
        std::atomic<int> ready{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                ready.fetch_add(1);
                while (!go.load()) std::this_thread::yield();
#if FOVEA_X86
                volatile float sink = isa == fovea::detail::Isa::Avx512 ? fma_chains_avx512(iters) : fma_chains_avx2(iters);
                (void)sink;
#endif
            });
        while (ready.load() < threads) std::this_thread::yield();
        const auto t0 = std::chrono::steady_clock::now();
        go.store(true);
        for (auto& th : pool) th.join();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, flops_per_thread * threads / s / 1e9);
    }
    return best;
}

}  // namespace fovea_bench

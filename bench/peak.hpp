#pragma once
// The machine's fp32 FMA peak, measured: independent FMA chains on every register, one per thread.
#include <atomic>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <fovea/core/kernels.hpp>

namespace fovea_bench {

#if defined(__x86_64__)
// Independent FMA chains in named registers (an array of accumulators is what a compiler may keep
// in memory, and a peak measured that way would flatter every kernel compared with it).
#define FOVEA_PEAK_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define FOVEA_PEAK_INIT(i) R c##i = SET(static_cast<float>(i)), d##i = SET(static_cast<float>(i) + 0.5f);
#define FOVEA_PEAK_STEP(i) c##i = FMA(c##i, a, b); d##i = FMA(d##i, a, b);
#define FOVEA_PEAK_SUM(i) s = ADD(s, ADD(c##i, d##i));
__attribute__((target("avx512f,fma"))) inline float fma_chains_avx512(std::int64_t iters) {  // 24 chains of 16 lanes
    using R = __m512;
#define SET _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
    FOVEA_PEAK_CHAINS(FOVEA_PEAK_INIT)
    const R a = SET(0.999999f), b = SET(1e-7f);
    for (std::int64_t it = 0; it < iters; ++it) { FOVEA_PEAK_CHAINS(FOVEA_PEAK_STEP) }
    R s = SET(0.0f);
    FOVEA_PEAK_CHAINS(FOVEA_PEAK_SUM)
#undef SET
#undef FMA
#undef ADD
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) inline float fma_chains_avx2(std::int64_t iters) {  // 12 chains of 8 lanes
    using R = __m256;
#define SET _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define FOVEA_PEAK_HALF(X) X(0) X(1) X(2) X(3) X(4) X(5)
    FOVEA_PEAK_HALF(FOVEA_PEAK_INIT)
    const R a = SET(0.999999f), b = SET(1e-7f);
    for (std::int64_t it = 0; it < iters; ++it) { FOVEA_PEAK_HALF(FOVEA_PEAK_STEP) }
    R s = SET(0.0f);
    FOVEA_PEAK_HALF(FOVEA_PEAK_SUM)
#undef SET
#undef FMA
#undef ADD
#undef FOVEA_PEAK_HALF
    alignas(32) float t[8];
    _mm256_store_ps(t, s);
    return t[0];
}
#undef FOVEA_PEAK_CHAINS
#undef FOVEA_PEAK_INIT
#undef FOVEA_PEAK_STEP
#undef FOVEA_PEAK_SUM
#endif

// GFLOP/s of `threads` threads each running FMA chains (best of a few tries). Plain std::threads
// that start together: a pool that was just resized may not have its workers awake yet.
inline double fma_peak_gflops(int threads, std::int64_t iters = 4'000'000, int trials = 5) {
    const auto isa = fovea::detail::kernels().isa;
    const double flops_per_thread = isa == fovea::detail::Isa::Avx512 ? iters * 24.0 * 16 * 2 : iters * 12.0 * 8 * 2;
    double best = 0;
    for (int trial = 0; trial < trials; ++trial) {
        std::atomic<int> ready{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                ready.fetch_add(1);
                while (!go.load()) std::this_thread::yield();
#if defined(__x86_64__)
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

// The FMA peak measured just before and just after a benchmark's passes (shared machines: a
// neighbour's load moves it from minute to minute), and the share of it those passes reached.
// Construct right before the timed loop; report() right after it.
struct AdjacentPeak {
    int threads;
    double before;
    std::chrono::steady_clock::time_point t0;
    explicit AdjacentPeak(int t) : threads(t), before(fma_peak_gflops(t, 2'000'000, 3)), t0(std::chrono::steady_clock::now()) {}
    // Sets peak_GFLOP/s and share for passes of flops_per_iteration each.
    void report(benchmark::State& s, double flops_per_iteration) const {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double peak = 0.5 * (before + fma_peak_gflops(threads, 2'000'000, 3));
        s.counters["peak_GFLOP/s"] = peak;
        s.counters["share"] = flops_per_iteration * static_cast<double>(s.iterations()) / secs / 1e9 / peak;
    }
};

}  // namespace fovea_bench

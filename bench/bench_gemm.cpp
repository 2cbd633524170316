// The GEMM seam on the shapes ViT-B/16 and Swin-T run at batch 1, in GFLOP/s.
//   cmake -S . -B build -DFOVEA_BUILD_BENCH=ON && cmake --build build -j2 && build/bench/fovea_bench_gemm
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include <fovea/fovea.hpp>

namespace {

void BM_GemmNT(benchmark::State& state) {
    const std::int64_t M = state.range(0), N = state.range(1), K = state.range(2);
    std::vector<float> a(M * K), b(N * K), c(M * N);
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    for (auto& v : a) v = nd(rng);
    for (auto& v : b) v = nd(rng);
    for (auto _ : state) {
        fovea::detail::gemm_nt(M, N, K, a.data(), K, b.data(), K, c.data(), N);
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}

}  // namespace

// (M, N, K): ViT-B/16 qkv, proj, fc1, fc2 at 197 tokens; Swin-T stage 1 qkv and fc1 at 3136 tokens.
BENCHMARK(BM_GemmNT)
    ->Args({197, 2304, 768})
    ->Args({197, 768, 768})
    ->Args({197, 3072, 768})
    ->Args({197, 768, 3072})
    ->Args({3136, 288, 96})
    ->Args({3136, 384, 96})
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();

// GEMM micro-benchmarks on the shapes the models run, fovea's kernels against Eigen's product in
// the same run, with the share of the FMA peak measured next to each row.
//   cmake -S . -B build -DFOVEA_BUILD_BENCH=ON && cmake --build build -j2 && build/bench/fovea_bench_gemm
#include <benchmark/benchmark.h>

#include <array>
#include <random>
#include <vector>

#include <fovea/fovea.hpp>

#include "eigen_gemm.hpp"
#include "peak.hpp"

namespace {

struct Problem {
    std::int64_t M, N, K;
    std::vector<float> a, w, bias, c;
    explicit Problem(const benchmark::State& s) : M(s.range(0)), N(s.range(1)), K(s.range(2)) {
        a.resize(M * K);
        w.resize(N * K);
        bias.resize(N);
        c.resize(M * N);
        std::mt19937 rng(0);
        std::normal_distribution<float> nd;
        for (auto& v : a) v = nd(rng);
        for (auto& v : w) v = nd(rng);
        for (auto& v : bias) v = nd(rng);
    }
};

using fovea_bench::AdjacentPeak;

void report(benchmark::State& s, const Problem& p, const AdjacentPeak& adj) {
    const double flops = 2.0 * p.M * p.N * p.K;
    s.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    adj.report(s, flops);
}

// A Linear layer, C = A W^T + b, through fovea's GEMM and pool; W packed as `packed` (fp32 panels,
// or a LowpMatrix: activations are then converted per call, as in a model).
template <class Packed>
void time_linear(benchmark::State& s, Problem& p, int threads, const Packed& packed, const std::string& kernels) {
    fovea::detail::Epilogue ep;
    ep.bias = p.bias.data();
    const fovea::Context ctx = fovea::Context::top();
    const AdjacentPeak adj(threads);
    for (auto _ : s) {
        fovea::detail::gemm(ctx, p.M, p.a.data(), p.K, packed, p.c.data(), p.N, ep);
        benchmark::DoNotOptimize(p.c.data());
    }
    report(s, p, adj);
    s.SetLabel(fovea::compiler_name() + ", " + kernels);
}

void BM_Fovea(benchmark::State& s) {
    const int threads = static_cast<int>(s.range(3));
    fovea::set_num_threads(threads);
    Problem p(s);
    time_linear(s, p, threads, fovea::detail::PackedMatrix::from_nk(p.w.data(), p.N, p.K, p.K), fovea::detail::kernels().name);
}

// W held as bf16 or int8 (range 4: 1 bf16, 2 int8), through the kernel table's best
// reduced-precision entry (AMX where there is one). Its share is of the fp32 FMA peak (a bf16 /
// int8 peak is not measured here).
void BM_FoveaLowp(benchmark::State& s) {
    const int threads = static_cast<int>(s.range(3));
    fovea::set_num_threads(threads);
    Problem p(s);
    const auto packed = fovea::detail::LowpMatrix::from_nk(p.w.data(), p.N, p.K, p.K,
                                                           s.range(4) == 2 ? fovea::Precision::int8 : fovea::Precision::bf16);
    time_linear(s, p, threads, packed, packed.cfg->name);
}

// The same product in Eigen (row-major Maps, its own threads where built with OpenMP; compiled for
// this CPU in eigen_gemm.cpp).
void BM_Eigen(benchmark::State& s) {
    const int threads = static_cast<int>(s.range(3));
    fovea_bench::eigen_set_threads(threads);
    Problem p(s);
    const AdjacentPeak adj(threads);
    for (auto _ : s) {
        fovea_bench::eigen_linear(p.a.data(), p.w.data(), p.bias.data(), p.c.data(), p.M, p.N, p.K);
        benchmark::DoNotOptimize(p.c.data());
    }
    report(s, p, adj);
    s.SetLabel(fovea::compiler_name() + ", " + fovea_bench::eigen_name());
}

// GELU's epilogue over ViT-B's fc1 output (197 x 3072) from one L1-resident tile of raw sums, all
// equal to x (range 0): x = -1 against the far tail (x = -14, -20), where the kernels once made
// subnormals (microcode assists on Intel cores; 2.4x slower even on Zen 5).
void BM_GeluTail(benchmark::State& s) {
    const std::int64_t M = 197, N = 3072;
    std::vector<float> acc(32 * 32, static_cast<float>(s.range(0))), bias(N, 0.0f), c(M * N);
    fovea::detail::Epilogue ep;
    ep.bias = bias.data();
    ep.act = fovea::Activation::Gelu;
    const auto& k = fovea::detail::kernels();
    for (auto _ : s) {
        for (std::int64_t i = 0; i < M; i += 32)
            for (std::int64_t j = 0; j < N; j += 32)
                k.epilogue(acc.data(), 32, std::min<std::int64_t>(32, M - i), 32, c.data() + i * N + j, N, i, j, ep);
        benchmark::DoNotOptimize(c.data());
    }
    s.SetLabel(fovea::compiler_name() + ", " + k.name);
}

// One layer's attention on one thread, as Attention::forward runs it between its qkv and proj
// GEMMs: every head's K and V packed, then blocks of Attention::query_block queries through
// attention_packed. Args: tokens, heads (head dim 64), bf16 (products on the bf16 entry, as in a
// bf16 or int8 model: AMX on a Xeon). GFLOP/s and the share count the two products (4 T^2 D per
// head); the rest of the time is softmax, packing and conversions.
void BM_Attention(benchmark::State& s) {
    namespace d = fovea::detail;
    const std::int64_t T = s.range(0), H = s.range(1), D = 64, C = H * D;
    const d::LowpConfig* lp = s.range(2) ? d::attention_lowp(fovea::Precision::bf16, T) : nullptr;
    if (s.range(2) && !lp) return s.SkipWithError("this CPU's bf16 entry takes attention's products from more keys");
    std::vector<float> qkv(T * 3 * C), out(T * C);
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    for (auto& v : qkv) v = nd(rng);
    fovea::Context ctx = fovea::Context::top();
    ctx.threads = 1;
    const std::int64_t ks = d::packed_k_floats(T, D, lp), vs = d::packed_v_floats(T, D, lp);
    const auto kv = d::aligned_array<float>(static_cast<std::size_t>(H * (ks + vs)));  // panels are read aligned
    const std::int64_t qb = fovea::Attention::query_block(lp);
    const AdjacentPeak adj(1);
    for (auto _ : s) {
        const d::LowpRun run(lp);
        for (std::int64_t h = 0; h < H; ++h)
            d::pack_kv(*ctx.arena, qkv.data() + C + h * D, qkv.data() + 2 * C + h * D, 3 * C, T, D, kv.get() + h * (ks + vs),
                       kv.get() + h * (ks + vs) + ks, lp);
        for (std::int64_t h = 0; h < H; ++h)
            for (std::int64_t q0 = 0; q0 < T; q0 += qb)
                d::attention_packed(ctx, qkv.data() + q0 * 3 * C + h * D, 3 * C, std::min(qb, T - q0), kv.get() + h * (ks + vs),
                                    kv.get() + h * (ks + vs) + ks, T, D, 0.125f, nullptr, nullptr, q0, out.data() + q0 * C + h * D, C,
                                    nullptr, lp);
        benchmark::DoNotOptimize(out.data());
    }
    const double flops = 4.0 * H * T * T * D;
    s.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    adj.report(s, flops);
    s.SetLabel(fovea::compiler_name() + ", " + (lp ? lp->name : d::kernels().name));
}

// 1 and 2 threads, and every hardware thread where there are more.
std::vector<int> thread_counts() {
    const int hw = fovea::detail::ThreadPool::hardware_threads();
    std::vector<int> t{1};
    if (hw >= 2) t.push_back(2);
    if (hw > 2) t.push_back(hw);
    return t;
}

// (M, N, K) of every Linear in ViT-B/16 at 197 tokens (qkv, proj, fc1, fc2) and in Swin-T's four
// stages at 3136, 784, 196 and 49 tokens (the same four, plus each stage's patch merging).
std::vector<std::array<long, 3>> model_shapes() {
    std::vector<std::array<long, 3>> all{{197, 2304, 768}, {197, 768, 768}, {197, 3072, 768}, {197, 768, 3072}};
    for (long stage = 0, M = 3136, C = 96; stage < 4; ++stage, M /= 4, C *= 2) {
        for (auto s : {std::array<long, 3>{M, 3 * C, C}, {M, C, C}, {M, 4 * C, C}, {M, C, 4 * C}}) all.push_back(s);
        if (stage > 0) all.push_back({M, C, 2 * C});
    }
    return all;
}

void shapes(benchmark::internal::Benchmark* b) {
    for (int threads : thread_counts())
        for (auto [M, N, K] : model_shapes()) b->Args({M, N, K, threads});
    b->ArgNames({"M", "N", "K", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void lowp_shapes(benchmark::internal::Benchmark* b) {
    for (long precision : {1, 2})
        for (int threads : thread_counts())
            for (auto [M, N, K] : model_shapes()) b->Args({M, N, K, threads, precision});
    b->ArgNames({"M", "N", "K", "threads", "int8"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_Fovea)->Apply(shapes);
BENCHMARK(BM_Eigen)->Apply(shapes);
BENCHMARK(BM_FoveaLowp)->Apply(lowp_shapes);
BENCHMARK(BM_GeluTail)->ArgName("x")->Arg(-1)->Arg(-14)->Arg(-20)->Unit(benchmark::kMicrosecond);
// ViT-B/16 at 224 (197 tokens, 12 heads) and DINOv2-S at 518 (1,370 tokens, 6 heads)
BENCHMARK(BM_Attention)->ArgNames({"T", "heads", "bf16"})->ArgsProduct({{197}, {12}, {0, 1}})->ArgsProduct({{1370}, {6}, {0, 1}})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
    // Every figure names what produced it: CPU and compiler in the header, compiler and kernels per row.
    benchmark::AddCustomContext("cpu_model", fovea::cpu_info().model_name);
    benchmark::AddCustomContext("compiler", fovea::compiler_name());
    benchmark::AddCustomContext("kernels", fovea::detail::kernels().name);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    return 0;
}

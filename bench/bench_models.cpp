// Every preset end to end: ms per image, achieved GFLOP/s (the multiply-adds of one forward pass,
// counted at the GEMM seam) and its share of this machine's FMA peak, measured just before and just
// after each row (on a shared machine a neighbour's load moves the peak from minute to minute).
// The models are hub folders with random weights, written by bench/compare_onnxruntime.py:
//   PYTHONPATH=<timm> python3 bench/compare_onnxruntime.py --ort <dir> --rounds 0 <names...>
//   build/bench/fovea_bench_models /tmp/fovea_vs_ort [--precision f32,bf16,int8]
// Per image, the wall time of the Linear layers, the attention core and the LayerNorms (linear_ms,
// attention_ms, layernorm_ms; the rest of ms/image is everything else).
// Each row names its precision (vit_base_patch16_224/bf16/...) and the kernels that ran it; peak
// memory per precision is a process's figure: fovea-classify --bench prints it.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>
#include <random>
#include <sys/stat.h>

#include <fovea/fovea.hpp>

#include "peak.hpp"

namespace {

const char* kPresets[] = {"vit_tiny_patch16_224",         "vit_small_patch16_224",        "vit_base_patch16_224",
                          "vit_large_patch16_224",        "deit_base_patch16_224",        "swin_tiny_patch4_window7_224",
                          "swin_small_patch4_window7_224", "swin_base_patch4_window7_224", "swin_base_patch4_window12_384",
                          // long sequences: 1,370, 577 and 1,024 tokens
                          "vit_small_patch14_dinov2",     "vit_base_patch14_dinov2",      "vit_large_patch14_clip_336",
                          "vit_base_patch16_siglip_512"};

void BM_Model(benchmark::State& s, const fovea::Model* model) {
    const fovea::Precision p = model->precision();
    const int batch = static_cast<int>(s.range(0)), threads = static_cast<int>(s.range(1));
    fovea::set_num_threads(threads);
    const auto& in = model->pretrained_cfg().input_size;
    fovea::Tensor<float, 4> x({batch, in[0], in[1], in[2]});
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
    fovea::Counters counters;
    fovea::set_counters(&counters);
    model->forward(x);  // warm-up, and the FLOPs of one pass
    fovea::set_counters(nullptr);
    const double flops = static_cast<double>(counters.gemm_flops.load());
    // The timed passes count each phase's wall time (core/context.hpp: Phase), reported per image
    fovea::Counters phases;
    fovea::set_counters(&phases);
    const fovea_bench::AdjacentPeak adj(threads);
    for (auto _ : s) benchmark::DoNotOptimize(model->forward(x).data());
    adj.report(s, flops);
    fovea::set_counters(nullptr);
    const double per_image = 1e-6 / (static_cast<double>(s.iterations()) * batch);
    for (int i = 0; i < static_cast<int>(fovea::Phase::kCount); ++i)
        s.counters[std::string(fovea::kPhaseNames[i]) + "_ms"] = static_cast<double>(phases.phase_ns[i].load()) * per_image;
    s.counters["ms/image"] = benchmark::Counter(batch * 1e-3, benchmark::Counter::kIsIterationInvariantRate |
                                                                  benchmark::Counter::kInvert);
    s.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    s.counters["GFLOP/image"] = flops / batch / 1e9;
    s.SetLabel(fovea::compiler_name() + ", " + fovea::detail::kernel_name(p));
}

}  // namespace

int main(int argc, char** argv) {
    // Every figure names what produced it: CPU and compiler in the header, compiler and kernels per row.
    benchmark::AddCustomContext("cpu_model", fovea::cpu_info().model_name);
    benchmark::AddCustomContext("compiler", fovea::compiler_name());
    benchmark::AddCustomContext("kernels", fovea::detail::kernels().name);
    // At least a second per row unless the caller asks otherwise: a per-benchmark MinTime would
    // override --benchmark_min_time, so it is set only where that flag is absent.
    bool min_time_given = false;
    for (int i = 1; i < argc; ++i) min_time_given |= std::string(argv[i]).rfind("--benchmark_min_time", 0) == 0;
    benchmark::Initialize(&argc, argv);
    std::vector<fovea::Precision> precisions;
    for (int i = 2; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--precision") {
            for (std::string list = argv[i + 1]; !list.empty();) {
                const auto comma = list.find(',');
                precisions.push_back(fovea::parse_precision(list.substr(0, comma)));
                list = comma == std::string::npos ? "" : list.substr(comma + 1);
            }
            for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
            argc -= 2;
            break;
        }
    if (precisions.empty()) precisions.push_back(fovea::Precision::f32);
    if (argc < 2) {
        std::fprintf(stderr, "usage: fovea_bench_models MODELS_DIR [--precision f32,bf16,int8] [benchmark flags]\n");
        return 1;
    }
    // 1, 2, 4, 8, ... threads up to this machine's hardware threads (and all of them).
    std::vector<std::int64_t> threads;
    const int hw = fovea::detail::ThreadPool::hardware_threads();
    for (int t = 1; t < hw; t *= 2) threads.push_back(t);
    threads.push_back(hw);
    std::vector<std::unique_ptr<fovea::Model>> models;
    for (const char* name : kPresets) {
        const std::string dir = std::string(argv[1]) + "/" + name;
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) {
            std::printf("skipping %s: no %s\n", name, dir.c_str());
            continue;
        }
        for (const fovea::Precision p : precisions) {
            fovea::LoadOptions options;
            options.precision = p;
            models.push_back(std::make_unique<fovea::Model>(fovea::load_model(dir, options)));
            auto* b = benchmark::RegisterBenchmark((std::string(name) + "/" + fovea::precision_name(p)).c_str(), BM_Model,
                                                   models.back().get());
            b->ArgsProduct({{1, 8}, threads})->ArgNames({"batch", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
            if (!min_time_given) b->MinTime(1.0);
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    return 0;
}

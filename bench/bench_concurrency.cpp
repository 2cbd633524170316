// Two callers sharing one model and the pool: each caller's time per forward pass, against one
// caller alone and one caller on half the threads. With a fair share, two callers each take about
// what one caller takes on half the threads.
//   build/bench/fovea_bench_concurrency MODEL_DIR [passes]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <fovea/fovea.hpp>

namespace {

double median_ms(const fovea::Model& m, const fovea::Tensor<float, 4>& x, int passes) {
    std::vector<double> ms;
    m.forward(x);
    for (int i = 0; i < passes; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        m.forward(x);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fovea_bench_concurrency MODEL_DIR [passes]\n");
        return 2;
    }
    const int passes = argc > 2 ? std::atoi(argv[2]) : 20;
    const fovea::Model m = fovea::load_model(argv[1]);
    const auto& in = m.pretrained_cfg().input_size;
    fovea::Tensor<float, 4> x({1, in[0], in[1], in[2]});
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
    const int hw = fovea::detail::ThreadPool::hardware_threads();
    std::printf("cpu '%s', %s, kernels %s, %s\n", fovea::cpu_info().model_name.c_str(), fovea::compiler_name().c_str(),
                fovea::detail::kernels().name, m.architecture().c_str());
    fovea::set_num_threads(std::max(1, hw / 2));
    const double half = median_ms(m, x, passes);
    fovea::set_num_threads(hw);
    const double alone = median_ms(m, x, passes);
    double both[2] = {0, 0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 2; ++c) callers.emplace_back([&, c] { both[c] = median_ms(m, x, passes); });
    for (auto& t : callers) t.join();
    std::printf("one caller, %d threads: %.2f ms\none caller, %d threads: %.2f ms\n"
                "two callers at once, pool of %d: %.2f ms and %.2f ms (%.2fx and %.2fx the half-pool time)\n",
                std::max(1, hw / 2), half, hw, alone, hw, both[0], both[1], both[0] / half, both[1] / half);
    return 0;
}

// fovea-classify: run a timm ViT / Swin checkpoint on preprocessed input and print top-k.
//   fovea-classify --weights DIR --input-npy x.npy [--top-k 5] [--json] [--save-logits y.npy]
//   fovea-classify --weights DIR --bench 20 --threads 2
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <fovea/fovea.hpp>

namespace {

struct Options {
    std::string model, weights, input_npy, save_logits, save_features;
    int top_k = 5, threads = 0, bench = 0, batch_size = 1;
    bool json = false, list_models = false;
};

void usage() {
    std::puts(
        "usage: fovea-classify --weights PATH [options]\n"
        "  --weights PATH        model.safetensors, or a folder with model.safetensors + config.json\n"
        "  --model NAME          preset name (default: from config.json or the file's metadata)\n"
        "  --input-npy FILE      float32 NCHW input, already preprocessed\n"
        "  --save-logits FILE    write logits [N, classes] as float32 .npy\n"
        "  --save-features FILE  write pre-logit features [N, C] as float32 .npy\n"
        "  --top-k K             classes to print per input (default 5)\n"
        "  --threads N           threads (default: all cores)\n"
        "  --json                print results as JSON\n"
        "  --bench N             time N forward passes after a warm-up\n"
        "  --batch-size B        batch of the random bench input (default 1)\n"
        "  --list-models         print the preset names");
}

int to_int(const std::string& flag, const std::string& v, int lo) {
    try {
        std::size_t used = 0;
        const int n = std::stoi(v, &used);
        if (used == v.size() && n >= lo) return n;
    } catch (const std::exception&) {
    }
    fovea::detail::fail(flag, " expects an integer >= ", lo, ", got '", v, "'");
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fovea::detail::fail(a, " needs a value");
            return argv[++i];
        };
        if (a == "--model") o.model = value();
        else if (a == "--weights") o.weights = value();
        else if (a == "--input-npy") o.input_npy = value();
        else if (a == "--save-logits") o.save_logits = value();
        else if (a == "--save-features") o.save_features = value();
        else if (a == "--top-k") o.top_k = to_int(a, value(), 1);
        else if (a == "--threads") o.threads = to_int(a, value(), 1);
        else if (a == "--bench") o.bench = to_int(a, value(), 1);
        else if (a == "--batch-size") o.batch_size = to_int(a, value(), 1);
        else if (a == "--json") o.json = true;
        else if (a == "--list-models") o.list_models = true;
        else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
        else fovea::detail::fail("unknown argument '", a, "' (see --help)");
    }
    return o;
}

std::string json_str(const std::string& s) { return nlohmann::json(s).dump(); }

void print_topk(const fovea::Model& m, const fovea::Tensor<float, 2>& logits, int k, bool json) {
    const auto N = logits.shape(0), K = logits.shape(1);
    const auto& labels = m.label_names();
    if (json) std::cout << "[\n";
    for (std::int64_t n = 0; n < N; ++n) {
        const float* l = logits.data() + n * K;
        const float mx = *std::max_element(l, l + K);
        double sum = 0;
        for (std::int64_t c = 0; c < K; ++c) sum += std::exp(static_cast<double>(l[c] - mx));
        std::vector<std::int64_t> idx(static_cast<std::size_t>(K));
        std::iota(idx.begin(), idx.end(), 0);
        const auto kk = std::min<std::int64_t>(k, K);
        std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](auto a, auto b) { return l[a] > l[b]; });
        if (json) std::cout << "  {\"index\": " << n << ", \"top\": [";
        else std::cout << "input " << n << ":\n";
        for (std::int64_t i = 0; i < kk; ++i) {
            const auto c = idx[static_cast<std::size_t>(i)];
            const double p = std::exp(static_cast<double>(l[c] - mx)) / sum;
            const std::string label = c < static_cast<std::int64_t>(labels.size()) ? labels[c] : "class " + std::to_string(c);
            if (json) {
                std::cout << (i ? ", " : "") << "{\"class\": " << c << ", \"label\": " << json_str(label)
                          << ", \"prob\": " << p << ", \"logit\": " << l[c] << "}";
            } else {
                std::printf("  %6.2f%%  %-5lld %s\n", 100.0 * p, static_cast<long long>(c), label.c_str());
            }
        }
        if (json) std::cout << "]}" << (n + 1 < N ? "," : "") << "\n";
    }
    if (json) std::cout << "]\n";
}

int run(int argc, char** argv) {
    const Options o = parse(argc, argv);
    if (o.list_models) {
        for (auto& n : fovea::model_names()) std::cout << n << "\n";
        return 0;
    }
    if (o.threads) fovea::set_num_threads(o.threads);
    if (o.weights.empty()) fovea::detail::fail("no --weights given (see --help)");
    const fovea::Model model = o.model.empty() ? fovea::load_model(o.weights) : fovea::create_model(o.model, o.weights);

    fovea::Tensor<float, 4> x;
    if (!o.input_npy.empty()) {
        x = fovea::to_tensor<4>(fovea::read_npy(o.input_npy), o.input_npy);
    } else if (o.bench) {
        const auto& s = model.pretrained_cfg().input_size;
        x = fovea::Tensor<float, 4>({o.batch_size, s[0], s[1], s[2]});
        std::mt19937 rng(0);
        std::normal_distribution<float> nd;
        for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
    } else {
        fovea::detail::fail("no input: give --input-npy FILE (or --bench N for a random input)");
    }

    if (o.bench) {
        model.forward(x);  // warm-up
        std::vector<double> ms;
        for (int i = 0; i < o.bench; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto y = model.forward(x);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        std::printf("bench: model=%s batch=%lld threads=%d median_ms=%.3f min_ms=%.3f\n", model.architecture().c_str(),
                    static_cast<long long>(x.shape(0)), fovea::num_threads(), ms[ms.size() / 2], ms[0]);
        return 0;
    }

    const auto features = model.forward_features(x);
    const auto logits = model.forward_head(features);
    if (!o.save_logits.empty()) fovea::write_npy(o.save_logits, logits.data(), {logits.shape(0), logits.shape(1)});
    if (!o.save_features.empty()) {
        const auto pre = model.forward_head(features, true);
        fovea::write_npy(o.save_features, pre.data(), {pre.shape(0), pre.shape(1)});
    }
    print_topk(model, logits, o.top_k, o.json);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

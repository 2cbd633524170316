// fovea-classify: classify images (or a preprocessed .npy batch) with a timm ViT / Swin model.
//   fovea-classify photo.jpg                                 # bundled Fashion-MNIST Swin
//   fovea-classify --weights DIR *.jpg --top-k 5 --json      # a timm hub folder
//   fovea-classify --weights DIR --input-npy x.npy --save-logits y.npy
//   fovea-classify --weights DIR --bench 20 --threads 2
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <fovea/data/transforms.hpp>
#include <fovea/fovea.hpp>
#include <fovea/io/image.hpp>

#ifndef FOVEA_DEFAULT_WEIGHTS
#define FOVEA_DEFAULT_WEIGHTS ""
#endif

namespace {

struct Options {
    std::string model, weights, input_npy, save_logits, save_features, save_input, labels;
    std::vector<std::string> images;
    int top_k = 5, threads = 0, bench = 0, batch_size = 0;  // batch_size 0: 8 images, 1 for --bench
    std::string precision = "f32";
    bool json = false, list_models = false, version = false;
};

void usage() {
    std::puts(
        "usage: fovea-classify [options] [IMAGE...]\n"
        "  IMAGE...              PNG, JPEG, BMP, TGA, PNM or GIF files, preprocessed as timm's eval transform\n"
        "  --weights PATH        model.safetensors, or a folder with model.safetensors + config.json\n"
        "                        (default: the bundled Fashion-MNIST Swin)\n"
        "  --model NAME          preset name (default: from config.json or the file's metadata)\n"
        "  --input-npy FILE      float32 NCHW input, already preprocessed (instead of images)\n"
        "  --batch-size B        images per forward pass (default 8; --bench: batch of its random input, default 1)\n"
        "  --labels FILE         class names, one per line (default: config.json, ImageNet-1k for 1000 classes)\n"
        "  --top-k K             classes to print per input (default 5)\n"
        "  --json                print results as JSON, one object per input\n"
        "  --save-logits FILE    write logits [N, classes] as float32 .npy\n"
        "  --save-features FILE  write pre-logit features [N, C] as float32 .npy\n"
        "  --save-input FILE     write the preprocessed batch [N, C, H, W] as float32 .npy\n"
        "  --threads N           threads (default: all cores)\n"
        "  --bench N             time N forward passes after a warm-up (random input unless --input-npy)\n"
        "  --precision P         f32 (default)\n"
        "  --list-models         print the preset names\n"
        "  --version             print fovea's version, compiler, kernels and CPU");
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
        else if (a == "--save-input") o.save_input = value();
        else if (a == "--labels") o.labels = value();
        else if (a == "--top-k") o.top_k = to_int(a, value(), 1);
        else if (a == "--threads") o.threads = to_int(a, value(), 1);
        else if (a == "--bench") o.bench = to_int(a, value(), 1);
        else if (a == "--batch-size") o.batch_size = to_int(a, value(), 1);
        else if (a == "--json") o.json = true;
        else if (a == "--list-models") o.list_models = true;
        else if (a == "--version") o.version = true;
        else if (a == "--precision") o.precision = value();
        else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
        else if (a.rfind("--", 0) == 0) fovea::detail::fail("unknown argument '", a, "' (see --help)");
        else o.images.push_back(a);
    }
    if (!o.images.empty() && !o.input_npy.empty()) fovea::detail::fail("give images or --input-npy, not both");
    return o;
}

std::vector<std::string> read_labels(const std::string& path) {
    std::ifstream f(path);
    if (!f) fovea::detail::fail(path, ": cannot open labels file");
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
    }
    return out;
}

// Top-k of one row of logits as text or one JSON object; `id` names the input.
void print_topk(const float* l, std::int64_t K, int k, const std::vector<std::string>& labels, const nlohmann::json& id,
                bool json, bool last) {
    const float mx = *std::max_element(l, l + K);
    double sum = 0;
    for (std::int64_t c = 0; c < K; ++c) sum += std::exp(static_cast<double>(l[c] - mx));
    std::vector<std::int64_t> idx(static_cast<std::size_t>(K));
    std::iota(idx.begin(), idx.end(), 0);
    const auto kk = std::min<std::int64_t>(k, K);
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](auto a, auto b) { return l[a] > l[b]; });
    nlohmann::json top = nlohmann::json::array();
    if (!json) std::cout << (id.is_string() ? id.get<std::string>() : "input " + id.dump()) << "\n";
    for (std::int64_t i = 0; i < kk; ++i) {
        const auto c = idx[static_cast<std::size_t>(i)];
        const double p = std::exp(static_cast<double>(l[c] - mx)) / sum;
        const std::string label = c < static_cast<std::int64_t>(labels.size()) ? labels[c] : "class " + std::to_string(c);
        if (json) top.push_back({{"class", c}, {"label", label}, {"prob", p}, {"logit", l[c]}});
        else std::printf("  %6.2f%%  %-4lld %s\n", 100.0 * p, static_cast<long long>(c), label.c_str());
    }
    if (json) {
        nlohmann::json o = {{id.is_string() ? "path" : "index", id}, {"top", top}};
        std::cout << "  " << o.dump() << (last ? "\n" : ",\n");
    }
    std::cout.flush();
}

void progress(std::size_t done, std::size_t total) {
    static const bool tty = ::isatty(2);
    if (!tty || total < 16) return;
    const int width = 30, fill = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(fill, '#').c_str(), std::string(width - fill, ' ').c_str(), done, total);
    if (done == total) std::fputc('\n', stderr);
}

void append(std::vector<float>& all, const fovea::Tensor<float, 2>& t) { all.insert(all.end(), t.data(), t.data() + t.size()); }

int run(int argc, char** argv) {
    const Options o = parse(argc, argv);
    if (o.version) {
        std::cout << "fovea-classify " << FOVEA_VERSION_MAJOR << "." << FOVEA_VERSION_MINOR << "." << FOVEA_VERSION_PATCH
                  << "; " << fovea::compiler_name() << "; kernels " << fovea::detail::kernels().name << "; cpu "
                  << fovea::cpu_info().model_name << "\n";
        return 0;
    }
    if (o.precision != "f32") fovea::detail::fail("--precision '", o.precision, "' is not supported (f32)");
    if (o.list_models) {
        for (auto& n : fovea::model_names()) std::cout << n << "\n";
        return 0;
    }
    if (o.threads) fovea::set_num_threads(o.threads);
    const std::string weights = o.weights.empty() ? FOVEA_DEFAULT_WEIGHTS : o.weights;
    if (weights.empty()) fovea::detail::fail("no --weights given (see --help)");
    const fovea::Model model = o.model.empty() ? fovea::load_model(weights) : fovea::create_model(o.model, weights);
    const auto labels = o.labels.empty() ? model.label_names() : read_labels(o.labels);
    const auto& cfg = model.pretrained_cfg();

    if (o.bench) {
        fovea::Tensor<float, 4> x;
        if (!o.input_npy.empty()) {
            x = fovea::to_tensor<4>(fovea::read_npy(o.input_npy), o.input_npy);
        } else {
            x = fovea::Tensor<float, 4>({std::max(o.batch_size, 1), cfg.input_size[0], cfg.input_size[1], cfg.input_size[2]});
            std::mt19937 rng(0);
            std::normal_distribution<float> nd;
            for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
        }
        model.forward(x);  // warm-up
        std::vector<double> ms;
        for (int i = 0; i < o.bench; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto y = model.forward(x);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        struct rusage ru {};
        ::getrusage(RUSAGE_SELF, &ru);  // ru_maxrss: peak resident set in KiB, load included
        std::printf("bench: model=%s batch=%lld threads=%d precision=%s median_ms=%.3f min_ms=%.3f peak_rss_mb=%.1f "
                    "kernels='%s' compiler='%s' cpu='%s'\n",
                    model.architecture().c_str(), static_cast<long long>(x.shape(0)), fovea::num_threads(),
                    o.precision.c_str(), ms[ms.size() / 2], ms[0], ru.ru_maxrss / 1024.0, fovea::detail::kernels().name,
                    fovea::compiler_name().c_str(), fovea::cpu_info().model_name.c_str());
        return 0;
    }

    std::vector<float> all_logits, all_features;
    std::int64_t rows = 0;
    if (o.json) std::cout << "[\n";
    auto classify = [&](const fovea::Tensor<float, 4>& x, const std::vector<nlohmann::json>& ids, bool last_batch) {
        const auto features = model.forward_features(x);
        const auto logits = model.forward_head(features);
        if (!o.save_features.empty()) append(all_features, model.forward_head(features, true));
        append(all_logits, logits);
        rows += logits.shape(0);
        const std::int64_t K = logits.shape(1), per = logits.shape(0) / x.shape(0);
        for (std::int64_t r = 0; r < logits.shape(0); ++r)
            print_topk(logits.data() + r * K, K, o.top_k, labels, per == 1 ? ids[r] : nlohmann::json(r), o.json,
                       last_batch && r + 1 == logits.shape(0));
    };

    int status = 0;
    if (!o.input_npy.empty()) {
        const auto x = fovea::to_tensor<4>(fovea::read_npy(o.input_npy), o.input_npy);
        std::vector<nlohmann::json> ids;
        for (std::int64_t n = 0; n < x.shape(0); ++n) ids.emplace_back(n);
        classify(x, ids, true);
    } else {
        if (o.images.empty()) fovea::detail::fail("no input: give image files, --input-npy FILE or --bench N");
        const std::int64_t C = cfg.input_size[0], H = cfg.input_size[1], W = cfg.input_size[2];
        // Decode and preprocess all files first: a bad file is reported and skipped, nothing else is lost.
        std::vector<std::string> good;
        std::vector<float> inputs;
        for (std::size_t i = 0; i < o.images.size(); ++i) {
            try {
                const auto img = fovea::load_image(o.images[i], static_cast<int>(C));
                const auto t = fovea::preprocess_image(img, cfg);
                inputs.insert(inputs.end(), t.data(), t.data() + t.size());
                good.push_back(o.images[i]);
            } catch (const fovea::Error& e) {
                std::fprintf(stderr, "error: %s\n", e.what());
                status = 1;
            }
            progress(i + 1, o.images.size());
        }
        const std::size_t batch = o.batch_size ? o.batch_size : 8;
        for (std::size_t b = 0; b < good.size(); b += batch) {
            const std::size_t n = std::min(batch, good.size() - b);
            fovea::Tensor<float, 4> x({static_cast<std::int64_t>(n), C, H, W});
            std::copy(inputs.begin() + b * C * H * W, inputs.begin() + (b + n) * C * H * W, x.data());
            classify(x, std::vector<nlohmann::json>(good.begin() + b, good.begin() + b + n), b + n == good.size());
        }
        if (!o.save_input.empty())
            fovea::write_npy(o.save_input, inputs.data(), {static_cast<std::int64_t>(good.size()), C, H, W});
    }
    if (o.json) std::cout << "]\n";
    const std::int64_t K = model.num_classes() ? model.num_classes() : model.num_features();
    if (!o.save_logits.empty()) fovea::write_npy(o.save_logits, all_logits.data(), {rows, K});
    if (!o.save_features.empty())
        fovea::write_npy(o.save_features, all_features.data(),
                         {static_cast<std::int64_t>(all_features.size()) / model.num_features(), model.num_features()});
    return status;
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

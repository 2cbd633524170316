// Fashion-MNIST accuracy of a bundled model in fovea, next to the PyTorch accuracy the training
// script measured, and how many of the 10,000 test predictions agree with PyTorch's.
//   fovea-fmnist-eval --weights examples/fashion_mnist/models/swin_fashion_mnist \
//                     [--data /usr/share/datasets/fashion-mnist] [--precision bf16,int8]
// Exit code 1 when fewer than 99.9% of the predictions agree; with --precision bf16 and/or int8,
// the model is also run at each (fp32 still once), and exit code 1 when one's top-1 accuracy is
// more than 0.3 points from fp32's or fewer than 99% of its predictions are fp32's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fovea/fovea.hpp>

#include "idx.hpp"

namespace {

int run(int argc, char** argv) {
    static const char* const kUsage =
        "usage: fovea-fmnist-eval --weights DIR [--data DIR] [--precision P[,P...]]\n"
        "  the model's accuracy on the Fashion-MNIST test set (DIR default: /usr/share/datasets/fashion-mnist,\n"
        "  Debian's dataset-fashion-mnist) and its agreement with the PyTorch predictions beside the weights;\n"
        "  P (f32, bf16, int8): also each reduced precision's accuracy and agreement with fp32";
    std::string weights, data = "/usr/share/datasets/fashion-mnist", precision = "f32";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::puts(kUsage);
            return 0;
        }
        if (a != "--weights" && a != "--data" && a != "--precision") fovea::detail::fail("unknown argument '", a, "' (see --help)");
        if (i + 1 >= argc) fovea::detail::fail(a, " needs a value");
        const std::string v = argv[++i];
        if (a == "--weights") weights = v;
        else if (a == "--data") data = v;
        else precision = v;
    }
    if (weights.empty()) fovea::detail::fail("no --weights given (see --help)");
    const fovea::Model model = fovea::load_model(weights);
    // The reduced precisions asked for, each a model of its own; fp32 runs once whatever is asked.
    std::vector<std::string> lowp_names;
    std::vector<fovea::Model> lowp_models;
    for (std::size_t b = 0; b <= precision.size();) {
        const std::size_t e = std::min(precision.find(',', b), precision.size());
        const std::string name = precision.substr(b, e - b);
        fovea::LoadOptions options;
        options.precision = fovea::parse_precision(name);
        if (options.precision != fovea::Precision::f32 &&
            std::find(lowp_names.begin(), lowp_names.end(), name) == lowp_names.end()) {
            lowp_names.push_back(name);
            lowp_models.push_back(fovea::load_model(weights, options));
        }
        b = e + 1;
    }
    std::vector<std::int64_t> idims, ldims;
    const auto images = fmnist::read_idx(data + "/t10k-images-idx3-ubyte.gz", idims);
    const auto labels = fmnist::read_idx(data + "/t10k-labels-idx1-ubyte.gz", ldims);
    std::ifstream pf(weights + "/torch_test_predictions.bin", std::ios::binary);
    const std::vector<char> torch_pred((std::istreambuf_iterator<char>(pf)), {});
    const std::int64_t N = idims[0], H = idims[1], W = idims[2];
    if (static_cast<std::int64_t>(torch_pred.size()) != N) fovea::detail::fail(weights, ": torch_test_predictions.bin has ", torch_pred.size(), " entries, expected ", N);

    // The 28x28 test images are already the model's input size (crop_pct 1): normalise only,
    // exactly what preprocess_image does with this pretrained_cfg.
    const auto& cfg = model.pretrained_cfg();
    if (cfg.input_size[0] != 1 || cfg.input_size[1] != H || cfg.input_size[2] != W)
        fovea::detail::fail(weights, ": expected a 1x", H, "x", W, " model");
    std::int64_t correct = 0, torch_correct = 0, agree = 0;
    std::vector<std::int64_t> lowp_correct(lowp_models.size()), lowp_same(lowp_models.size());
    const std::int64_t B = 500;
    for (std::int64_t s = 0; s < N; s += B) {
        const std::int64_t n = std::min(B, N - s);
        fovea::Tensor<float, 4> x({n, 1, H, W});
        for (std::int64_t i = 0; i < n * H * W; ++i)
            x.data()[i] = (static_cast<float>(images[s * H * W + i]) / 255.0f - cfg.mean[0]) / cfg.std[0];
        const auto logits = model.forward(x);
        const std::int64_t K = logits.shape(1);
        std::vector<fovea::Tensor<float, 2>> lowp_logits;
        for (const auto& m : lowp_models) lowp_logits.push_back(m.forward(x));
        for (std::int64_t i = 0; i < n; ++i) {
            const float* l = logits.data() + i * K;
            const auto pred = std::max_element(l, l + K) - l;
            for (std::size_t p = 0; p < lowp_models.size(); ++p) {
                const float* q = lowp_logits[p].data() + i * K;
                const auto qpred = std::max_element(q, q + K) - q;
                lowp_correct[p] += qpred == labels[s + i];
                lowp_same[p] += qpred == pred;
            }
            const auto tp = static_cast<std::uint8_t>(torch_pred[s + i]);
            correct += pred == labels[s + i];
            torch_correct += tp == labels[s + i];
            agree += pred == tp;
        }
    }
    std::printf("fashion-mnist: model=%s images=%lld fovea_top1=%.2f%% pytorch_top1=%.2f%% agreement=%.2f%% (%lld differ)\n",
                weights.c_str(), static_cast<long long>(N), 100.0 * correct / N, 100.0 * torch_correct / N,
                100.0 * agree / N, static_cast<long long>(N - agree));
    bool ok = agree * 1000 >= N * 999;
    for (std::size_t p = 0; p < lowp_models.size(); ++p) {
        const double drop = 100.0 * static_cast<double>(correct - lowp_correct[p]) / static_cast<double>(N);
        std::printf("fashion-mnist: precision=%s top1=%.2f%% (f32 %.2f%%, %+.2f points) unchanged=%.2f%% (%lld differ from f32)\n",
                    lowp_names[p].c_str(), 100.0 * lowp_correct[p] / N, 100.0 * correct / N, -drop,
                    100.0 * lowp_same[p] / N, static_cast<long long>(N - lowp_same[p]));
        ok = ok && std::abs(drop) <= 0.3 && lowp_same[p] * 100 >= N * 99;
    }
    return ok ? 0 : 1;
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

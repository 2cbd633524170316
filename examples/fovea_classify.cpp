// fovea-classify: classify images (or a preprocessed .npy batch) with a timm model.
//   fovea-classify photo.jpg                                 # bundled Fashion-MNIST Swin
//   fovea-classify --weights DIR *.jpg --top-k 5 --json      # a timm hub folder
//   fovea-classify --weights DIR --input-npy x.npy --save-logits y.npy
//   fovea-classify --weights DIR --bench 20 --threads 2 --precision bf16
//   fovea-classify --weights CLIP_DIR --text-embeddings classes.npy --labels classes.txt *.jpg  # zero-shot
// Images stream through in batches: each batch is decoded, run, printed and written before the
// next is read, so memory does not grow with the number of files.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <fovea/core/cpu.hpp>
#include <fovea/core/kernels.hpp>
#include <fovea/data/transforms.hpp>
#include <fovea/fovea.hpp>

#ifndef FOVEA_DEFAULT_WEIGHTS
#define FOVEA_DEFAULT_WEIGHTS ""
#endif

namespace {

struct Options {
    std::string model, weights, input_npy, save_logits, save_features, save_input, labels, precision = "f32";
    std::string text_embeddings;  // zero-shot: class text embeddings [K, D]
    std::optional<float> logit_scale, logit_bias;
    std::vector<std::string> images;
    int top_k = 5, threads = 0, bench = 0, batch_size = 0;  // batch_size 0: 8 images, 1 for --bench
    bool json = false, list_models = false, version = false;
};

void usage() {
    std::puts(
        "usage: fovea-classify [options] [IMAGE...]\n"
        "  IMAGE...              PNG, JPEG, BMP, PNM or GIF files, preprocessed as timm's eval transform;\n"
        "                        a folder: the image files under it, recursively, sorted\n"
        "  --weights PATH        model.safetensors, or a folder with model.safetensors + config.json\n"
        "                        (default: the bundled Fashion-MNIST Swin)\n"
        "  --model NAME          preset name (default: from config.json or the file's metadata)\n"
        "  --input-npy FILE      float32 NCHW input, already preprocessed (instead of images)\n"
        "  --batch-size B        images per forward pass (default 8; --bench: batch of its random input, default 1)\n"
        "  --labels FILE         class names, one per line (default: config.json, ImageNet-1k for 1000 classes)\n"
        "  --top-k K             classes to print per input (default 5)\n"
        "  --json                print results as JSON, one object per line\n"
        "  --save-logits FILE    write logits [N, classes] as float32 .npy\n"
        "  --save-features FILE  write pre-logit features [N, C] as float32 .npy\n"
        "  --save-input FILE     write the preprocessed batch [N, C, H, W] as float32 .npy\n"
        "  --precision P         f32 (default), bf16 or int8\n"
        "  --text-embeddings F   zero-shot: .npy [K, D] of class text embeddings (OpenCLIP / transformers), one\n"
        "                        per line of --labels; CLIP: softmax(scale cos), SigLIP: sigmoid(scale cos + bias)\n"
        "  --logit-scale S       zero-shot scale, exp of the model's logit_scale (default: open_clip_model.safetensors\n"
        "                        beside the weights, else 100 for CLIP)\n"
        "  --logit-bias B        zero-shot bias: SigLIP's sigmoid (default: from open_clip_model.safetensors)\n"
        "  --threads N           threads (default: all cores; at most the machine's hardware threads)\n"
        "  --bench N             time N forward passes after a warm-up (random input unless --input-npy)\n"
        "  --list-models         print the preset names\n"
        "  --version             print fovea's version, compiler, kernels, CPU and image decoders");
}

float to_float(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d) || std::abs(d) > 1e30)
        fovea::detail::fail(flag, " expects a number, got '", v.substr(0, 40), "'");
    return static_cast<float>(d);
}

int to_int(const std::string& flag, const std::string& v, int lo, int hi) {
    const auto n = fovea::detail::parse_integer(v, lo, hi);
    if (!n) fovea::detail::fail(flag, " expects an integer in [", lo, ", ", hi, "], got '", v.substr(0, 40), "'");
    return static_cast<int>(*n);
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
        else if (a == "--precision") o.precision = value();
        else if (a == "--text-embeddings") o.text_embeddings = value();
        else if (a == "--logit-scale") o.logit_scale = to_float(a, value());
        else if (a == "--logit-bias") o.logit_bias = to_float(a, value());
        else if (a == "--top-k") o.top_k = to_int(a, value(), 1, 1'000'000);
        else if (a == "--threads") o.threads = to_int(a, value(), 1, 1'000'000);
        else if (a == "--bench") o.bench = to_int(a, value(), 1, 1'000'000);
        else if (a == "--batch-size") o.batch_size = to_int(a, value(), 1, 4096);
        else if (a == "--json") o.json = true;
        else if (a == "--list-models") o.list_models = true;
        else if (a == "--version") o.version = true;
        else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
        else if (a.rfind("--", 0) == 0) fovea::detail::fail("unknown argument '", a.substr(0, 80), "' (see --help)");
        else o.images.push_back(a);
    }
    if (!o.images.empty() && !o.input_npy.empty()) fovea::detail::fail("give images or --input-npy, not both");
    if (o.text_embeddings.empty() && (o.logit_scale || o.logit_bias))
        fovea::detail::fail("--logit-scale and --logit-bias go with --text-embeddings");
    return o;
}

// A name as it may appear in one line of text: control bytes escaped.
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c == 0x7f) out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
        else out += static_cast<char>(c);
    }
    return out;
}

// Valid UTF-8 as it is; otherwise each byte that breaks it as \xNN (JSON needs UTF-8).
std::string utf8_or_escaped(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n > 0 && i + n <= s.size();
        for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
        if (ok) {
            out.append(s, i, n);
            i += n;
        } else {
            out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
            ++i;
        }
    }
    return out;
}

// One error line on stderr, whatever the message holds.
void report_error(const std::string& message) { std::fprintf(stderr, "error: %s\n", printable(message).c_str()); }

std::vector<std::string> read_labels(const std::string& path, std::int64_t classes) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fovea::detail::fail(path, ": cannot open labels file");
    if (!S_ISREG(st.st_mode)) fovea::detail::fail(path, ": labels must be a regular file");
    if (st.st_size > 64ll * 1024 * 1024) fovea::detail::fail(path, ": labels file over 64 MB");
    std::ifstream f(path);
    if (!f) fovea::detail::fail(path, ": cannot open labels file");
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
    }
    if (out.empty()) fovea::detail::fail(path, ": no labels in the file");
    if (classes > 0 && static_cast<std::int64_t>(out.size()) != classes)
        fovea::detail::fail(path, ": ", out.size(), " labels for a model with ", classes, " classes");
    return out;
}

// The process's own peak resident memory (VmHWM), not ru_maxrss: that one keeps a parent's peak
// across exec (started from a Python process holding PyTorch, it reported gigabytes).
double peak_rss_mb() {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

// Standard output went away (a pipe's reader exited): stop, with the files written so far completed.
struct StdoutClosed {};

struct Output {
    bool json = false;
    int top_k = 5;
    std::vector<std::string> labels;
    fovea::NpyWriter logits, features, input;
    std::optional<fovea::Tensor<float, 2>> text;  // zero-shot: the class text embeddings
    fovea::ZeroShotHead head;
};

// Top-k of each row, as text or one JSON object per line; ids name the rows.
void print_rows(const std::vector<std::vector<fovea::Prediction>>& rows, const std::vector<nlohmann::json>& ids, const Output& out) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const auto& id = ids[r];
        if (out.json) {
            nlohmann::json top = nlohmann::json::array();
            for (auto& p : rows[r])
                top.push_back({{"class", p.index}, {"label", utf8_or_escaped(p.label)}, {"prob", p.prob}, {"logit", p.logit}});
            nlohmann::json o = {{id.is_string() ? "path" : "index", id}, {"top", top}};
            std::cout << o.dump() << "\n";
        } else {
            std::cout << (id.is_string() ? printable(id.get<std::string>()) : "input " + id.dump()) << "\n";
            for (auto& p : rows[r])
                std::printf("  %6.2f%%  %-4lld %s\n", 100.0 * p.prob, static_cast<long long>(p.index), printable(p.label).c_str());
        }
        std::cout.flush();
        std::fflush(stdout);
        if (!std::cout || std::ferror(stdout)) throw StdoutClosed{};
    }
}

void run_batch(const fovea::Model& model, const fovea::Tensor<float, 4>& x, const std::vector<nlohmann::json>& ids, Output& out) {
    if (out.text) {  // zero-shot: the image embeddings against the class texts
        const fovea::ZeroShot z = fovea::zero_shot(model, x, *out.text, out.head);
        if (out.logits.is_open()) out.logits.append(z.logits.data(), z.logits.shape(0));
        print_rows(fovea::top_k(z, out.top_k, out.labels), ids, out);
        return;
    }
    const fovea::Features features = model.forward_features(x);
    const auto logits = model.forward_head(features);
    if (out.features.is_open()) {
        const auto pooled = model.forward_head(features, true);
        out.features.append(pooled.data(), pooled.shape(0));
    }
    if (out.logits.is_open()) out.logits.append(logits.data(), logits.shape(0));
    const std::int64_t per = logits.shape(0) / x.shape(0);  // global_pool '': a row per token
    std::vector<nlohmann::json> rows;
    for (std::int64_t r = 0; r < logits.shape(0); ++r) rows.push_back(per == 1 ? ids[static_cast<std::size_t>(r)] : nlohmann::json(r));
    print_rows(fovea::top_k(model, logits, out.top_k, out.labels), rows, out);
}

void progress(std::size_t done, std::size_t total) {
    static const bool tty = ::isatty(2);
    if (!tty || total < 16) return;
    const int width = 30, fill = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(static_cast<std::size_t>(fill), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - fill), ' ').c_str(), done, total);
    if (done == total) std::fputc('\n', stderr);
}

int run(int argc, char** argv) {
    Options o = parse(argc, argv);
    o.images = fovea::list_images(o.images);
    if (o.version) {
        std::cout << "fovea-classify " << fovea::version_string << "; " << fovea::compiler_name() << "; kernels "
                  << fovea::detail::kernels().name << ", " << fovea::detail::kernel_name(fovea::Precision::bf16) << ", "
                  << fovea::detail::kernel_name(fovea::Precision::int8) << "; cpu " << fovea::cpu_info().model_name << " ("
                  << fovea::cpu_info().hardware_threads << " threads); images: " << fovea::image_decoders() << "\n";
        return 0;
    }
    if (o.list_models) {
        for (auto& n : fovea::model_names()) std::cout << n << "\n";
        return 0;
    }
    if (o.threads) {
        const int set = fovea::set_num_threads(o.threads), hw = fovea::cpu_info().hardware_threads;
        if (set < o.threads && o.threads > hw)
            std::fprintf(stderr, "note: --threads %d is more than this machine's %d hardware threads; using %d\n", o.threads, hw, set);
        else if (set < o.threads)
            std::fprintf(stderr, "note: the system gave %d of the %d threads asked for (a process or memory limit); using %d\n", set, o.threads, set);
    }
    const std::string weights = o.weights.empty() ? FOVEA_DEFAULT_WEIGHTS : o.weights;
    if (weights.empty()) fovea::detail::fail("no --weights given (see --help)");
    fovea::LoadOptions load;
    load.precision = fovea::parse_precision(o.precision);
    const fovea::Model model = o.model.empty() ? fovea::load_model(weights, load) : fovea::create_model(o.model, weights, load);
    for (auto& w : model.warnings()) std::fprintf(stderr, "warning: %s\n", printable(w).c_str());
    Output out;
    out.json = o.json;
    out.top_k = o.top_k;
    const auto& cfg = model.pretrained_cfg();
    std::int64_t K = model.num_classes() ? model.num_classes() : model.num_features();
    if (!o.text_embeddings.empty()) {
        out.text = fovea::to_tensor<2>(fovea::read_npy(o.text_embeddings), o.text_embeddings);
        K = out.text->shape(0);
        out.head = o.logit_scale ? fovea::ZeroShotHead{*o.logit_scale, o.logit_bias} : fovea::zero_shot_head(model, weights);
        if (o.logit_bias) out.head.logit_bias = o.logit_bias;
        if (model.info().family == "siglip" && !out.head.logit_bias)
            fovea::detail::fail("SigLIP's zero-shot probabilities are sigmoids with a bias: give --logit-bias too");
        if (o.labels.empty()) fovea::detail::fail("--text-embeddings needs --labels: the class of each embedding, one per line");
        out.labels = read_labels(o.labels, K);
    } else {
        out.labels = o.labels.empty() ? model.label_names() : read_labels(o.labels, model.num_classes());
    }

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
        std::printf("bench: model=%s batch=%lld threads=%d precision=%s median_ms=%.3f min_ms=%.3f peak_rss_mb=%.1f "
                    "kernels='%s' compiler='%s' cpu='%s'\n",
                    model.architecture().c_str(), static_cast<long long>(x.shape(0)), fovea::num_threads(),
                    fovea::precision_name(model.precision()), ms[ms.size() / 2], ms[0], peak_rss_mb(),
                    fovea::detail::kernel_name(model.precision()), fovea::compiler_name().c_str(), fovea::cpu_info().model_name.c_str());
        return 0;
    }

    if (!o.save_logits.empty()) out.logits = fovea::NpyWriter(o.save_logits, {K});
    if (!o.save_features.empty()) out.features = fovea::NpyWriter(o.save_features, {model.num_features()});
    int status = 0;
    if (!o.input_npy.empty()) {
        const auto x = fovea::to_tensor<4>(fovea::read_npy(o.input_npy), o.input_npy);
        std::vector<nlohmann::json> ids;
        for (std::int64_t n = 0; n < x.shape(0); ++n) ids.emplace_back(n);
        run_batch(model, x, ids, out);
    } else {
        if (o.images.empty()) fovea::detail::fail("no input: give image files, --input-npy FILE or --bench N");
        const std::int64_t C = cfg.input_size[0], H = cfg.input_size[1], W = cfg.input_size[2];
        if (!o.save_input.empty()) out.input = fovea::NpyWriter(o.save_input, {C, H, W});
        const std::size_t batch = o.batch_size ? static_cast<std::size_t>(o.batch_size) : 8;
        std::vector<fovea::Tensor<float, 3>> ready;  // at most one batch
        std::vector<nlohmann::json> ids;
        auto flush = [&] {
            if (ready.empty()) return;
            fovea::Tensor<float, 4> x({static_cast<std::int64_t>(ready.size()), C, H, W});
            for (std::size_t i = 0; i < ready.size(); ++i)
                std::copy(ready[i].data(), ready[i].data() + ready[i].size(), x.data() + static_cast<std::int64_t>(i) * C * H * W);
            if (out.input.is_open()) out.input.append(x.data(), x.shape(0));
            run_batch(model, x, ids, out);
            ready.clear();
            ids.clear();
        };
        for (std::size_t i = 0; i < o.images.size(); ++i) {
            try {  // a file that cannot be read is reported and skipped; the others are still classified
                const auto img = fovea::load_image(o.images[i], static_cast<int>(C == 1 ? 1 : 3));
                ready.push_back(fovea::preprocess_image(fovea::convert_channels(img, C), cfg));
                ids.emplace_back(out.json ? utf8_or_escaped(o.images[i]) : o.images[i]);
            } catch (const fovea::Error& e) {
                report_error(e.what());
                status = 1;
            }
            if (ready.size() == batch) flush();
            progress(i + 1, o.images.size());
        }
        flush();
    }
    out.logits.close();
    out.features.close();
    out.input.close();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(SIGPIPE)  // Windows has no SIGPIPE: a closed pipe is already a write error there
    signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error to report, not a signal that kills
#endif
    try {
        return run(argc, argv);
    } catch (const StdoutClosed&) {
        report_error("standard output was closed; stopped (saved .npy files hold the rows printed so far)");
    } catch (const std::bad_alloc&) {
        report_error("out of memory (a smaller --batch-size needs less)");
    } catch (const std::exception& e) {
        report_error(e.what());
    }
    return 1;
}

// fovea-embed: image search with a model's embeddings (CLIP, SigLIP, DINOv2, or any classifier's
// pooled features; see fovea::embed).
//   fovea-embed --weights DIR photos/ --out index.npy        # index.npy [N, D] + index.txt (the paths)
//   fovea-embed --weights DIR --index index.npy --query q.jpg --top-k 5
// Indexing streams: each batch is decoded, embedded and appended before the next is read. Search
// is exact: the cosine similarity (a dot product of L2-normalised rows) with every indexed image.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <fovea/fovea.hpp>

#ifndef FOVEA_DEFAULT_WEIGHTS
#define FOVEA_DEFAULT_WEIGHTS ""
#endif

namespace {

struct Options {
    std::string weights, model, precision = "f32", out, index;
    std::vector<std::string> images, queries;
    int top_k = 5, threads = 0, batch_size = 8;
    bool json = false;
};

void usage() {
    std::puts(
        "usage: fovea-embed [options] IMAGE... --out INDEX.npy        build an index\n"
        "       fovea-embed [options] --index INDEX.npy --query IMAGE...  search it\n"
        "  IMAGE...              image files; a folder: the image files under it, recursively, sorted\n"
        "  --out FILE.npy        write the L2-normalised embeddings [N, D] as float32 .npy, and the\n"
        "                        images' paths, one per line in row order, to FILE.txt beside it\n"
        "  --index FILE.npy      an index written by --out (with its FILE.txt), built by the same model\n"
        "  --query IMAGE...      images (or folders) to look up: the --top-k most similar indexed images\n"
        "  --top-k K             neighbours per query (default 5)\n"
        "  --json                print each query's neighbours as one JSON object per line\n"
        "  --weights PATH        model.safetensors, or a folder with model.safetensors + config.json\n"
        "                        (default: the bundled Fashion-MNIST ViT)\n"
        "  --model NAME          preset name (default: from config.json or the file's metadata)\n"
        "  --precision P         f32 (default), bf16 or int8\n"
        "  --batch-size B        images per forward pass (default 8)\n"
        "  --threads N           threads (default: all cores)");
}

int to_int(const std::string& flag, const std::string& v, int lo, int hi) {
    const auto n = fovea::detail::parse_integer(v, lo, hi);
    if (!n) fovea::detail::fail(flag, " expects an integer in [", lo, ", ", hi, "], got '", v.substr(0, 40), "'");
    return static_cast<int>(*n);
}

Options parse(int argc, char** argv) {
    Options o;
    std::vector<std::string>* positional = &o.images;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fovea::detail::fail(a, " needs a value");
            return argv[++i];
        };
        if (a == "--weights") o.weights = value();
        else if (a == "--model") o.model = value();
        else if (a == "--precision") o.precision = value();
        else if (a == "--out") o.out = value();
        else if (a == "--index") o.index = value();
        else if (a == "--query") positional = &o.queries;
        else if (a == "--top-k") o.top_k = to_int(a, value(), 1, 1'000'000);
        else if (a == "--threads") o.threads = to_int(a, value(), 1, 1'000'000);
        else if (a == "--batch-size") o.batch_size = to_int(a, value(), 1, 4096);
        else if (a == "--json") o.json = true;
        else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
        else if (a.rfind("--", 0) == 0) fovea::detail::fail("unknown argument '", a.substr(0, 80), "' (see --help)");
        else positional->push_back(a);
    }
    if (o.out.empty() == o.index.empty()) fovea::detail::fail("give --out (to build an index) or --index (to search one) (see --help)");
    if (!o.out.empty() && (o.images.empty() || !o.queries.empty())) fovea::detail::fail("--out needs images to index, and no --query");
    if (!o.index.empty() && (o.queries.empty() || !o.images.empty())) fovea::detail::fail("--index needs --query IMAGE...");
    return o;
}

// FILE.npy -> FILE.txt: the paths of an index's rows.
std::string paths_file(const std::string& npy) { return std::filesystem::path(npy).replace_extension(".txt").string(); }

// A path as JSON (invalid UTF-8 replaced), and for text output when it holds control bytes.
std::string quoted(const std::string& s) { return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string shown(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }) ? quoted(s) : s;
}

void progress(std::size_t done, std::size_t total) {
    static const bool tty = ::isatty(2);
    if (!tty || total < 16) return;
    const int width = 30, fill = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(static_cast<std::size_t>(fill), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - fill), ' ').c_str(), done, total);
    if (done == total) std::fputc('\n', stderr);
}

// Embeddings of `paths`, a batch at a time, handed to sink(rows, first path index).
template <class Sink>
void embed_all(const fovea::Model& model, const std::vector<std::string>& paths, int batch, Sink&& sink) {
    for (std::size_t i = 0; i < paths.size(); i += static_cast<std::size_t>(batch)) {
        const std::vector<std::string> part(paths.begin() + static_cast<std::ptrdiff_t>(i),
                                            paths.begin() + static_cast<std::ptrdiff_t>(std::min(paths.size(), i + static_cast<std::size_t>(batch))));
        sink(fovea::embed(model, fovea::preprocess(model, part)), i);
        progress(i + part.size(), paths.size());
    }
}

int build_index(const fovea::Model& model, const Options& o) {
    const std::vector<std::string> paths = fovea::list_images(o.images);
    for (auto& p : paths)
        if (p.find('\n') != std::string::npos || p.find('\r') != std::string::npos)
            fovea::detail::fail(shown(p), ": a path with a line break cannot be listed in ", paths_file(o.out));
    fovea::NpyWriter rows;
    std::ofstream names;
    std::int64_t width = 0;
    embed_all(model, paths, o.batch_size, [&](const fovea::Tensor<float, 2>& e, std::size_t first) {
        if (!rows.is_open()) {  // the width is known from the first batch
            width = e.shape(1);
            rows = fovea::NpyWriter(o.out, {width});
            names.open(paths_file(o.out), std::ios::binary);
            if (!names) fovea::detail::fail(paths_file(o.out), ": cannot write file");
        }
        rows.append(e.data(), e.shape(0));
        for (std::int64_t r = 0; r < e.shape(0); ++r) names << paths[first + static_cast<std::size_t>(r)] << '\n';
        if (!names) fovea::detail::fail(paths_file(o.out), ": write failed (disk full?)");
    });
    rows.close();
    names.close();
    if (!names) fovea::detail::fail(paths_file(o.out), ": write failed (disk full?)");
    std::fprintf(stderr, "fovea-embed: %zu images, %lld-dimensional embeddings -> %s, %s\n", paths.size(),
                 static_cast<long long>(width), o.out.c_str(), paths_file(o.out).c_str());
    return 0;
}

int search(const fovea::Model& model, const Options& o) {
    const fovea::NpyArray index = fovea::read_npy(o.index);
    if (index.shape.size() != 2) fovea::detail::fail(o.index, ": expected an index [N, D], got ", fovea::detail::dims_str(index.shape));
    const std::int64_t N = index.shape[0], D = index.shape[1];
    std::vector<std::string> names;
    {
        std::ifstream f(paths_file(o.index), std::ios::binary);
        if (!f) fovea::detail::fail(paths_file(o.index), ": cannot open the index's list of paths");
        for (std::string line; std::getline(f, line) && static_cast<std::int64_t>(names.size()) <= N;) names.push_back(line);
    }
    if (static_cast<std::int64_t>(names.size()) != N)
        fovea::detail::fail(paths_file(o.index), ": ", names.size() > static_cast<std::size_t>(N) ? "more" : "fewer", " paths than the ", N,
                            " rows of ", o.index);
    const std::vector<std::string> queries = fovea::list_images(o.queries);
    const std::int64_t k = std::min<std::int64_t>(o.top_k, N);
    std::vector<double> score(static_cast<std::size_t>(N));
    std::vector<std::int64_t> order(static_cast<std::size_t>(N));
    embed_all(model, queries, o.batch_size, [&](const fovea::Tensor<float, 2>& e, std::size_t first) {
        if (e.shape(1) != D)
            fovea::detail::fail(o.index, ": its embeddings have ", D, " dimensions, this model's ", e.shape(1), ": build the index with the same model");
        for (std::int64_t q = 0; q < e.shape(0); ++q) {
            for (std::int64_t n = 0; n < N; ++n) {
                double s = 0;
                for (std::int64_t d = 0; d < D; ++d) s += double(e(q, d)) * index.data[static_cast<std::size_t>(n * D + d)];
                score[static_cast<std::size_t>(n)] = s;
            }
            std::iota(order.begin(), order.end(), 0);
            std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](std::int64_t a, std::int64_t b) {
                const double sa = score[static_cast<std::size_t>(a)], sb = score[static_cast<std::size_t>(b)];
                return sa > sb || (sa == sb && a < b);
            });
            const std::string& path = queries[first + static_cast<std::size_t>(q)];
            if (o.json) {
                nlohmann::json hits = nlohmann::json::array();
                for (std::int64_t i = 0; i < k; ++i) {
                    const auto n = static_cast<std::size_t>(order[static_cast<std::size_t>(i)]);
                    hits.push_back({{"index", n}, {"path", names[n]}, {"score", score[n]}});
                }
                std::cout << nlohmann::json({{"query", path}, {"neighbours", hits}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                          << "\n";
            } else {
                std::cout << shown(path) << "\n";
                for (std::int64_t i = 0; i < k; ++i) {
                    const auto n = static_cast<std::size_t>(order[static_cast<std::size_t>(i)]);
                    std::printf("  %8.5f  %s\n", score[n], shown(names[n]).c_str());
                }
            }
            std::cout.flush();
            std::fflush(stdout);
            if (!std::cout || std::ferror(stdout)) fovea::detail::fail("standard output was closed; stopped");
        }
    });
    return 0;
}

int run(int argc, char** argv) {
    const Options o = parse(argc, argv);
    if (o.threads) fovea::set_num_threads(o.threads);
    const std::string weights = o.weights.empty() ? FOVEA_DEFAULT_WEIGHTS : o.weights;
    if (weights.empty()) fovea::detail::fail("no --weights given (see --help)");
    fovea::LoadOptions load;
    load.precision = fovea::parse_precision(o.precision);
    const fovea::Model model = o.model.empty() ? fovea::load_model(weights, load) : fovea::create_model(o.model, weights, load);
    return o.out.empty() ? search(model, o) : build_index(model, o);
}

}  // namespace

int main(int argc, char** argv) {
#if defined(SIGPIPE)
    signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error to report, not a signal that kills
#endif
    try {
        return run(argc, argv);
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "error: out of memory (a smaller --batch-size needs less)\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", shown(e.what()).c_str());
    }
    return 1;
}

// fovea-visualize: pictures of what a model sees, as PNG files.
//   fovea-visualize IMAGE... --out DIR                       # bundled Fashion-MNIST ViT: rollout, attention, PCA
//   fovea-visualize --weights DIR IMAGE... --out DIR [--rollout] [--attention BLOCK] [--pca] [--embeddings]
//   fovea-visualize --weights DIR --input-npy x.npy --save-attention attn.npy --block 11
//   fovea-visualize --weights DIR --scatter FOLDER --out DIR  # a data set's embeddings, PCA to 2-D
#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fovea/fovea.hpp>
#include <fovea/visualize.hpp>

#include "plot.hpp"
#ifdef FOVEA_VISUALIZE_ZLIB
#include "../fashion_mnist/idx.hpp"
#endif

#ifndef FOVEA_DEFAULT_WEIGHTS
#define FOVEA_DEFAULT_WEIGHTS ""
#endif

namespace fs = std::filesystem;

namespace {

struct Options {
    std::string weights = FOVEA_DEFAULT_WEIGHTS, out, precision = "f32", input_npy, save_attention, block, scatter;
    std::vector<std::string> images;
    std::string attention;  // block for --attention ("" none)
    bool rollout = false, pca = false, embeddings = false, defaults = false;
    std::int64_t limit = 0, size = 224;  // size: the longer side of an image's pictures, at least
};

void usage() {
    std::puts(
        "usage: fovea-visualize [--weights DIR] IMAGE... --out DIR [--rollout] [--attention BLOCK] [--pca] [--embeddings]\n"
        "       fovea-visualize [--weights DIR] --input-npy FILE --save-attention FILE.npy --block BLOCK\n"
        "       fovea-visualize [--weights DIR] --scatter FOLDER --out DIR [--limit N]\n"
        "  --weights PATH         a timm folder or .safetensors (default: the bundled Fashion-MNIST ViT)\n"
        "  --out DIR              where the PNGs go (created)\n"
        "  --rollout              attention rollout from the class token (ViT family)        IMAGE_rollout.png\n"
        "  --attention BLOCK      one block's attention per head: from the class token (ViT family; without one,\n"
        "                         the patch tokens' mean), received within windows (Swin)    IMAGE_attention_BLOCK.png\n"
        "  --pca                  first 3 principal components of the patch features as RGB, one basis for all\n"
        "                         the images (Swin: each stage)                                      pca.png\n"
        "  --embeddings           patch-embedding filters' principal components and position-embedding\n"
        "                         similarity (ViT paper, figure 7)     embedding_filters.png position_similarity.png\n"
        "                         With images and none of the first three: rollout (ViT family), attention of the last\n"
        "                         block and PCA.\n"
        "  BLOCK                  an index (negative: from the end) or a name: blocks.11, layers.2.blocks.5\n"
        "  --input-npy FILE       float32 [N, C, H, W], already preprocessed\n"
        "  --save-attention FILE  write --block's softmax attention as float32 .npy: [N, heads, T, T]\n"
        "                         (Swin: [N, heads, windows, w*w, w*w])\n"
        "  --scatter FOLDER       pooled embeddings of a data set, PCA to 2-D, one colour per class: scatter.png.\n"
        "                         FOLDER: a Fashion-MNIST folder (t10k-*-ubyte.gz), images in one subfolder\n"
        "                         per class, or images alone (coloured by the model's prediction)\n"
        "  --limit N              at most N images of the data set\n"
        "  --size PX              images shown with the longer side at least PX pixels (default 224)\n"
        "  --precision P          f32 (default), bf16 or int8");
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fovea::detail::fail(a, " needs a value");
            return argv[++i];
        };
        if (a == "--weights") o.weights = value();
        else if (a == "--out") o.out = value();
        else if (a == "--rollout") o.rollout = true;
        else if (a == "--attention") o.attention = value();
        else if (a == "--pca") o.pca = true;
        else if (a == "--embeddings") o.embeddings = true;
        else if (a == "--input-npy") o.input_npy = value();
        else if (a == "--save-attention") o.save_attention = value();
        else if (a == "--block") o.block = value();
        else if (a == "--scatter") o.scatter = value();
        else if (a == "--precision") o.precision = value();
        else if (a == "--limit" || a == "--size") {
            const std::string v = value();
            const long long most = a == "--size" ? 1024 : LLONG_MAX;
            const auto n = fovea::detail::parse_integer(v, 1, most);
            if (!n) fovea::detail::fail(a, a == "--size" ? " expects an integer in [1, 1024]" : " expects a positive integer", ", got '", v.substr(0, 40), "'");
            (a == "--limit" ? o.limit : o.size) = *n;
        } else if (a == "-h" || a == "--help") {
            usage();
            std::exit(0);
        } else if (a.size() > 1 && a[0] == '-') {
            fovea::detail::fail("unknown option '", a.substr(0, 40), "' (--help lists them)");
        } else {
            o.images.push_back(a);
        }
    }
    if (o.weights.empty()) fovea::detail::fail("--weights is needed (this build has no bundled model)");
    const bool pictures = !o.images.empty() || o.embeddings || !o.scatter.empty();
    if (!pictures && o.save_attention.empty()) fovea::detail::fail("nothing to do: give images, --embeddings, --scatter or --save-attention (--help)");
    if (pictures && o.out.empty()) fovea::detail::fail("--out DIR is needed for the pictures");
    if (!o.save_attention.empty() && (o.input_npy.empty() || o.block.empty()))
        fovea::detail::fail("--save-attention needs --input-npy FILE and --block BLOCK");
    if (o.save_attention.empty() && (!o.input_npy.empty() || !o.block.empty()))
        fovea::detail::fail("--input-npy and --block go with --save-attention");
    if (o.images.empty() && (o.rollout || o.pca || !o.attention.empty())) fovea::detail::fail("--rollout, --attention and --pca need images");
    if (!o.images.empty() && !o.rollout && !o.pca && o.attention.empty()) {
        o.rollout = o.pca = o.defaults = true;  // rollout is dropped below for Swin
        o.attention = "-1";
    }
    return o;
}

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

std::string save(const Options& o, const std::string& name, const fovea::Picture& p) {
    const std::string path = (fs::path(o.out) / name).string();
    plot::write_png(path, p);
    std::printf("%s  %lldx%lld\n", path.c_str(), static_cast<long long>(p.width), static_cast<long long>(p.height));
    return path;
}

void save_attention(const Options& o, const fovea::Model& model) {
    const fovea::NpyArray a = fovea::read_npy(o.input_npy);
    if (a.shape.size() != 4) fovea::detail::fail(o.input_npy, ": expected [N, C, H, W], got ", a.shape.size(), " dimensions");
    const fovea::TensorView<const float, 4> x(a.data.data(), {a.shape[0], a.shape[1], a.shape[2], a.shape[3]});
    const std::string block = fovea::attention_block(model, o.block);
    const auto r = fovea::inspect(model, x, {{block}, {}});
    const auto& m = r.attention_of(block);
    const auto& s = m.probs.shape();
    std::vector<std::int64_t> shape{s[0], s[1], s[2], s[3], s[4]};
    if (m.token_pos.empty()) shape.erase(shape.begin() + 2);  // global attention: [N, heads, T, T]
    fovea::write_npy(o.save_attention, m.probs.data(), shape);
    std::printf("%s  %s attention [", o.save_attention.c_str(), block.c_str());
    for (std::size_t i = 0; i < shape.size(); ++i) std::printf("%s%lld", i ? ", " : "", static_cast<long long>(shape[i]));
    std::puts("]");
}

void embeddings(const Options& o, const fovea::Model& model) {
    const auto filters = model.patch_embed_filters();
    if (filters.empty()) fovea::detail::fail(model.architecture(), ": no patch embedding to show");
    const std::int64_t E = filters.shape(0), p = filters.shape(2), K = filters.shape(1) * p * p;
    const std::int64_t count = std::min<std::int64_t>({28, E - 1, K});
    const auto pcs = fovea::patch_embed_components(model, count);
    const std::int64_t size = fovea::display_scale(p, p, 48) * p;
    std::vector<fovea::Picture> cells;
    for (std::int64_t i = 0; i < count; ++i)
        cells.push_back(fovea::filter_picture(pcs.view()[i], size, size));
    save(o, "embedding_filters.png",
         plot::titled(fovea::tile(cells, 7, 3), "patch embedding: first " + std::to_string(count) + " principal components"));

    if (!model.absolute_pos_embed().empty()) {
        const auto sim = fovea::position_similarity(model);
        const std::int64_t gh = sim.shape(0), gw = sim.shape(1), cell = fovea::display_scale(gh, gw, 40) * std::max(gh, gw);
        std::vector<fovea::Picture> maps;
        for (std::int64_t i = 0; i < gh; ++i)
            for (std::int64_t j = 0; j < gw; ++j) {
                const fovea::TensorView<const float, 2> m(&sim(i, j, 0, 0), {gh, gw});
                maps.push_back(fovea::heatmap(m, cell * gh / std::max(gh, gw), cell * gw / std::max(gh, gw), -1.0, 1.0, false));
            }
        save(o, "position_similarity.png",
             plot::titled(fovea::tile(maps, gw, 2), "position embedding similarity (cosine, -1 dark to 1 yellow)"));
    }
}

void image_pictures(const Options& o, const fovea::Model& model) {
    const auto x = fovea::preprocess(model, o.images);
    const std::int64_t N = x.shape(0), H = x.shape(2), W = x.shape(3), s = fovea::display_scale(H, W, o.size);
    const bool swin = model.info().family == "swin";
    const std::int64_t P = model.prefix_tokens();
    if (o.rollout && swin && !o.defaults) fovea::detail::fail("--rollout needs global attention (ViT family), not Swin's windows");
    const bool rollout = o.rollout && !swin;
    fovea::InspectOptions what;
    const std::string block = o.attention.empty() ? "" : fovea::attention_block(model, o.attention);
    if (rollout) what.attention = {"*"};
    else if (!block.empty()) what.attention = {block};
    std::vector<std::string> stages;  // whose tokens --pca shows
    if (o.pca) {
        if (swin) {  // each stage's last block: "layers.I.blocks.J" followed by another stage's, or last
            const auto names = model.block_names();
            const auto stage = [](const std::string& b) { return b.substr(0, b.find(".blocks.")); };
            for (std::size_t i = 0; i < names.size(); ++i)
                if (i + 1 == names.size() || stage(names[i + 1]) != stage(names[i])) stages.push_back(names[i]);
        } else {
            stages.push_back("features");
        }
        what.tokens = stages;
    }
    const auto r = fovea::inspect(model, x, what);

    std::vector<fovea::Tensor<float, 4>> rgb;  // per stage [N, h, w, 3], one PCA basis over all the images
    for (auto& st : stages) rgb.push_back(fovea::pca_rgb(r.tokens_of(st).grid()));
    const auto rolled = rollout ? fovea::attention_rollout(r.attention, P, model.info().class_token) : fovea::Tensor<float, 3>();
    fovea::Tensor<float, 4> heads;
    if (!block.empty()) {
        const auto& m = r.attention_of(block);
        heads = swin ? fovea::window_attention_received(m) : fovea::token_attention(m, P, model.info().class_token ? 0 : -1);
    }
    const std::string from = model.info().class_token ? "class token" : "patch tokens' mean";
    std::vector<fovea::Picture> pca_cells;
    for (std::int64_t n = 0; n < N; ++n) {
        const std::string name = stem(o.images[static_cast<std::size_t>(n)]);
        const fovea::Picture in = fovea::input_picture(x, n, model.pretrained_cfg(), s);
        const auto input = plot::captioned(in, "input");
        if (rollout) {
            const auto& t = rolled;
            const fovea::TensorView<const float, 2> map(t.data() + n * t.shape(1) * t.shape(2), {t.shape(1), t.shape(2)});
            const auto heat = fovea::heatmap(map, in.height, in.width);
            save(o, name + "_rollout.png",
                 plot::titled(fovea::tile({input, plot::captioned(fovea::overlay(in, heat), "rollout"), plot::captioned(heat, "map")}, 3, 6),
                              "attention rollout from the " + from + " over " + std::to_string(r.attention.size()) + " blocks"));
        }
        if (!block.empty()) {
            std::vector<fovea::Picture> cells{input};
            const std::int64_t Hh = heads.shape(1), gh = heads.shape(2), gw = heads.shape(3);
            for (std::int64_t h = 0; h < Hh; ++h) {
                const fovea::TensorView<const float, 2> map(&heads(n, h, 0, 0), {gh, gw});
                cells.push_back(plot::captioned(fovea::overlay(in, fovea::heatmap(map, in.height, in.width)), "head " + std::to_string(h)));
            }
            const std::string what_map = swin ? "attention received within each window" : "attention from the " + from;
            const std::int64_t rows = (Hh + 1 + 7) / 8;  // at most 8 a row, rows of even length
            save(o, name + "_attention_" + block + ".png",
                 plot::titled(fovea::tile(cells, (Hh + rows) / rows, 6), block + ": " + what_map));
        }
        if (o.pca) {
            pca_cells.push_back(input);
            for (std::size_t i = 0; i < stages.size(); ++i) {
                const auto& t = rgb[i];
                const fovea::TensorView<const float, 3> map(t.data() + n * t.shape(1) * t.shape(2) * 3, {t.shape(1), t.shape(2), 3});
                pca_cells.push_back(plot::captioned(fovea::rgb_picture(map, in.height, in.width), swin ? "stage " + std::to_string(i) : "PCA"));
            }
        }
    }
    if (o.pca) {  // one picture: the colours mean the same in every image
        const auto per = static_cast<std::int64_t>(stages.size()) + 1;
        const std::int64_t side_by_side = per > 2 ? 1 : std::min<std::int64_t>(N, 4);
        save(o, "pca.png",
             plot::titled(fovea::tile(pca_cells, per * side_by_side, 6),
                          "patch features (" + std::string(swin ? "each stage" : "after the final norm") +
                              "): first 3 principal components as RGB, one basis for " + std::to_string(N) + " image" +
                              (N > 1 ? "s" : "")));
    }
}

bool is_image(const fs::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* k : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".pnm"})
        if (e == k) return true;
    return false;
}

void scatter(const Options& o, const fovea::Model& model) {
    plot::Scatter sc;
    std::vector<fovea::Image> images;  // decoded in batches below, or the data set's pixels
    std::vector<std::string> files;
    std::vector<std::int64_t> labels;  // -1: the model's prediction
    const fs::path root(o.scatter);
    const std::size_t limit = o.limit > 0 ? static_cast<std::size_t>(o.limit) : SIZE_MAX;
    std::string source = root.filename().empty() ? root.parent_path().filename().string() : root.filename().string();
    if (fs::exists(root / "t10k-images-idx3-ubyte.gz")) {
#ifdef FOVEA_VISUALIZE_ZLIB
        std::vector<std::int64_t> idims, ldims;
        const auto pixels = fmnist::read_idx((root / "t10k-images-idx3-ubyte.gz").string(), idims);
        const auto l = fmnist::read_idx((root / "t10k-labels-idx1-ubyte.gz").string(), ldims);
        if (idims.size() != 3 || ldims.size() != 1 || ldims[0] != idims[0]) fovea::detail::fail(o.scatter, ": the idx files do not match");
        const auto n = std::min<std::size_t>(static_cast<std::size_t>(idims[0]), limit);
        const std::size_t hw = static_cast<std::size_t>(idims[1] * idims[2]);
        for (std::size_t i = 0; i < n; ++i) {
            images.push_back({idims[2], idims[1], 1, {pixels.begin() + static_cast<std::ptrdiff_t>(i * hw), pixels.begin() + static_cast<std::ptrdiff_t>((i + 1) * hw)}});
            if (l[i] >= 10) fovea::detail::fail(o.scatter, ": label ", int(l[i]), " of image ", i, " is not a Fashion-MNIST class");
            labels.push_back(l[i]);
        }
        sc.names.assign(std::begin(fmnist::kClassNames), std::end(fmnist::kClassNames));
        source = "Fashion-MNIST test set";
#else
        fovea::detail::fail(o.scatter, ": reading Fashion-MNIST needs zlib, which this build was made without");
#endif
    } else {
        if (!fs::is_directory(root)) fovea::detail::fail(o.scatter, ": not a folder");
        std::vector<fs::path> dirs;
        for (auto& e : fs::directory_iterator(root))
            if (e.is_directory()) dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        auto add = [&](const fs::path& dir, std::int64_t label) {
            std::vector<std::string> found;
            for (auto& e : fs::directory_iterator(dir))
                if (e.is_regular_file() && is_image(e.path())) found.push_back(e.path().string());
            std::sort(found.begin(), found.end());
            for (auto& f : found) files.push_back(f), labels.push_back(label);
        };
        if (!dirs.empty()) {  // one class per subfolder, as torchvision's ImageFolder
            for (auto& d : dirs) {
                add(d, static_cast<std::int64_t>(sc.names.size()));
                sc.names.push_back(d.filename().string());
            }
        } else {
            add(root, -1);
            sc.names = model.label_names();
        }
        if (files.size() > limit) files.resize(limit), labels.resize(limit);
        if (files.empty()) fovea::detail::fail(o.scatter, ": no images (PNG, JPEG, BMP, GIF, PNM) found");
    }
    const std::size_t n = std::max(images.size(), files.size());
    if (n < 3) fovea::detail::fail(o.scatter, ": a scatter plot needs at least 3 images, found ", n);
    fovea::Tensor<float, 2> emb;
    std::vector<std::size_t> predicted;
    for (std::size_t s = 0; s < n; s += 256) {  // batches: decoded, run and dropped
        const std::size_t e = std::min(n, s + 256);
        fovea::Tensor<float, 4> x;
        if (!images.empty()) x = fovea::preprocess(model, std::vector<fovea::Image>(images.begin() + static_cast<std::ptrdiff_t>(s), images.begin() + static_cast<std::ptrdiff_t>(e)));
        else x = fovea::preprocess(model, std::vector<std::string>(files.begin() + static_cast<std::ptrdiff_t>(s), files.begin() + static_cast<std::ptrdiff_t>(e)));
        const auto r = fovea::inspect(model, x);
        if (emb.empty()) emb = fovea::Tensor<float, 2>({static_cast<std::int64_t>(n), r.pooled.shape(1)});
        std::copy_n(r.pooled.data(), r.pooled.size(), emb.data() + static_cast<std::int64_t>(s) * emb.shape(1));
        const std::int64_t K = r.output.shape(1);
        for (std::int64_t i = 0; i < r.output.shape(0); ++i) {
            const float* l = r.output.data() + i * K;
            predicted.push_back(static_cast<std::size_t>(std::max_element(l, l + K) - l));
        }
    }
    const fovea::Pca p = fovea::pca(emb, 2);
    for (std::size_t i = 0; i < n; ++i) {
        sc.points.push_back({p.scores(static_cast<std::int64_t>(i), 0), p.scores(static_cast<std::int64_t>(i), 1)});
        if (labels[i] >= 0) {
            sc.category.push_back(static_cast<std::size_t>(labels[i]));
        } else {  // coloured by prediction
            if (model.num_classes() == 0) fovea::detail::fail("--scatter: a folder without class subfolders needs a model with a head");
            if (sc.names.size() < static_cast<std::size_t>(model.num_classes()))
                for (std::int64_t c = static_cast<std::int64_t>(sc.names.size()); c < model.num_classes(); ++c) sc.names.push_back("class " + std::to_string(c));
            sc.category.push_back(predicted[i]);
        }
    }
    if (labels[0] < 0) {  // keep only the predicted classes in the legend, in class order
        std::vector<std::size_t> used(sc.category);
        std::sort(used.begin(), used.end());
        used.erase(std::unique(used.begin(), used.end()), used.end());
        std::vector<std::string> names;
        for (auto& c : sc.category) c = static_cast<std::size_t>(std::lower_bound(used.begin(), used.end(), c) - used.begin());
        for (auto u : used) names.push_back(sc.names[u] + " (predicted)");
        sc.names = names;
    }
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s: %zu images", source.c_str(), n);
    sc.title = buf;
    const fs::path w(o.weights);
    sc.subtitle = "pooled embeddings of " + (w.filename().empty() ? w.parent_path() : w).filename().string() +
                  ", on their first two principal components";
    std::snprintf(buf, sizeof buf, "PC 1 (%.1f%% of the variance)", 100 * p.explained_ratio[0]);
    sc.x_label = buf;
    std::snprintf(buf, sizeof buf, "PC 2 (%.1f%%)", 100 * p.explained_ratio[1]);
    sc.y_label = buf;
    save(o, "scatter.png", plot::scatter(sc));
}

int run(int argc, char** argv) {
    const Options o = parse(argc, argv);
    fovea::LoadOptions lo;
    lo.precision = fovea::parse_precision(o.precision);
    const fovea::Model model = fovea::load_model(o.weights, lo);
    if (!o.out.empty()) fs::create_directories(o.out);
    if (!o.save_attention.empty()) save_attention(o, model);
    if (o.embeddings) embeddings(o, model);
    if (!o.images.empty()) image_pictures(o, model);
    if (!o.scatter.empty()) scatter(o, model);
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

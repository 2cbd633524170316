// Pictures of what a model sees (include/fovea/visualize): attention probabilities, rollout, one
// query's attention, Swin's windows placed back on the map and the attention they receive, PCA and
// the ViT paper's weight pictures, each against timm and NumPy (tests/tools/make_visualize_fixtures.py:
// tests/data/visualize/<model>.safetensors); fovea-visualize's PNGs and .npy end to end.
#include <cstdlib>
#include <random>
#include <sstream>

#include <fovea/io/image.hpp>
#include <fovea/visualize.hpp>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

constexpr double kTol = 1e-5;  // probabilities, rollout, similarities and PCA colours are O(1)

struct Refs {
    std::shared_ptr<const fovea::SafeTensorsFile> file;
    explicit Refs(const std::string& name)
        : file(fovea::SafeTensorsFile::open(std::string(FOVEA_TEST_DATA) + "/visualize/" + name + ".safetensors")) {}
    bool has(const std::string& k) const { return file->find(k) != nullptr; }
    std::vector<float> get(const std::string& k) const {
        const auto* t = file->find(k);
        if (!t) throw std::runtime_error("no reference '" + k + "'");
        return file->read(*t);
    }
    std::vector<std::int64_t> shape(const std::string& k) const { return file->find(k)->shape; }
    template <std::size_t R>
    fovea::Tensor<float, R> tensor(const std::string& k) const {
        const auto s = shape(k);
        EXPECT_EQ(s.size(), R) << k;
        std::array<std::int64_t, R> a{};
        std::copy_n(s.begin(), R, a.begin());
        fovea::Tensor<float, R> t(a);
        const auto v = get(k);
        std::copy(v.begin(), v.end(), t.data());
        return t;
    }
};

bool bundled(const std::string& name) { return name.find("fashion_mnist") != std::string::npos; }

fovea::Model model_for(const std::string& name) {
    return fovea::load_model(bundled(name) ? std::string(FOVEA_SOURCE_DIR) + "/examples/fashion_mnist/models/" + name
                                           : std::string(FOVEA_TEST_DATA) + "/" + name);
}

// max |got - ref| over n values (NaN: infinite), after checking the element counts agree
double max_abs(const float* got, std::int64_t n, const std::vector<float>& ref) {
    EXPECT_EQ(static_cast<std::size_t>(n), ref.size());
    return compare(got, ref.data(), std::min<std::int64_t>(n, static_cast<std::int64_t>(ref.size()))).max_err;
}

template <typename T>
std::vector<std::int64_t> dims(const T& t) {
    return {t.shape().begin(), t.shape().end()};
}

const std::vector<std::string> kVit = {"vit_base_patch16_224", "deit_tiny_distilled_patch16_224", "vit_base_patch16_reg4_gap_256",
                                       "vit_dynamic_24x40",    "beit_base_patch16_224",           "vit_fashion_mnist"};
const std::vector<std::string> kSwin = {"swin_tiny_patch4_window7_224", "swin_pad_40", "swin_fashion_mnist"};

class VitPictures : public ::testing::TestWithParam<std::string> {};
class SwinPictures : public ::testing::TestWithParam<std::string> {};

// Every block's softmax attention [N, heads, T, T] as timm computes it (fused attention off).
TEST_P(VitPictures, AttentionIsTimms) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    const auto x = ref.tensor<4>("input");
    const auto r = fovea::inspect(model, x, {{"*"}, {}});
    ASSERT_EQ(r.attention.size(), static_cast<std::size_t>(model.info().depth));
    const auto grid = model.feature_grid(x.shape(2), x.shape(3));
    for (const auto& m : r.attention) {
        const auto s = ref.shape("attn." + m.block);  // [N, heads, T, T]
        EXPECT_EQ((std::vector<std::int64_t>{s[0], s[1], 1, s[2], s[3]}), (std::vector<std::int64_t>(m.probs.shape().begin(), m.probs.shape().end())));
        EXPECT_EQ(m.map_h, grid[0]);
        EXPECT_EQ(m.map_w, grid[1]);
        EXPECT_TRUE(m.token_pos.empty());
        EXPECT_LE(max_abs(m.probs.data(), m.probs.size(), ref.get("attn." + m.block)), kTol) << m.block;
    }
}

TEST_P(VitPictures, RolloutAndClassAttentionAreTheReferences) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    const auto r = fovea::inspect(model, ref.tensor<4>("input"), {{"*"}, {}});
    const auto P = model.prefix_tokens();
    const bool cls = model.info().class_token;
    EXPECT_EQ(cls, GetParam() != "vit_base_patch16_reg4_gap_256");
    const auto roll = fovea::attention_rollout(r.attention, P, cls);
    EXPECT_EQ(dims(roll), ref.shape("rollout"));
    EXPECT_LE(max_abs(roll.data(), roll.size(), ref.get("rollout")), kTol);
    const auto q = fovea::token_attention(r.attention.back(), P, cls ? 0 : -1);
    EXPECT_EQ(dims(q), ref.shape("token_attention"));
    EXPECT_LE(max_abs(q.data(), q.size(), ref.get("token_attention")), kTol);
}

// The tokens inspect() keeps are the stage outputs (here: the final features, timm's forward_features).
TEST_P(VitPictures, KeptTokensAreTimmsFeatures) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    const auto x = ref.tensor<4>("input");
    const auto r = fovea::inspect(model, x, {{}, {"features", "blocks.0"}});
    EXPECT_TRUE(r.attention.empty());
    const auto& f = r.tokens_of("features");
    const auto want = ref.get("features");
    const Diff d = compare(f.tokens.data(), want.data(), static_cast<std::int64_t>(want.size()));
    EXPECT_TRUE(d.ok()) << d.max_err;
    EXPECT_EQ(f.prefix_tokens, model.prefix_tokens());
    EXPECT_EQ(f.grid_h * f.grid_w + f.prefix_tokens, f.tokens.shape(1));
    EXPECT_EQ(r.tokens_of("blocks.0").tokens.shape(), f.tokens.shape());
    // keeping them changed nothing: the outputs are forward(x)'s, bit for bit
    const auto logits = model.forward(x);
    ASSERT_EQ(r.output.size(), logits.size());
    EXPECT_EQ(0, std::memcmp(r.output.data(), logits.data(), sizeof(float) * static_cast<std::size_t>(logits.size())));
}

// PCA of timm's features to RGB, against NumPy's SVD with the same sign rule.
TEST_P(VitPictures, PcaRgbIsNumpys) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    const auto feats = ref.tensor<3>("features");
    const auto grid = model.feature_grid(ref.shape("input")[2], ref.shape("input")[3]);
    const fovea::Features f{feats, model.prefix_tokens(), grid[0], grid[1]};
    const auto rgb = fovea::pca_rgb(f.grid());
    EXPECT_EQ(dims(rgb), ref.shape("pca_rgb"));
    EXPECT_LE(max_abs(rgb.data(), rgb.size(), ref.get("pca_rgb")), kTol);
}

// ViT paper figure 7: filter components (all but BEiT) and position similarity.
TEST_P(VitPictures, WeightPicturesAreNumpys) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    const auto k = ref.shape("filters_pca")[0];
    const auto pcs = fovea::patch_embed_components(model, k);
    EXPECT_EQ(dims(pcs), ref.shape("filters_pca"));
    EXPECT_LE(max_abs(pcs.data(), pcs.size(), ref.get("filters_pca")), kTol);
    if (!ref.has("position_similarity")) {
        EXPECT_THROW(fovea::position_similarity(model), fovea::Error);  // BEiT: relative positions only
        return;
    }
    const auto sim = fovea::position_similarity(model);
    EXPECT_EQ(dims(sim), ref.shape("position_similarity"));
    EXPECT_LE(max_abs(sim.data(), sim.size(), ref.get("position_similarity")), kTol);
}

INSTANTIATE_TEST_SUITE_P(Visualize, VitPictures, ::testing::ValuesIn(kVit));

// Swin: each block's windows [N, heads, windows, w*w, w*w] in timm's order, where each window token
// sits on the map (shift and padding), and the attention each token receives.
TEST_P(SwinPictures, WindowAttentionIsTimms) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    const auto r = fovea::inspect(model, ref.tensor<4>("input"), {{"*"}, {}});
    ASSERT_EQ(r.attention.size(), fovea::attention_blocks(model).size());
    for (const auto& m : r.attention) {
        EXPECT_EQ(ref.shape("attn." + m.block), (std::vector<std::int64_t>(m.probs.shape().begin(), m.probs.shape().end())));
        EXPECT_LE(max_abs(m.probs.data(), m.probs.size(), ref.get("attn." + m.block)), kTol) << m.block;
        const auto pos = ref.get("token_pos." + m.block);
        ASSERT_EQ(pos.size(), m.token_pos.size()) << m.block;
        for (std::size_t i = 0; i < pos.size(); ++i) ASSERT_EQ(static_cast<std::int64_t>(pos[i]), m.token_pos[i]) << m.block << " " << i;
        const auto recv = fovea::window_attention_received(m);
        EXPECT_EQ(dims(recv), ref.shape("received." + m.block));
        EXPECT_LE(max_abs(recv.data(), recv.size(), ref.get("received." + m.block)), kTol) << m.block;
        EXPECT_THROW(fovea::attention_rollout({m}, 0, false), fovea::Error);
        EXPECT_THROW(fovea::token_attention(m, 0, 0), fovea::Error);
    }
}

// Each stage's last block output, kept by inspect(), is timm's; its PCA picture is NumPy's.
TEST_P(SwinPictures, StageTokensAndPcaAreTheReferences) {
    const Refs ref(GetParam());
    const auto model = model_for(GetParam());
    // the last block of each stage: the block names run in order, "layers.i.blocks.j"
    std::vector<std::string> stages;
    for (const std::string& b : fovea::attention_blocks(model)) {
        const std::string layer = b.substr(0, b.find(".blocks."));
        if (!stages.empty() && stages.back().rfind(layer + ".", 0) == 0) stages.back() = b;
        else stages.push_back(b);
    }
    const auto r = fovea::inspect(model, ref.tensor<4>("input"), {{}, stages});
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const auto& f = r.tokens_of(stages[i]);
        const auto want = ref.get("stage." + std::to_string(i));  // [N, H, W, C]
        const auto s = ref.shape("stage." + std::to_string(i));
        EXPECT_EQ(f.grid_h, s[1]);
        EXPECT_EQ(f.grid_w, s[2]);
        const Diff d = compare(f.tokens.data(), want.data(), static_cast<std::int64_t>(want.size()));
        EXPECT_TRUE(d.ok()) << stages[i] << " " << d.max_err;
        const auto rgb = fovea::pca_rgb(fovea::TensorView<const float, 4>(want.data(), {s[0], s[1], s[2], s[3]}));
        EXPECT_LE(max_abs(rgb.data(), rgb.size(), ref.get("pca_rgb." + std::to_string(i))), kTol) << stages[i];
    }
    const auto pcs = fovea::patch_embed_components(model, ref.shape("filters_pca")[0]);
    EXPECT_LE(max_abs(pcs.data(), pcs.size(), ref.get("filters_pca")), kTol);
    EXPECT_THROW(fovea::position_similarity(model), fovea::Error);
}

INSTANTIATE_TEST_SUITE_P(Visualize, SwinPictures, ::testing::ValuesIn(kSwin));

// The sign rule makes PCA a function of the data: X and -X give the same scores; components are
// orthonormal, scores are the centred rows projected, variance shares add up to at most 1.
TEST(Pca, SignRuleAndProperties) {
    std::mt19937 rng(7);
    std::normal_distribution<float> g;
    const std::int64_t n = 40, D = 6;
    fovea::Tensor<float, 2> x({n, D}), neg({n, D});
    for (std::int64_t i = 0; i < n * D; ++i) x.data()[i] = g(rng) * static_cast<float>(1 + i % D), neg.data()[i] = -x.data()[i];
    const auto a = fovea::pca(x, 4), b = fovea::pca(neg, 4);
    double total = 0;
    for (std::int64_t c = 0; c < 4; ++c) {
        total += a.explained_ratio[static_cast<std::size_t>(c)];
        if (c) EXPECT_LE(a.explained_variance[static_cast<std::size_t>(c)], a.explained_variance[static_cast<std::size_t>(c - 1)]);
        double best = 0, at = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            EXPECT_NEAR(a.scores(i, c), b.scores(i, c), 1e-9);
            if (std::fabs(a.scores(i, c)) > best) best = std::fabs(a.scores(i, c)), at = a.scores(i, c);
            double s = 0;
            for (std::int64_t j = 0; j < D; ++j) s += (x(i, j) - a.mean[static_cast<std::size_t>(j)]) * a.components(c, j);
            EXPECT_NEAR(s, a.scores(i, c), 1e-9);
        }
        EXPECT_GT(at, 0);
        for (std::int64_t d = 0; d < 4; ++d) {
            double dot = 0;
            for (std::int64_t j = 0; j < D; ++j) dot += a.components(c, j) * a.components(d, j);
            EXPECT_NEAR(dot, c == d ? 1.0 : 0.0, 1e-12);
        }
    }
    EXPECT_LE(total, 1.0 + 1e-12);
    EXPECT_GT(total, 0.5);
}

TEST(Pca, BadInputIsAnError) {
    fovea::Tensor<float, 2> x({3, 2});
    EXPECT_THROW(fovea::pca(x, 3), fovea::Error);  // more components than columns
    EXPECT_THROW(fovea::pca(fovea::Tensor<float, 2>({2, 4}), 2), fovea::Error);  // 2 rows span 1 direction
    EXPECT_THROW(fovea::pca(fovea::Tensor<float, 2>({1, 4}), 1), fovea::Error);
    x(1, 1) = NAN;
    try {
        fovea::pca(x, 1);
        FAIL() << "NaN accepted";
    } catch (const fovea::Error& e) {
        EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
    }
}

TEST(Inspect, NamesAreChecked) {
    const auto model = model_for("vit_fashion_mnist");
    EXPECT_EQ(fovea::attention_block(model, "-1"), "blocks.5");
    EXPECT_EQ(fovea::attention_block(model, "2"), "blocks.2");
    EXPECT_EQ(fovea::attention_block(model, "blocks.4"), "blocks.4");
    for (const char* bad : {"6", "-7", "blocks.6", "2x", "", "layers.0.blocks.0"})
        EXPECT_THROW(fovea::attention_block(model, bad), fovea::Error) << bad;
    const fovea::Tensor<float, 4> x({1, 1, 28, 28});
    EXPECT_THROW(fovea::inspect(model, x, {{"blocks.9"}, {}}), fovea::Error);
    EXPECT_THROW(fovea::inspect(model, x, {{}, {"blocks.9"}}), fovea::Error);
    const auto swin = model_for("swin_fashion_mnist");
    EXPECT_EQ(fovea::attention_block(swin, "-1"), "layers.2.blocks.1");
    EXPECT_EQ(fovea::attention_blocks(swin).size(), 8u);
    EXPECT_THROW(fovea::attention_rollout({}, 1, true), fovea::Error);
}

// viridis is perceptually uniform: CIELAB lightness rises at a steady rate from one end to the other.
TEST(Picture, ViridisLightnessRisesEvenly) {
    auto L = [](std::array<std::uint8_t, 3> c) {
        auto lin = [](double v) { v /= 255; return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
        const double Y = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
        return Y > 216.0 / 24389 ? 116 * std::cbrt(Y) - 16 : Y * 24389.0 / 27;
    };
    EXPECT_EQ(fovea::viridis(0), (std::array<std::uint8_t, 3>{0x44, 0x01, 0x54}));
    EXPECT_EQ(fovea::viridis(1), (std::array<std::uint8_t, 3>{0xfd, 0xe7, 0x25}));
    const int steps = 16;
    const double l0 = L(fovea::viridis(0)), l1 = L(fovea::viridis(1)), mean = (l1 - l0) / steps;
    EXPECT_GT(l1 - l0, 60);
    for (int i = 0; i < steps; ++i) {
        const double d = L(fovea::viridis((i + 1.0) / steps)) - L(fovea::viridis(static_cast<double>(i) / steps));
        EXPECT_GT(d, 0.6 * mean) << i;
        EXPECT_LT(d, 1.4 * mean) << i;
    }
}

TEST(Picture, HeatmapTileAndOverlay) {
    fovea::Tensor<float, 2> m({2, 3});
    m(1, 2) = 5;  // the maximum: yellow; zeros: violet
    const auto p = fovea::heatmap(m, 20, 30, 0, 0, false);
    EXPECT_EQ(p.height, 20);
    EXPECT_EQ(p.width, 30);
    EXPECT_EQ(std::vector<std::uint8_t>(p.at(19, 29), p.at(19, 29) + 3), (std::vector<std::uint8_t>{0xfd, 0xe7, 0x25}));
    EXPECT_EQ(std::vector<std::uint8_t>(p.at(0, 0), p.at(0, 0) + 3), (std::vector<std::uint8_t>{0x44, 0x01, 0x54}));
    const auto flat = fovea::heatmap(fovea::Tensor<float, 2>({2, 2}), 4, 4);  // constant: no NaN, one colour
    EXPECT_EQ(std::vector<std::uint8_t>(flat.at(3, 3), flat.at(3, 3) + 3), std::vector<std::uint8_t>(flat.at(0, 0), flat.at(0, 0) + 3));
    const auto t = fovea::tile({p, p, p}, 2, 4);
    EXPECT_EQ(t.height, 44);
    EXPECT_EQ(t.width, 64);
    EXPECT_EQ(t.at(20, 0)[0], 255);  // the gap is white
    const fovea::Picture black(20, 30, {0, 0, 0});
    const auto o = fovea::overlay(black, p, 0.5);
    EXPECT_EQ(o.at(19, 29)[0], 0xfd / 2 + 1);  // round(253 / 2)
    EXPECT_THROW(fovea::overlay(black, t), fovea::Error);
}

// ---- fovea-visualize end to end ------------------------------------------------------------

#ifdef FOVEA_VISUALIZE
ProgramResult visualize(const std::string& args) { return run_program(FOVEA_VISUALIZE, args); }

const std::string kImages = std::string(FOVEA_SOURCE_DIR) + "/examples/fashion_mnist/images/";

// The bundled images are 28 x 28: shown 8x (224 px), with a 16 px caption under each cell, 6 px
// between cells and a 22 px title line above; fovea-visualize lays every picture out so.
void expect_png(const std::string& path, std::int64_t rows, std::int64_t cols) {
    const fovea::Image im = fovea::load_image(path);  // decodes
    EXPECT_EQ(im.height, 22 + rows * (224 + 16) + (rows - 1) * 6) << path;
    EXPECT_GE(im.width, cols * 224 + (cols - 1) * 6) << path;
}

TEST(VisualizeCli, PicturesOfTheBundledModels) {
    const std::string d = temp_dir("vis_pictures");
    ProgramResult r = visualize(kImages + "test0000_ankle_boot.png " + kImages + "test0001_pullover.png --out " + d + " --embeddings");
    ASSERT_EQ(r.code, 0) << r.err;
    expect_png(d + "/test0000_ankle_boot_rollout.png", 1, 3);
    expect_png(d + "/test0001_pullover_attention_blocks.5.png", 1, 5);  // the input and 4 heads
    expect_png(d + "/pca.png", 1, 4);  // two images side by side, each with its PCA colours
    const fovea::Image filters = fovea::load_image(d + "/embedding_filters.png");  // 16 components of 4x4 filters, 48 px, 7 a row
    EXPECT_EQ(filters.height, 22 + 3 * 48 + 2 * 3);
    const fovea::Image sim = fovea::load_image(d + "/position_similarity.png");  // a 7x7 grid of 7x7 maps, 42 px
    EXPECT_EQ(sim.height, 22 + 7 * 42 + 6 * 2);
    EXPECT_GE(sim.width, 7 * 42 + 6 * 2);

    const std::string swin = std::string(FOVEA_SOURCE_DIR) + "/examples/fashion_mnist/models/swin_fashion_mnist";
    r = visualize("--weights " + swin + " " + kImages + "test0008_sandal.png --out " + d + " --attention 0 --pca");
    ASSERT_EQ(r.code, 0) << r.err;
    expect_png(d + "/test0008_sandal_attention_layers.0.blocks.0.png", 1, 3);  // 2 heads
    expect_png(d + "/pca.png", 1, 4);                                          // 3 stages
    r = visualize("--weights " + swin + " " + kImages + "test0008_sandal.png --out " + d + " --rollout");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("error: --rollout needs global attention"), std::string::npos) << r.err;
}

// --save-attention writes the block's probabilities for a preprocessed input: timm's, as .npy.
TEST(VisualizeCli, SaveAttentionIsTimms) {
    const std::string d = temp_dir("vis_attention");
    for (const std::string name : {"vit_dynamic_24x40", "swin_pad_40"}) {
        const Refs ref(name);
        const auto x = ref.tensor<4>("input");
        fovea::write_npy(d + "/x.npy", x.data(), {x.shape(0), x.shape(1), x.shape(2), x.shape(3)});
        const std::string block = name == "swin_pad_40" ? "layers.1.blocks.1" : "blocks.1";
        const ProgramResult r = visualize("--weights " + std::string(FOVEA_TEST_DATA) + "/" + name + " --input-npy " + d +
                                    "/x.npy --save-attention " + d + "/a.npy --block " + block);
        ASSERT_EQ(r.code, 0) << r.err;
        const auto a = fovea::read_npy(d + "/a.npy");
        EXPECT_EQ(a.shape, ref.shape("attn." + block));
        EXPECT_LE(max_abs(a.data.data(), static_cast<std::int64_t>(a.data.size()), ref.get("attn." + block)), kTol) << name;
    }
}

TEST(VisualizeCli, ScatterOfAFolderAndOfFashionMnist) {
    const std::string d = temp_dir("vis_scatter");
    // one subfolder per class, as torchvision's ImageFolder
    for (const auto& e : std::filesystem::directory_iterator(kImages)) {
        const std::string f = e.path().filename().string();
        const std::string cls = f.find("boot") != std::string::npos || f.find("sneaker") != std::string::npos ||
                                f.find("sandal") != std::string::npos ? "shoes" : "clothes";
        std::filesystem::create_directories(d + "/set/" + cls);
        std::filesystem::copy_file(e.path(), d + "/set/" + cls + "/" + f);
    }
    ProgramResult r = visualize("--scatter " + d + "/set --out " + d + "/a");
    ASSERT_EQ(r.code, 0) << r.err;
    fovea::Image im = fovea::load_image(d + "/a/scatter.png");
    EXPECT_EQ(im.width, 960);
    EXPECT_EQ(im.height, 720);
    r = visualize("--scatter " + kImages + " --out " + d + "/b");  // no subfolders: the predicted classes
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(fovea::load_image(d + "/b/scatter.png").width, 960);
    const std::string fmnist = "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::exists(fmnist + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST test set";
    r = visualize("--scatter " + fmnist + " --limit 300 --out " + d + "/c");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(fovea::load_image(d + "/c/scatter.png").height, 720);
}

TEST(VisualizeCli, BadUseIsOneErrorLine) {
    const std::string d = temp_dir("vis_errors");
    for (const std::string& args : {std::string(""), kImages + "test0000_ankle_boot.png", "--embeddings --out " + d + " --bogus",
                                   kImages + "test0000_ankle_boot.png --out " + d + " --attention 99",
                                   "--out " + d + " --scatter " + d + "/absent", "--input-npy x.npy --out " + d,
                                   "--weights " + d + " --embeddings --out " + d, "--limit -3 --scatter " + d + " --out " + d}) {
        const ProgramResult r = visualize(args);
        EXPECT_EQ(r.code, 1) << args;
        EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    }
}
#endif

}  // namespace

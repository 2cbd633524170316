// Images and timm's eval transform: fovea's pixels against timm's on the same files
// (tests/tools/make_preprocess_fixtures.py), and clean errors for broken files.
#include <fovea/data/transforms.hpp>
#include <fovea/io/image.hpp>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

nlohmann::json manifest() {
    std::ifstream f(data_dir() + "/preprocess/manifest.json");
    return nlohmann::json::parse(f);
}

struct PixelDiff {
    int max_level = 0;
    double exact = 0;  // fraction of values that are identical
};

PixelDiff diff(const fovea::Image& a, const fovea::Image& b) {
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.height, b.height);
    EXPECT_EQ(a.channels, b.channels);
    PixelDiff d;
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) {
        const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
        d.max_level = std::max(d.max_level, e);
        same += e == 0;
    }
    d.exact = static_cast<double>(same) / static_cast<double>(a.pixels.size());
    return d;
}

}  // namespace

// Within one uint8 level of timm everywhere, for every lossless image and preset pair.
TEST(Preprocess, MatchesTimmEvalTransformWithinOneLevel) {
    int checked = 0;
    for (auto& e : manifest()) {
        const std::string image = e["image"], preset = e["preset"];
        if (image.find(".jpg") != std::string::npos) continue;  // decoder differences: see below
        const auto& cfg = fovea::pretrained_cfg(preset);
        const auto img = fovea::load_image(data_dir() + "/images/" + image);
        const auto ref = fovea::load_image(data_dir() + "/preprocess/" + e["reference"].get<std::string>());
        const auto got = fovea::eval_resize_crop(img, cfg);
        const PixelDiff d = diff(got, ref);
        EXPECT_LE(d.max_level, 1) << image << " with " << preset;
        std::printf("preprocess %-28s %-30s max diff %d level, %.4f%% of values identical\n", image.c_str(),
                    preset.c_str(), d.max_level, 100.0 * d.exact);

        // The normalised tensor equals timm's (u8 / 255 - mean) / std.
        const auto t = fovea::preprocess_image(img, cfg);
        ASSERT_EQ(t.shape(0), 3);
        const std::int64_t HW = ref.width * ref.height;
        double worst = 0;
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t i = 0; i < HW; ++i) {
                const float want = (static_cast<float>(ref.pixels[i * 3 + c]) / 255.0f - cfg.mean[c]) / cfg.std[c];
                worst = std::max(worst, static_cast<double>(std::fabs(t.data()[c * HW + i] - want)));
            }
        EXPECT_LE(worst, 1.0 / 255.0 / 0.224 + 1e-6) << image << " with " << preset;
        ++checked;
    }
    EXPECT_GE(checked, 15);
}

// JPEG: stb_image's decoder is not libjpeg's, so pixels differ before any preprocessing.
// The bound below is the measured decoder difference, not a preprocessing tolerance.
TEST(Preprocess, JpegDecoderDifferenceIsSmall) {
    for (auto& e : manifest()) {
        const std::string image = e["image"], preset = e["preset"];
        if (image.find(".jpg") == std::string::npos) continue;
        const auto got = fovea::eval_resize_crop(fovea::load_image(data_dir() + "/images/" + image), fovea::pretrained_cfg(preset));
        const auto ref = fovea::load_image(data_dir() + "/preprocess/" + e["reference"].get<std::string>());
        const PixelDiff d = diff(got, ref);
        std::printf("preprocess %s %s (stb_image vs libjpeg): max diff %d levels, %.2f%% identical\n", image.c_str(),
                    preset.c_str(), d.max_level, 100.0 * d.exact);
        EXPECT_LE(d.max_level, 8);
        EXPECT_GE(d.exact, 0.5);
    }
}

TEST(Preprocess, CropOffsetsRoundHalfToEvenAsTorchvision) {
    fovea::Image img;  // 5 wide, 8 high, pixel (y, x) = 5 y + x + 1
    img.width = 5;
    img.height = 8;
    img.channels = 1;
    for (int i = 0; i < 40; ++i) img.pixels.push_back(static_cast<std::uint8_t>(i + 1));
    // top = round((8 - 3) / 2) = round(2.5) = 2, left = round((5 - 2) / 2) = round(1.5) = 2
    const auto c = fovea::center_crop(img, 3, 2);
    EXPECT_EQ(c.pixels[0], 5 * 2 + 2 + 1);
    // larger than the image: torchvision pads left 2, right 2, top 0, bottom 1 with zeros
    const auto p = fovea::center_crop(img, 9, 9);
    EXPECT_EQ(p.row(0)[1], 0);
    EXPECT_EQ(p.row(0)[2], 1);
    EXPECT_EQ(p.row(7)[6], 40);
    EXPECT_EQ(p.row(7)[7], 0);
    EXPECT_EQ(p.row(8)[2], 0);
}

TEST(Images, BrokenFilesAreCleanErrors) {
    const std::string d = temp_dir("images");
    const std::string png = "\x89PNG\r\n\x1a\n";
    auto ihdr = [&](std::uint32_t w, std::uint32_t h) {
        std::string s = png + std::string("\0\0\0\x0dIHDR", 8);
        for (std::uint32_t v : {w, h})
            for (int b = 3; b >= 0; --b) s += static_cast<char>((v >> (8 * b)) & 0xff);
        return s + std::string("\x08\x02\0\0\0\0\0\0\0", 9);
    };
    const std::string good = data_dir() + "/images/tiny_13x9.png";
    std::ifstream gf(good, std::ios::binary);
    const std::string good_bytes((std::istreambuf_iterator<char>(gf)), {});
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"empty.png", ""},
        {"truncated.png", good_bytes.substr(0, good_bytes.size() / 2)},
        {"random.png", std::string("\x13\x37\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06", 12)},
        {"text.png", "this is not an image\n"},
        {"huge.png", ihdr(200000, 200000)},
        {"budget.png", ihdr(8200, 8200)},  // 67.2 MP: stb would decode it, fovea refuses
    };
    for (auto& c : cases) {
        const std::string& name = c.first;  // not a structured binding: clang 14 cannot capture those
        write_file(d + "/" + name, c.second);
        const std::string e = error_of([&] { fovea::load_image(d + "/" + name); });
        EXPECT_NE(e.find(d + "/" + name), std::string::npos) << name << ": '" << e << "'";
    }
    EXPECT_NE(error_of([&] { fovea::load_image(d + "/budget.png"); }).find("megapixel limit"), std::string::npos);
    EXPECT_NE(error_of([&] { fovea::load_image(d); }).find("is a directory"), std::string::npos);
    EXPECT_NE(error_of([&] { fovea::load_image(d + "/missing.png"); }).find("no such file"), std::string::npos);
}

TEST(Images, ExtremeAspectRatioGivesTheCorrectCrop) {
    // 1 x 50000: resized to 12,400,000 x 248 by timm's transform; fovea computes only the
    // 224 x 224 it keeps. A uniform image must stay uniform, a ramp must stay a ramp.
    fovea::Image img;
    img.width = 50000;
    img.height = 1;
    img.channels = 3;
    img.pixels.assign(50000 * 3, 128);
    const auto& cfg = fovea::pretrained_cfg("vit_base_patch16_224");
    const auto t = fovea::preprocess_image(img, cfg);
    ASSERT_EQ(t.shape(1), 224);
    ASSERT_EQ(t.shape(2), 224);
    for (std::int64_t i = 0; i < t.size(); ++i) ASSERT_EQ(t.data()[i], (128 / 255.0f - 0.5f) / 0.5f);
    // the same on a file that decodes to 1 x 50000
    const std::string d = temp_dir("aspect");
    std::string pgm = "P5\n50000 1\n255\n" + std::string(50000, '\x80');
    write_file(d + "/wide.pgm", pgm);
    const auto f = fovea::preprocess_image(fovea::load_image(d + "/wide.pgm"), cfg);
    for (std::int64_t i = 0; i < f.size(); ++i) ASSERT_EQ(f.data()[i], t.data()[i]);
}

// Resizing a window equals cropping the whole resize (the window is how crops are computed).
TEST(Preprocess, WindowedResizeEqualsFullResizeThenCrop) {
    const auto img = fovea::load_image(data_dir() + "/images/photo_chelsea_333x251.png");
    for (auto f : {fovea::Interpolation::Bicubic, fovea::Interpolation::Bilinear})
        for (auto [ow, oh] : {std::pair{101, 77}, std::pair{500, 380}}) {
            const auto full = fovea::resize_like_pil(img, ow, oh, f);
            const auto part = fovea::resize_like_pil(img, ow, oh, f, 13, 7, 41, 29);
            for (std::int64_t y = 0; y < 29; ++y)
                for (std::int64_t x = 0; x < 41 * 3; ++x) ASSERT_EQ(part.row(y)[x], full.row(y + 7)[13 * 3 + x]);
        }
}

// Inputs the fuzzer (tests/fuzz/fuzz_image) found: JPEG Huffman tables with more than 256
// codes, which overflow stb_image 2.27's tables (plain, cut off by the end of the file, and
// behind 0xFF fill bytes before the start marker). fovea refuses them before decoding.
TEST(Images, FuzzerFindingsAreCleanErrors) {
    const std::pair<std::string, std::string> cases[] = {
        {"stb_jpeg_dht_overflow.jpg", ": corrupt JPEG (Huffman table with"},
        {"stb_jpeg_dht_truncated.jpg", ": corrupt JPEG (Huffman table with"},
        {"stb_jpeg_dht_after_fill.jpg", ": corrupt JPEG (Huffman table with"},
        {"stb_pnm_header_int_overflow.pnm", ": corrupt PNM header (a size or maximum value above 65536)"},
        {"stb_jpeg_undefined_huffman_table.jpg", ": corrupt JPEG (a scan uses a Huffman table that was never defined)"},
        {"stb_png_empty_idat.png", ": cannot decode image (??@? PNG chunk not known)"},
    };
    for (const auto& [f, message] : cases) {
        const std::string path = data_dir() + "/images/regress/" + f;
        const std::string e = error_of([&] { fovea::load_image(path); });
        EXPECT_NE(e.find(path + message), std::string::npos) << f << ": " << e;
    }
}

TEST(Images, ProgressiveJpegPassesTheHuffmanTableChecks) {
    // progressive scans use only some of their tables; the checks must not refuse them
    const auto img = fovea::load_image(data_dir() + "/images/regress/progressive_64x48.jpg");
    EXPECT_EQ(img.width, 64);
    EXPECT_EQ(img.height, 48);
}

TEST(Images, PnmHeadersWithCommentsStillDecode) {
    const std::string d = temp_dir("pnm");
    write_file(d + "/c.ppm", std::string("P6\n# made by hand\n2 1 # width height\n255\n") + "\x0a\x14\x1e\x28\x32\x3c");
    const auto img = fovea::load_image(d + "/c.ppm");
    ASSERT_EQ(img.width, 2);
    ASSERT_EQ(img.height, 1);
    EXPECT_EQ(img.pixels, (std::vector<std::uint8_t>{10, 20, 30, 40, 50, 60}));
}

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

nlohmann::json decoder_manifest() {
    std::ifstream f(data_dir() + "/images/decoders/manifest.json");
    return nlohmann::json::parse(f);
}

// 64-bit FNV-1a, as make_decoder_fixtures.py hashes Pillow's pixels
std::string fnv1a64(const std::vector<std::uint8_t>& bytes) {
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (std::uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
    char s[17];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(h));
    return s;
}

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

// timm's eval transform on PIL's decoding, pixel for pixel: every image and preset pair (JPEG
// too where libjpeg decodes it; stb_image, the fallback, is not libjpeg: there the measured
// decoder difference bounds the JPEG comparison instead).
TEST(Preprocess, MatchesTimmEvalTransform) {
    int checked = 0;
    for (auto& e : manifest()) {
        const std::string image = e["image"], preset = e["preset"];
        const auto& cfg = fovea::pretrained_cfg(preset);
        const auto img = fovea::load_image(data_dir() + "/images/" + image);
        const auto ref = fovea::load_image(data_dir() + "/preprocess/" + e["reference"].get<std::string>());
        const auto got = fovea::eval_resize_crop(img, cfg);
        const PixelDiff d = diff(got, ref);
        std::printf("preprocess %-28s %-30s max diff %d level, %.4f%% of values identical\n", image.c_str(),
                    preset.c_str(), d.max_level, 100.0 * d.exact);
        ++checked;
#if !defined(FOVEA_WITH_LIBJPEG)
        if (image.find(".jpg") != std::string::npos) {
            EXPECT_LE(d.max_level, 8) << image;
            continue;
        }
#endif
        EXPECT_EQ(d.max_level, 0) << image << " with " << preset;

        // The normalised tensor equals timm's (u8 / 255 - mean) / std.
        const auto t = fovea::preprocess_image(img, cfg);
        ASSERT_EQ(t.shape(0), 3);
        const std::int64_t HW = ref.width * ref.height;
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t i = 0; i < HW; ++i) {
                const float want = (static_cast<float>(ref.pixels[i * 3 + c]) / 255.0f - cfg.mean[c]) / cfg.std[c];
                ASSERT_EQ(t.data()[c * HW + i], want) << image << " with " << preset << " at " << c << ", " << i;
            }
    }
    EXPECT_GE(checked, 16);
}

// Every file of the decoder corpus (tests/tools/make_decoder_fixtures.py) as Pillow reads it:
// Image.open(p).convert("RGB") and .convert("L") hashed, or refused where Pillow refuses it.
TEST(Images, DecodersMatchPillow) {
    const auto m = decoder_manifest();
    std::int64_t images = 0, values = 0, refused = 0;
    for (auto& [name, ref] : m["files"].items()) {
        const std::string path = data_dir() + "/images/decoders/" + name;
#if !defined(FOVEA_WITH_LIBJPEG)
        if (name.rfind("jpeg_", 0) == 0) continue;  // stb_image is not libjpeg
#endif
#if !defined(FOVEA_WITH_LIBPNG)
        // stb_image, the fallback, ignores CRCs and reads indices past the palette otherwise
        if (name == "png_bad_ihdr_crc.png" || name == "png_palette_grey_ramp.png" || name == "png_palette_index_past_plte.png")
            continue;
#endif
        if (ref.contains("error")) {
            for (int channels : {3, 1}) {
                const std::string e = error_of([&] { fovea::load_image(path, channels); });
                EXPECT_EQ(e.rfind(path + ": ", 0), 0u) << name << " (Pillow: " << ref["error"] << "): '" << e << "'";
            }
            ++refused;
            continue;
        }
        for (int channels : {3, 1}) {
            fovea::Image img;
            try {
                img = fovea::load_image(path, channels);
            } catch (const fovea::Error& e) {
                ADD_FAILURE() << name << ": Pillow decodes it, fovea says " << e.what();
                continue;
            }
            EXPECT_EQ(img.width, ref["width"].get<std::int64_t>()) << name;
            EXPECT_EQ(img.height, ref["height"].get<std::int64_t>()) << name;
            EXPECT_EQ(fnv1a64(img.pixels), ref[channels == 3 ? "rgb" : "l"].get<std::string>()) << name << " as " << channels << " channels";
            ++images;
            values += static_cast<std::int64_t>(img.pixels.size());
        }
    }
    std::printf("decoders: %lld decodings (RGB and L) of %s's references identical, %lld values; %lld files refused as Pillow refuses them\n",
                static_cast<long long>(images), m["pillow"].get<std::string>().c_str(), static_cast<long long>(values),
                static_cast<long long>(refused));
    EXPECT_GE(images + refused, 150);
}

// JPEG photos from Debian packages (python-matplotlib-data, mate-backgrounds; .ci/run installs
// them): decoded as Pillow decodes them, and timm's eval crop of each, pixel for pixel.
TEST(Preprocess, JpegPhotosMatchTimm) {
#if !defined(FOVEA_WITH_LIBJPEG)
    GTEST_SKIP() << "JPEG is decoded by stb_image here, not libjpeg";
#endif
    const auto m = decoder_manifest();
    const auto& cfg = fovea::pretrained_cfg(m["preset"].get<std::string>());
    std::int64_t photos = 0, values = 0;
    std::vector<std::string> missing;
    for (auto& [path, ref] : m["photos"].items()) {
        if (!std::filesystem::exists(path)) {
            missing.push_back(path);
            continue;
        }
        const auto rgb = fovea::load_image(path, 3), grey = fovea::load_image(path, 1);
        EXPECT_EQ(rgb.width, ref["width"].get<std::int64_t>()) << path;
        EXPECT_EQ(fnv1a64(rgb.pixels), ref["rgb"].get<std::string>()) << path;
        EXPECT_EQ(fnv1a64(grey.pixels), ref["l"].get<std::string>()) << path;
        const auto crop = fovea::eval_resize_crop(rgb, cfg);
        EXPECT_EQ(fnv1a64(crop.pixels), ref["crop_" + m["preset"].get<std::string>()].get<std::string>()) << path;
        ++photos;
        values += static_cast<std::int64_t>(rgb.pixels.size() + grey.pixels.size() + crop.pixels.size());
    }
    std::printf("photos: %lld JPEG photos decoded and cropped as Pillow and timm do, %lld values identical\n",
                static_cast<long long>(photos), static_cast<long long>(values));
    if (!missing.empty()) {
        std::string list;
        for (auto& p : missing) list += "\n  " + p;
        if (std::getenv("FOVEA_REQUIRE_PHOTOS")) FAIL() << "photos missing (apt-get install python-matplotlib-data mate-backgrounds):" << list;
        GTEST_SKIP() << "photos missing (apt-get install python-matplotlib-data mate-backgrounds):" << list;
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
    auto ihdr = [&](std::uint32_t w, std::uint32_t h) {  // a valid IHDR chunk (CRC included), no data
        std::string chunk = "IHDR";
        for (std::uint32_t v : {w, h})
            for (int b = 3; b >= 0; --b) chunk += static_cast<char>((v >> (8 * b)) & 0xff);
        chunk += std::string("\x08\x02\0\0\0", 5);
        std::uint32_t crc = 0xFFFFFFFFu;
        for (unsigned char c : chunk) {
            crc ^= c;
            for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
        crc ^= 0xFFFFFFFFu;
        std::string s = png + std::string("\0\0\0\x0d", 4) + chunk;
        for (int b = 3; b >= 0; --b) s += static_cast<char>((crc >> (8 * b)) & 0xff);
        return s;
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

// Inputs the fuzzer (tests/fuzz/fuzz_image) found in stb_image 2.27, the fallback decoder: JPEG
// Huffman tables with more than 256 codes (plain, cut off by the end of the file, behind 0xFF
// fill bytes), a scan using an undefined table, a PNG whose first IDAT is empty. fovea refuses
// them before stb sees them; libjpeg and libpng, where used, refuse them with their own words.
TEST(Images, FuzzerFindingsAreCleanErrors) {
#if defined(FOVEA_WITH_LIBJPEG)
    const std::string jpeg_dht = ": cannot decode JPEG (", jpeg_undefined = ": cannot decode JPEG (";
#else
    const std::string jpeg_dht = ": corrupt JPEG (Huffman table with",
                      jpeg_undefined = ": corrupt JPEG (a scan uses a Huffman table that was never defined)";
#endif
#if defined(FOVEA_WITH_LIBPNG)
    const std::string png_idat = ": cannot decode PNG (";
#else
    const std::string png_idat = ": cannot decode image (??@? PNG chunk not known)";
#endif
    const std::pair<std::string, std::string> cases[] = {
        {"stb_jpeg_dht_overflow.jpg", jpeg_dht},
        {"stb_jpeg_dht_truncated.jpg", jpeg_dht},
        {"stb_jpeg_dht_after_fill.jpg", ": not a PNG, JPEG, BMP, PNM or GIF file"},  // nor for Pillow: fill before the marker
        {"stb_pnm_header_int_overflow.pnm", ": PNM width has too many digits"},
        {"stb_jpeg_undefined_huffman_table.jpg", jpeg_undefined},
        {"stb_png_empty_idat.png", png_idat},
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

#if defined(FOVEA_WITH_LIBJPEG)
// A progressive JPEG whose last scan is repeated 2,000 times (each pass costs a walk over the
// whole image; 20,000 would take Pillow seconds): refused at the 257th scan.
TEST(Images, ProgressiveJpegWithThousandsOfScansIsRefused) {
    std::ifstream f(data_dir() + "/images/decoders/jpeg_progressive.jpg", std::ios::binary);
    const std::string jpeg((std::istreambuf_iterator<char>(f)), {});
    const auto sos = jpeg.rfind("\xff\xda"), eoi = jpeg.rfind("\xff\xd9");
    ASSERT_TRUE(sos != std::string::npos && eoi != std::string::npos && sos < eoi);
    std::string many = jpeg.substr(0, eoi);
    for (int i = 0; i < 2000; ++i) many += jpeg.substr(sos, eoi - sos);
    many += "\xff\xd9";
    const std::string path = temp_dir("scans") + "/many_scans.jpg";
    write_file(path, many);
    const std::string e = error_of([&] { fovea::load_image(path); });
    EXPECT_NE(e.find(path + ": cannot decode JPEG (progressive JPEG with more than 256 scans)"), std::string::npos) << e;
}
#endif

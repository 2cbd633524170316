// bf16 and int8 against timm fp32 on full-size ViT-B and Swin-T. Their weights are a formula
// (tests/tools/make_seeded_fixtures.py, reproduced here bit for bit), so the repository holds
// only each model's config, the formula's parameters and timm's logits; the 330 MB of weights
// are written to a scratch folder when the test runs.
//   fp32 must still be timm's numbers (logits within 1e-5 of timm's float64 ones, relative);
//   bf16: logits cosine against timm fp32 >= 0.9999; int8: >= 0.999 (the bar).
#include <cmath>
#include <cstdio>
#include <fstream>

#include <fovea/core/kernels.hpp>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// As values() in make_seeded_fixtures.py: 24-bit integers times powers of two, exact in float32.
std::vector<float> seeded_values(std::uint64_t seed, std::uint64_t index, std::int64_t count, const std::string& rule, double scale) {
    std::vector<float> v(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
        const std::uint64_t bits = splitmix64((seed << 56) ^ (index << 40) ^ static_cast<std::uint64_t>(i));
        if (rule == "norm")
            v[static_cast<std::size_t>(i)] = static_cast<float>(1.0 + static_cast<double>(static_cast<std::int64_t>(bits >> 41) - (1 << 22)) * 0x1p-23);
        else
            v[static_cast<std::size_t>(i)] = static_cast<float>(static_cast<double>(static_cast<std::int64_t>(bits >> 40) - (1 << 23)) * scale * 0x1p-23);
    }
    return v;
}

struct Seeded {
    std::string dir;  // scratch hub folder: config.json + model.safetensors
    fovea::Tensor<float, 4> input;
    std::vector<float> timm_f32, timm_f64;
};

// Writes the model's weights (streamed, one tensor at a time) and reads its references.
Seeded make_seeded(const std::string& name) {
    const std::string src = std::string(FOVEA_TEST_DATA) + "/seeded/" + name;
    std::ifstream sf(src + "/spec.json");
    const auto spec = nlohmann::json::parse(sf);
    const std::uint64_t seed = spec["seed"];
    Seeded s;
    s.dir = temp_dir("seeded_" + name);
    std::filesystem::copy_file(src + "/config.json", s.dir + "/config.json");
    nlohmann::json header = nlohmann::json::object();
    std::uint64_t offset = 0;
    for (auto& t : spec["tensors"]) {
        std::int64_t n = 1;
        for (auto d : t["shape"]) n *= d.get<std::int64_t>();
        header[t["name"].get<std::string>()] = {{"dtype", "F32"}, {"shape", t["shape"]}, {"data_offsets", {offset, offset + 4 * n}}};
        offset += static_cast<std::uint64_t>(4 * n);
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::ofstream f(s.dir + "/model.safetensors", std::ios::binary);
    f << le64(h.size()) << h;
    std::uint64_t index = 1;
    // safetensors orders data by offset, which follows the spec's order; the header's keys are sorted
    for (auto& t : spec["tensors"]) {
        std::int64_t n = 1;
        for (auto d : t["shape"]) n *= d.get<std::int64_t>();
        const auto v = seeded_values(seed, index++, n, t["rule"], t["scale"]);
        f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
    }
    f.close();
    EXPECT_TRUE(f.good()) << "writing " << s.dir;
    const auto& in = spec["input"];
    s.input = fovea::Tensor<float, 4>({in[0], in[1], in[2], in[3]});
    const auto x = seeded_values(seed, 0, s.input.size(), "uniform", 2.0);
    std::copy(x.begin(), x.end(), s.input.data());
    auto ref = fovea::SafeTensorsFile::open(src + "/ref.safetensors");
    s.timm_f32 = ref->read(*ref->find("logits_timm_f32"));
    s.timm_f64 = ref->read(*ref->find("logits_f64"));
    return s;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
    return ab / std::sqrt(aa * bb);
}

std::size_t argmax(const std::vector<float>& v) { return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

class Precision : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(Precision, FullSizeLogitsAgainstTimmFp32) {
    const Seeded s = make_seeded(GetParam());
    for (const fovea::Precision p : {fovea::Precision::f32, fovea::Precision::bf16, fovea::Precision::int8}) {
        fovea::LoadOptions options;
        options.precision = p;
        const fovea::Model model = fovea::load_model(s.dir, options);
        const auto y = model.forward(s.input);
        const std::vector<float> got(y.data(), y.data() + y.size());
        ASSERT_EQ(got.size(), s.timm_f32.size());
        const double cos = cosine(got, s.timm_f32);
        const Diff d = compare(got.data(), s.timm_f32.data(), y.size());
        std::printf("%s %s: cosine %.7f, max |diff| %.4g (logits up to %.3g), top-1 %s, kernels %s\n", GetParam().c_str(),
                    fovea::precision_name(p), cos, d.max_err, d.max_ref, argmax(got) == argmax(s.timm_f32) ? "same" : "differs",
                    fovea::detail::kernel_name(p));
        if (p == fovea::Precision::f32) EXPECT_TRUE(compare(got.data(), s.timm_f64.data(), y.size()).ok()) << "fp32 is no longer timm's numbers";
        EXPECT_GE(cos, p == fovea::Precision::bf16 ? 0.9999 : p == fovea::Precision::int8 ? 0.999 : 0.9999999) << fovea::precision_name(p);
    }
    std::filesystem::remove_all(s.dir);
}

INSTANTIATE_TEST_SUITE_P(Seeded, Precision, ::testing::Values("vit_base_patch16_224", "swin_tiny_patch4_window7_224",
                                                              "vit_base_patch16_clip_quickgelu_224", "vit_base_patch16_siglip_224",
                                                              "eva02_base_patch14_224", "swinv2_tiny_window8_256"));

// Stage-by-stage parity with timm on every fixture in tests/data (see tools/make_fixtures.py).
// A failure names the first stage that differs.
#include "fixtures.hpp"

using namespace fovea_test;

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, StagesFeaturesAndLogitsMatchTimm) {
    const std::string name = GetParam();
    const Reference ref(name);
    const fovea::Model model = fovea::load_model(data_dir() + "/" + name);
    const auto x = ref.input();

    std::vector<std::string> checked;
    std::string first_bad;
    fovea::Trace trace;
    trace.activation = [&](const fovea::Traced& a) {
        const std::string& stage = a.name;
        const auto* t = ref.find(stage);
        if (!t) return;
        const float* data = a.tokens.data();
        const std::int64_t n = a.tokens.size();
        ASSERT_EQ(n, ref.numel(stage)) << name << ": stage " << stage << " has the wrong size";
        const Diff d = compare(data, ref.data(stage), n);
        if (!d.ok() && first_bad.empty()) first_bad = stage;
        EXPECT_TRUE(d.ok()) << name << ": stage " << stage << " max abs err " << d.max_err << " (max |ref| "
                            << d.max_ref << ")";
        checked.push_back(stage);
    };
    const auto feats = model.forward_features(x, trace);
    EXPECT_TRUE(first_bad.empty()) << name << ": first stage that differs from the reference: " << first_bad;
    EXPECT_GE(checked.size(), 4u) << name << ": too few stages compared";
    ASSERT_NE(std::find(checked.begin(), checked.end(), "features"), checked.end());

    for (const char* out : {"pre_logits", "logits"}) {
        if (!ref.find(out)) continue;  // transformers' references have no pre-logits
        const auto y = model.forward_head(feats, std::string(out) == "pre_logits");
        ASSERT_EQ(y.size(), ref.numel(out)) << name << ": " << out << " size";
        const Diff d = compare(y.data(), ref.data(out), y.size());
        EXPECT_TRUE(d.ok()) << name << ": " << out << " max abs err " << d.max_err << " (max |ref| " << d.max_ref << ")";
    }
    const auto logits = model.forward(x);
    const Diff d = compare(logits.data(), ref.data("logits"), logits.size());
    EXPECT_TRUE(d.ok()) << name << ": forward() logits max abs err " << d.max_err;
    std::printf("parity %s: logits max abs err %.3g, max |logit| %.3g, relative %.3g\n", name.c_str(), d.max_err,
                d.max_ref, d.max_err / std::max(1.0, d.max_ref));
    if (ref.find("logits_timm_f32")) {  // how far timm's own float32 run is from its float64 run
        const Diff t = compare(ref.data("logits_timm_f32"), ref.data("logits"), logits.size());
        std::printf("parity %s: timm float32 vs float64 logits: max abs err %.3g, relative %.3g\n", name.c_str(),
                    t.max_err, t.max_err / std::max(1.0, t.max_ref));
    }

    if (ref.find("intermediates.0")) {  // Swin multi-scale maps, NCHW
        const auto maps = model.forward_intermediates(x);
        for (std::size_t i = 0; i < maps.size(); ++i) {
            const std::string k = "intermediates." + std::to_string(i);
            ASSERT_TRUE(ref.find(k));
            const auto& s = ref.find(k)->shape;
            ASSERT_EQ(std::vector<std::int64_t>(maps[i].shape().begin(), maps[i].shape().end()), s) << name << " " << k;
            const Diff di = compare(maps[i].data(), ref.data(k), maps[i].size());
            EXPECT_TRUE(di.ok()) << name << ": " << k << " max abs err " << di.max_err;
            std::printf("parity %s: %s %s max abs err %.3g, max |ref| %.3g\n", name.c_str(), k.c_str(),
                        fovea::detail::dims_str(s).c_str(), di.max_err, di.max_ref);
        }
        EXPECT_FALSE(ref.find("intermediates." + std::to_string(maps.size())));
    }
}

// A batch equals the same images run one at a time.
TEST_P(Parity, BatchOfFourEqualsFourSingleCalls) {
    const std::string name = GetParam();
    const Reference ref(name);
    const fovea::Model model = fovea::load_model(data_dir() + "/" + name);
    const auto one = ref.input();
    const std::int64_t n0 = one.shape(0), per = one.size() / n0;
    fovea::Tensor<float, 4> x({4, one.shape(1), one.shape(2), one.shape(3)});
    for (std::int64_t b = 0; b < 4; ++b)  // distinct images: the fixture's inputs, then scaled copies
        for (std::int64_t i = 0; i < per; ++i) x.data()[b * per + i] = one.data()[(b % n0) * per + i] * (1.0f + 0.25f * b);
    const auto batched = model.forward(x);
    const std::int64_t rows = batched.shape(0) / 4, K = batched.shape(1);
    for (std::int64_t b = 0; b < 4; ++b) {
        fovea::Tensor<float, 4> xb({1, one.shape(1), one.shape(2), one.shape(3)});
        std::copy(x.data() + b * per, x.data() + (b + 1) * per, xb.data());
        const auto single = model.forward(xb);
        ASSERT_EQ(single.size(), rows * K);
        const Diff d = compare(batched.data() + b * rows * K, single.data(), rows * K);
        EXPECT_TRUE(d.ok()) << name << ": image " << b << " of the batch differs by " << d.max_err;
    }
}

INSTANTIATE_TEST_SUITE_P(Timm, Parity, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

// Layer-level checks that do not need a whole model.
#include <fovea/core/context.hpp>
#include <fovea/layers/linear.hpp>
#include <fovea/layers/patch_merging.hpp>
#include <fovea/layers/relative_position.hpp>

#include "fixtures.hpp"

using namespace fovea_test;

// PatchMerging's 2x2 gather puts channels in timm's order; reference from timm on a hand-made
// input whose values encode (h, w, c), with odd H and W so the zero padding shows too.
TEST(PatchMerging, ChannelOrderMatchesTimm) {
    auto f = fovea::SafeTensorsFile::open(data_dir() + "/patch_merging_order.safetensors");
    const auto* in = f->find("input");
    const auto* out = f->find("output");
    ASSERT_TRUE(in && out);
    const std::int64_t H = in->shape[1], W = in->shape[2], C = in->shape[3];
    ASSERT_EQ(out->shape, (std::vector<std::int64_t>{1, (H + 1) / 2, (W + 1) / 2, 4 * C}));
    std::vector<float> g(static_cast<std::size_t>(((H + 1) / 2) * ((W + 1) / 2) * 4 * C));
    const std::vector<float> x = f->read(*in), ref = f->read(*out);
    fovea::PatchMerging::gather(fovea::Context::top(), x.data(), 1, H, W, C, g.data());
    for (std::size_t i = 0; i < g.size(); ++i) ASSERT_EQ(g[i], ref[i]) << "at flat index " << i;
}

TEST(WindowAttention, RelativePositionIndexOfTwoByThreeWindow) {
    // index = (dy + wh - 1) * (2 ww - 1) + (dx + ww - 1), dy/dx = query minus key
    const auto idx = fovea::relative_position_index(2, 3);
    ASSERT_EQ(idx.size(), 36u);
    EXPECT_EQ(idx[0], 1 * 5 + 2);          // same token
    EXPECT_EQ(idx[0 * 6 + 5], 0 * 5 + 0);  // (0,0) vs (1,2): dy=-1, dx=-2
    EXPECT_EQ(idx[5 * 6 + 0], 2 * 5 + 4);  // (1,2) vs (0,0): dy=1, dx=2
}

TEST(Ops, HalfAndBfloat16Conversion) {
    EXPECT_EQ(fovea::detail::half_to_float(0x3c00), 1.0f);
    EXPECT_EQ(fovea::detail::half_to_float(0xc000), -2.0f);
    EXPECT_EQ(fovea::detail::half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(fovea::detail::half_to_float(0x7bff), 65504.0f);
    EXPECT_TRUE(std::isinf(fovea::detail::half_to_float(0x7c00)));
    EXPECT_EQ(fovea::detail::bf16_to_float(0x3f80), 1.0f);
    EXPECT_EQ(fovea::detail::bf16_to_float(0xc0a0), -5.0f);
}

TEST(Tensor, ViewsIndexWithStrides) {
    fovea::Tensor<float, 3> t({2, 3, 4});
    for (std::int64_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i);
    EXPECT_EQ(t(1, 2, 3), 23.0f);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u);
    fovea::TensorView<const float, 2> col(t.data() + 1, {2, 3}, {12, 4});  // t[:, :, 1]
    EXPECT_EQ(col(1, 2), 21.0f);
    EXPECT_FALSE(col.is_contiguous());
}

// A layer of width 0 (weights [0, C]) once divided by zero in the GEMM's blocking: the layer
// refuses it at load, whatever the family's config said (test_registry: the config's own check).
TEST(Linear, ZeroWidthIsRefusedAtLoad) {
    const std::string path = temp_dir("linear_zero_width") + "/model.safetensors";
    write_safetensors(path, {{"fc1.weight", {"F32", {0, 16}, ""}}, {"fc1.bias", {"F32", {0}, ""}}});
    fovea::WeightBinder w(fovea::SafeTensorsFile::open(path));
    const std::string e = error_of([&] { fovea::Linear::load(w, "fc1", 16, 0); });
    EXPECT_NE(e.find("'fc1' is a layer of width 0 (0 x 16)"), std::string::npos) << e;
}

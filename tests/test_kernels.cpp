// The GEMM kernels against a float64 reference on ragged shapes, every epilogue and every kernel
// this CPU can run; thread counts never change a model's output bits.
#include <cfenv>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include <fovea/core/context.hpp>
#include <fovea/core/gemm.hpp>
#include <fovea/core/kernels.hpp>

#include "fixtures.hpp"

using namespace fovea_test;
using fovea::detail::Epilogue;
using fovea::detail::Isa;

namespace {

std::vector<Isa> runnable_isas() {
    std::vector<Isa> v;
    for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512, Isa::Neon})
        if (fovea::detail::can_run(i)) v.push_back(i);
    return v;
}

using fovea::detail::isa_name;

}  // namespace

TEST(Gemm, KernelsMatchFloat64OnRaggedShapesAndEveryEpilogue) {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    auto fill = [&](std::vector<float>& v) { for (auto& x : v) x = nd(rng); };
    int checked = 0;
    for (const Isa isa : runnable_isas())
        for (const std::int64_t M : {1, 5, 12, 13, 40})
            for (const std::int64_t N : {1, 15, 16, 17, 33, 70})
                for (const std::int64_t K : {1, 7, 64})
                    for (int variant = 0; variant < 6; ++variant) {
                        const std::int64_t lda = K + 3, ldc = N + 5;  // strided A and C, as attention uses them
                        std::vector<float> a(M * lda), w(N * K), bias(N), scale(N), add(M * N), c(M * ldc);
                        fill(a), fill(w), fill(bias), fill(scale), fill(add), fill(c);
                        const std::vector<float> c0 = c;
                        Epilogue ep;
                        if (variant == 1) ep.bias = bias.data(), ep.act = fovea::Activation::Gelu;
                        if (variant == 4) ep.bias = bias.data(), ep.act = fovea::Activation::GeluTanh;
                        if (variant == 5) ep.bias = bias.data(), ep.act = fovea::Activation::QuickGelu;
                        if (variant == 2) ep.alpha = 0.125f, ep.add = add.data(), ep.add_ld = N;
                        if (variant == 3) ep.bias = bias.data(), ep.scale = scale.data(), ep.accumulate = true;
                        const auto B = fovea::detail::PackedMatrix::from_nk(w.data(), N, K, K, isa);
                        fovea::detail::gemm(fovea::Context::top(), M, a.data(), lda, B, c.data(), ldc, ep);
                        for (std::int64_t i = 0; i < M; ++i)
                            for (std::int64_t j = 0; j < N; ++j) {
                                double acc = 0, mag = 0;
                                for (std::int64_t k = 0; k < K; ++k) {
                                    acc += double(a[i * lda + k]) * w[j * K + k];
                                    mag += std::abs(double(a[i * lda + k]) * w[j * K + k]);
                                }
                                double v = acc * ep.alpha;
                                if (ep.bias) v += bias[j];
                                if (ep.add) v += add[i * N + j];
                                if (ep.act != fovea::Activation::None) v = activation_ref(ep.act, v);
                                if (ep.scale) v *= scale[j];
                                if (ep.accumulate) v += c0[i * ldc + j];
                                ASSERT_NEAR(c[i * ldc + j], v, 2e-6 * (1 + mag + std::abs(v)))
                                    << isa_name(isa) << " M=" << M << " N=" << N << " K=" << K << " variant " << variant
                                    << " at (" << i << ", " << j << ")";
                                ++checked;
                            }
                        for (std::int64_t i = 0; i < M; ++i)  // padding columns of C untouched
                            for (std::int64_t j = N; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], c0[i * ldc + j]);
                    }
    EXPECT_GT(checked, 100000);
}

TEST(Gemm, ActivationsMatchFloat64AcrossTheirRange) {
    // The vector GELU (erfc fit, |relative error| < 1.2e-7 in erfc), GELU's tanh form and QuickGELU
    // (both x sigmoid(z)) against their definitions in double, as PyTorch writes them: finely over
    // [-12, 12], then out to +-200, through exp's clamps and the tails the vector entries zero
    // (see VectorMathMakesNoSubnormals; one thread, whose underflow flag is read).
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.01f) x.push_back(v);
    for (float v : {-100.0f, -60.0f, -30.0f, 30.0f, 60.0f, 100.0f}) x.push_back(v);  // exp's clamps
    for (float v = -200.0f; v <= 200.0f; v += 0.003f) x.push_back(v);
    const std::int64_t n = static_cast<std::int64_t>(x.size());
    std::vector<float> one(1, 1.0f), y(x.size());
    fovea::Context ctx = fovea::Context::top();
    ctx.threads = 1;
    for (const Isa isa : runnable_isas())
        for (const auto act : {fovea::Activation::Gelu, fovea::Activation::GeluTanh, fovea::Activation::QuickGelu}) {
            const auto B = fovea::detail::PackedMatrix::from_nk(one.data(), 1, 1, 1, isa);  // y = act(x * 1)
            Epilogue ep;
            ep.act = act;
            std::feclearexcept(FE_ALL_EXCEPT);
            fovea::detail::gemm(ctx, n, x.data(), 1, B, y.data(), 1, ep);
            const bool vector = isa != Isa::Generic;  // the portable entry makes subnormals, as PyTorch
            if (vector) EXPECT_FALSE(std::fetestexcept(FE_UNDERFLOW)) << isa_name(isa) << " act " << int(act) << " made a subnormal";
            for (std::int64_t i = 0; i < n; ++i) {
                const double ref = activation_ref(act, x[i]);
                if (vector) ASSERT_NE(std::fpclassify(y[i]), FP_SUBNORMAL) << isa_name(isa) << " act " << int(act) << " x=" << x[i];
                ASSERT_NEAR(y[i], ref, 3e-7 * (1 + std::abs(ref))) << isa_name(isa) << " act " << int(act) << " x=" << x[i];
            }
        }
}

TEST(Gemm, VectorMathMakesNoSubnormals) {
    // Intel cores take a microcode assist on each subnormal operand: the vector kernels zero what
    // would fall below FLT_MIN (GELU's far tail and the sigmoids: ActivationsMatchFloat64AcrossTheirRange;
    // SwiGLU's gate and softmax here) before any operation makes it, and still match the
    // definitions in double. The underflow flag is raised by any operation whose result is
    // subnormal. The portable entry is plain scalar math, as PyTorch's, and makes subnormals where
    // they do.
    std::vector<float> x;
    for (float v = -200.0f; v <= 200.0f; v += 0.003f) x.push_back(v);
    const std::int64_t n = static_cast<std::int64_t>(x.size());
    std::vector<float> y(x.size()), v(x.size(), 0.75f);
    int checked = 0;
    for (const Isa isa : runnable_isas()) {
        if (isa == Isa::Generic) continue;
        const auto& cfg = fovea::detail::kernel_config(isa);
        // SwiGLU's gate: silu(g) v
        std::feclearexcept(FE_ALL_EXCEPT);
        cfg.silu_gate_row(x.data(), v.data(), n, y.data());
        EXPECT_FALSE(std::fetestexcept(FE_UNDERFLOW)) << isa_name(isa) << " silu made a subnormal";
        for (std::int64_t i = 0; i < n; ++i) {
            const double ref = x[i] / (1.0 + std::exp(-double(x[i]))) * 0.75;
            ASSERT_NEAR(y[i], ref, 3e-7 * (1 + std::abs(ref))) << isa_name(isa) << " silu g=" << x[i];
            ++checked;
        }
        // Softmax rows of 197 scores, one at 0 and the rest at -gap, for gaps across exp's tail;
        // and the same row as one block of the online softmax (exponentials, not divided)
        for (float gap = 70.0f; gap < 110.0f; gap += 0.05f) {
            std::vector<float> row(197, -gap), block(197, -gap);
            row[0] = 0.0f;
            float mx = 0.0f;
            std::feclearexcept(FE_ALL_EXCEPT);
            cfg.softmax_row(row.data(), 197);
            cfg.exp_block_row(block.data(), 197, &mx);
            EXPECT_FALSE(std::fetestexcept(FE_UNDERFLOW)) << isa_name(isa) << " softmax at gap " << gap << " made a subnormal";
            const double e = std::exp(-double(gap)), p0 = 1.0 / (1.0 + 196 * e);
            ASSERT_NEAR(row[0], p0, 1e-6) << isa_name(isa) << " gap " << gap;
            for (std::size_t j = 1; j < row.size(); ++j) {
                ASSERT_NEAR(row[j], e * p0, 1e-6 * e * p0 + 2 * FLT_MIN) << isa_name(isa) << " gap " << gap;
                ASSERT_NEAR(block[j], e, 1e-6 * e + 2 * FLT_MIN) << isa_name(isa) << " gap " << gap;
                // below FLT_MIN: 0, not a floor that the values' product would start its sums from
                if (e * p0 < 0.99 * FLT_MIN) ASSERT_EQ(row[j], 0.0f) << isa_name(isa) << " gap " << gap;
                if (e < 0.99 * FLT_MIN) ASSERT_EQ(block[j], 0.0f) << isa_name(isa) << " gap " << gap;
            }
        }
    }
    if (checked == 0) GTEST_SKIP() << "no vector kernels on this CPU";
}

TEST(Threads, OutputBitsDoNotDependOnTheThreadCount) {
    // Every thread count this machine has, and loops cut into 3, 5 and 16 parts (as on larger
    // machines) run by however many threads there are.
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (const std::string name : {"vit_base_patch16_224", "swin_pad_40", "swin_tiny_patch4_window7_224", "vit_long_seq_68x72",
                                   "swin_window17_long"}) {  // the last two: online softmax over key blocks
        const fovea::Model model = fovea::load_model(data_dir() + "/" + name);
        const Reference ref(name);
        std::vector<fovea::Tensor<float, 2>> out;
        for (int t = 1; t <= std::min(hw, 4); ++t) {
            EXPECT_EQ(fovea::set_num_threads(t), t);
            EXPECT_EQ(fovea::num_threads(), t);
            out.push_back(model.forward(ref.input()));
        }
        fovea::set_num_threads(0);
        // the network itself, under a context that cuts its loops into `parts` (the pool has fewer threads)
        const fovea::Network* net = model.as<fovea::Network>();
        ASSERT_NE(net, nullptr);
        for (int parts : {3, 5, 16}) {
            const fovea::Context ctx{parts, &fovea::thread_arena(), nullptr};
            out.push_back(net->forward_head(ctx, net->forward_features(ctx, ref.input(), {}), false));
        }
        for (std::size_t i = 1; i < out.size(); ++i)
            EXPECT_EQ(0, std::memcmp(out[i].data(), out[0].data(), out[0].size() * sizeof(float))) << name << " run " << i;
    }
}

TEST(Gemm, EverySplitOverThreadsGivesTheSameBits) {
    // ViT-B's proj at batch 1 (17 row tiles x 24 panels of 32): cut by panels (2 parts) and as a grid
    // of row groups x panel groups (16 parts: 2 x 8); N = 96 (3 panels of 32): cut by rows
    const std::int64_t M = 197, N = 768, K = 768;
    EXPECT_EQ(fovea::detail::grid_split(17, 24, 16).rows, 2);
    EXPECT_EQ(fovea::detail::grid_split(17, 24, 16).cols, 8);
    std::mt19937 rng(12);
    std::normal_distribution<float> nd;
    std::vector<float> a(M * K), w(N * K), bias(N);
    for (auto& x : a) x = nd(rng);
    for (auto& x : w) x = nd(rng);
    for (auto& x : bias) x = nd(rng);
    fovea::detail::Epilogue ep;
    ep.bias = bias.data();
    ep.act = fovea::Activation::Gelu;
    for (const Isa isa : runnable_isas())
        for (const std::int64_t n : {N, std::int64_t{96}}) {
            const auto B = fovea::detail::PackedMatrix::from_nk(w.data(), n, K, K, isa);
            std::vector<float> c1(M * n), cp(M * n);
            fovea::detail::gemm(fovea::Context{1, &fovea::thread_arena(), nullptr}, M, a.data(), K, B, c1.data(), n, ep);
            for (int parts : {2, 3, 5, 16}) {
                fovea::detail::gemm(fovea::Context{parts, &fovea::thread_arena(), nullptr}, M, a.data(), K, B, cp.data(), n, ep);
                EXPECT_EQ(0, std::memcmp(c1.data(), cp.data(), c1.size() * 4)) << isa_name(isa) << ", N " << n << ", parts " << parts;
            }
        }
}

TEST(Gemm, LongRowsAreComputedInSeveralChunks) {
    // K = 6000: about 1 MiB of A holds only a few row tiles, so the rows go through in chunks
    // and every panel group is met once per chunk.
    const std::int64_t M = 61, N = 600, K = 6000;  // >= 8 panels per thread: the packed path
    std::mt19937 rng(11);
    std::normal_distribution<float> nd;
    std::vector<float> a(M * K), w(N * K), c(M * N);
    for (auto& x : a) x = nd(rng);
    for (auto& x : w) x = nd(rng);
    std::vector<double> ref(M * N), mag(M * N);  // once for every entry
    for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t j = 0; j < N; ++j)
            for (std::int64_t k = 0; k < K; ++k) {
                ref[i * N + j] += double(a[i * K + k]) * w[j * K + k];
                mag[i * N + j] += std::abs(double(a[i * K + k]) * w[j * K + k]);
            }
    for (const Isa isa : runnable_isas()) {
        const auto B = fovea::detail::PackedMatrix::from_nk(w.data(), N, K, K, isa);
        fovea::detail::gemm(fovea::Context::top(), M, a.data(), K, B, c.data(), N);
        for (std::int64_t i = 0; i < M; ++i)
            for (std::int64_t j = 0; j < N; ++j)
                ASSERT_NEAR(c[i * N + j], ref[i * N + j], 2e-6 * (1 + mag[i * N + j])) << isa_name(isa) << " at (" << i << ", " << j << ")";
    }
}

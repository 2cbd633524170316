// The bf16 and int8 GEMM: every kernel this CPU can run against a float64 reference of the
// operands it was given (the rounded or quantized A and B), on ragged shapes and every epilogue;
// int8 kernels agree bit for bit; packing and A's conversion against their definitions.
#include <cmath>
#include <cstring>
#include <random>

#include <fovea/core/context.hpp>
#include <fovea/core/kernels.hpp>
#include <fovea/core/lowp.hpp>
#include <fovea/core/ops.hpp>
#include <fovea/fovea.hpp>

#include "fixtures.hpp"

using namespace fovea_test;
using fovea::Precision;
using fovea::detail::Epilogue;
using fovea::detail::LowpIsa;
using fovea::detail::LowpMatrix;

namespace {

std::vector<LowpIsa> runnable(Precision p) {
    std::vector<LowpIsa> v;
    for (LowpIsa l : {LowpIsa::Generic, LowpIsa::Avx512, LowpIsa::Amx, LowpIsa::Neon, LowpIsa::NeonMmla})
        if (fovea::detail::can_run_lowp(p, l)) v.push_back(l);
    return v;
}

const fovea::detail::KernelConfig& entry_for(LowpIsa l) {
    using fovea::detail::Isa;
    return fovea::detail::kernel_config(l == LowpIsa::Generic ? Isa::Generic : l == LowpIsa::Neon || l == LowpIsa::NeonMmla ? Isa::Neon : Isa::Avx512);
}

// B[k, n] as the kernels see it, read back from the packed panels.
double packed_weight(const LowpMatrix& B, std::int64_t k, std::int64_t n) {
    const std::int64_t panel = B.groups * 128;
    const std::uint8_t* p = B.data() + n / 32 * panel;
    const bool pairs = B.cfg->pair_columns;
    if (B.type == Precision::int8)
        return double(reinterpret_cast<const std::int8_t*>(p)[fovea::detail::lowp_b_offset(k / 4, n % 32, pairs) + k % 4]) * B.col_scale()[n];
    std::uint16_t h;
    std::memcpy(&h, p + fovea::detail::lowp_b_offset(k / 2, n % 32, pairs) + k % 2 * 2, 2);
    return fovea::detail::from_bf16(h);
}

// A[i, k] as the kernels see it, from the portable converter.
std::vector<double> converted_rows(Precision p, const std::vector<float>& a, std::int64_t M, std::int64_t K, std::int64_t lda,
                                   std::int64_t groups) {
    const auto& cfg = fovea::detail::lowp_config(p, LowpIsa::Generic);
    const std::int64_t ld = groups * 4;
    std::vector<std::uint8_t> q(M * ld);
    std::vector<float> s(M);
    std::vector<std::int32_t> z(M);
    cfg.convert(a.data(), M, K, lda, q.data(), ld, s.data(), z.data());
    std::vector<double> out(M * K);
    for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t k = 0; k < K; ++k) {
            if (p == Precision::int8) {
                out[i * K + k] = (double(q[i * ld + k]) - z[i]) * s[i];
            } else {
                std::uint16_t h;
                std::memcpy(&h, &q[i * ld + 2 * k], 2);
                out[i * K + k] = fovea::detail::from_bf16(h);
            }
        }
    return out;
}

}  // namespace

TEST(Lowp, KernelsMatchFloat64OfTheirOperandsOnRaggedShapes) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd;
    auto fill = [&](std::vector<float>& v) { for (auto& x : v) x = nd(rng); };
    int checked = 0;
    for (const Precision p : {Precision::bf16, Precision::int8})
        for (const LowpIsa l : runnable(p))
            for (const std::int64_t M : {1, 5, 13, 17, 33, 70})
                for (const std::int64_t N : {1, 31, 33, 100})
                    for (const std::int64_t K : {1, 3, 17, 64, 100, 777})
                        for (int variant = 0; variant < 3; ++variant) {
                            const std::int64_t lda = K + 3, ldc = N + 5;
                            std::vector<float> a(M * lda), w(N * K), bias(N), scale(N), c(M * ldc);
                            fill(a), fill(w), fill(bias), fill(scale), fill(c);
                            if (variant == 2)  // post-GELU-like rows: skewed, one sign mostly
                                for (auto& x : a) x = std::max(x, -0.17f);
                            const std::vector<float> c0 = c;
                            Epilogue ep;
                            if (variant == 1) ep.bias = bias.data(), ep.act = fovea::Activation::Gelu;
                            if (variant == 2) ep.bias = bias.data(), ep.scale = scale.data(), ep.accumulate = true;
                            const auto& cfg = fovea::detail::lowp_config(p, l);
                            const auto B = LowpMatrix::from_nk(w.data(), N, K, K, p, entry_for(l), &cfg);
                            fovea::detail::gemm(fovea::Context::top(), M, a.data(), lda, B, c.data(), ldc, ep);
                            const auto ad = converted_rows(p, a, M, K, lda, B.groups);
                            std::vector<double> wd(N * K);  // unpacked once, not per row (qemu runs this)
                            for (std::int64_t j = 0; j < N; ++j)
                                for (std::int64_t k = 0; k < K; ++k) wd[j * K + k] = packed_weight(B, k, j);
                            for (std::int64_t i = 0; i < M; ++i)
                                for (std::int64_t j = 0; j < N; ++j) {
                                    double acc = 0, mag = 0;
                                    for (std::int64_t k = 0; k < K; ++k) {
                                        const double t = ad[i * K + k] * wd[j * K + k];
                                        acc += t;
                                        mag += std::abs(t);
                                    }
                                    double v = acc;
                                    if (ep.bias) v += bias[j];
                                    if (ep.act != fovea::Activation::None) v = activation_ref(ep.act, v);
                                    if (ep.scale) v *= scale[j];
                                    if (ep.accumulate) v += c0[i * ldc + j];
                                    // int8 sums are exact: only the float write-back rounds
                                    ASSERT_NEAR(c[i * ldc + j], v, 4e-6 * (1 + mag + std::abs(v)))
                                        << cfg.name << " M " << M << " N " << N << " K " << K << " variant " << variant << " at "
                                        << i << "," << j;
                                }
                            ++checked;
                        }
    EXPECT_GE(checked, 2 * 6 * 4 * 6 * 3);
}

// Attention's keys are packed through the entry's row converter: the same bytes as the weights'
// word-by-word packing, in each entry's panel layout.
TEST(Lowp, KeysPackedThroughTheConverterAreTheWordByWordPacking) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    for (const LowpIsa l : runnable(Precision::bf16)) {
        const auto& cfg = fovea::detail::lowp_config(Precision::bf16, l);
        for (const auto& [N, K] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {31, 33}, {197, 64}, {70, 7}, {33, 100}}) {
            const std::int64_t ld = K + 3;
            std::vector<float> k(N * ld);
            for (auto& x : k) x = 3.0f * nd(rng);
            const auto bytes = static_cast<std::size_t>(fovea::detail::bf16_bytes(K, N));
            const auto want = fovea::detail::aligned_array<std::uint8_t>(bytes), got = fovea::detail::aligned_array<std::uint8_t>(bytes);
            std::vector<std::uint32_t> scratch(fovea::detail::kLowpNr * fovea::detail::bf16_groups(K));
            fovea::detail::pack_bf16_nk(k.data(), N, K, ld, cfg.pair_columns, want.get());
            fovea::detail::pack_bf16_nk_rows(k.data(), N, K, ld, cfg, scratch.data(), got.get());
            EXPECT_EQ(std::memcmp(want.get(), got.get(), bytes), 0) << cfg.name << " N " << N << " K " << K;
        }
    }
}

TEST(Lowp, PackedWeightsAreTheirRoundingOrQuantization) {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    const std::int64_t N = 45, K = 37;
    std::vector<float> w(N * K);
    for (auto& x : w) x = nd(rng);
    w[5] = 0.0f;
    for (std::int64_t k = 0; k < K; ++k) w[7 * K + k] = 0.0f;  // an all-zero output channel
    for (const Precision p : {Precision::bf16, Precision::int8})
        for (const LowpIsa l : runnable(p)) {  // each entry's layout
            const auto& cfg = fovea::detail::lowp_config(p, l);
            const auto B = LowpMatrix::from_nk(w.data(), N, K, K, p, entry_for(l), &cfg);
            SCOPED_TRACE(cfg.name);
            for (std::int64_t n = 0; n < N; ++n) {
                double amax = 0;
                for (std::int64_t k = 0; k < K; ++k) amax = std::max(amax, std::abs(double(w[n * K + k])));
                for (std::int64_t k = 0; k < K; ++k) {
                    const double x = w[n * K + k], q = packed_weight(B, k, n);
                    if (p == Precision::bf16) ASSERT_LE(std::abs(q - x), std::abs(x) / 256) << n << "," << k;  // RNE to 8 bits
                    else ASSERT_LE(std::abs(q - x), amax / 127 / 2 + 1e-7) << n << "," << k;  // half a step of max|w| / 127
                }
                if (p == Precision::int8) {
                    std::int32_t sum = 0;
                    for (std::int64_t k = 0; k < K; ++k) sum += static_cast<std::int32_t>(std::lround(packed_weight(B, k, n) / B.col_scale()[n]));
                    EXPECT_EQ(sum, B.col_sum()[n]) << n;
                }
            }
            // padding columns and K beyond the layer are zero
            for (std::int64_t k = K; k < B.groups * (p == Precision::int8 ? 4 : 2); ++k) EXPECT_EQ(packed_weight(B, k, 3), 0.0);
            for (std::int64_t n = N; n < B.panels() * 32; ++n) EXPECT_EQ(packed_weight(B, 0, n), 0.0);
        }
}

TEST(Lowp, EveryConverterAndInt8KernelAgreesBitForBit) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    const std::int64_t M = 37, K = 203, N = 70, lda = 211;
    std::vector<float> a(M * lda), w(N * K);
    for (auto& x : a) x = 3 * nd(rng);
    for (auto& x : w) x = nd(rng);
    for (std::int64_t k = 0; k < K; ++k) a[4 * lda + k] = std::abs(a[4 * lda + k]);  // a row >= 0: zero point 0
    for (std::int64_t k = 0; k < K; ++k) a[6 * lda + k] = 0.0f;                      // an all-zero row
    for (const Precision p : {Precision::bf16, Precision::int8}) {
        const std::int64_t groups = ((K + 1) / 2 + 15) / 16 * 16, ld = groups * 4;  // room for bf16
        std::vector<std::uint8_t> q0(M * ld), q1(M * ld);
        std::vector<float> s0(M), s1(M);
        std::vector<std::int32_t> z0(M), z1(M);
        fovea::detail::lowp_config(p, LowpIsa::Generic).convert(a.data(), M, K, lda, q0.data(), ld, s0.data(), z0.data());
        for (const LowpIsa l : runnable(p)) {
            fovea::detail::lowp_config(p, l).convert(a.data(), M, K, lda, q1.data(), ld, s1.data(), z1.data());
            if (fovea::detail::lowp_config(p, l).a_minus_128)  // SDOT's rows: a - 128 as int8, padding 0
                for (std::int64_t i = 0; i < M; ++i)
                    for (std::int64_t k = 0; k < K; ++k) q1[i * ld + k] ^= 0x80;
            EXPECT_EQ(q0, q1) << fovea::detail::lowp_config(p, l).name;
            if (p == Precision::int8) {
                EXPECT_EQ(s0, s1);
                EXPECT_EQ(z0, z1);
            }
        }
        if (p == Precision::int8) {
            EXPECT_EQ(z0[4], 0);
            EXPECT_EQ(z0[6], 0);
            for (std::int64_t i = 0; i < M; ++i) {  // the row's largest magnitude maps to 0 or 255
                std::uint8_t lo = 255, hi = 0;
                for (std::int64_t k = 0; k < K; ++k) lo = std::min(lo, q0[i * ld + k]), hi = std::max(hi, q0[i * ld + k]);
                if (i != 6) EXPECT_TRUE(lo == 0 || hi == 255) << i;
            }
        }
    }
    std::vector<float> ref;
    for (const LowpIsa l : runnable(Precision::int8)) {
        const auto& cfg = fovea::detail::lowp_config(Precision::int8, l);
        const auto B = LowpMatrix::from_nk(w.data(), N, K, K, Precision::int8, entry_for(l), &cfg);
        std::vector<float> c(M * N);
        fovea::detail::gemm(fovea::Context::top(), M, a.data(), lda, B, c.data(), N);
        if (ref.empty()) ref = c;
        else EXPECT_EQ(0, std::memcmp(ref.data(), c.data(), c.size() * 4)) << cfg.name;
    }
}

TEST(Lowp, NonFiniteRowsGiveNaNAsInFloat32) {
    const std::int64_t M = 3, K = 40, N = 5;
    std::vector<float> a(M * K, 0.5f), w(N * K, 0.25f), c(M * N);
    a[1 * K + 7] = std::numeric_limits<float>::infinity();
    a[2 * K + 3] = std::numeric_limits<float>::quiet_NaN();
    for (const LowpIsa l : runnable(Precision::int8)) {
        const auto& cfg = fovea::detail::lowp_config(Precision::int8, l);
        const auto B = LowpMatrix::from_nk(w.data(), N, K, K, Precision::int8, entry_for(l), &cfg);
        fovea::detail::gemm(fovea::Context::top(), M, a.data(), K, B, c.data(), N);
        for (std::int64_t j = 0; j < N; ++j) {
            EXPECT_NEAR(c[j], 0.5 * 0.25 * K, 0.05) << cfg.name;
            EXPECT_TRUE(std::isnan(c[N + j]) && std::isnan(c[2 * N + j])) << cfg.name;
        }
    }
}

TEST(Lowp, OutputBitsDoNotDependOnTheThreadCount) {
    std::mt19937 rng(9);
    std::normal_distribution<float> nd;
    const std::int64_t M = 197, K = 384, N = 1152;
    std::vector<float> a(M * K), w(N * K);
    for (auto& x : a) x = nd(rng);
    for (auto& x : w) x = nd(rng);
    for (const Precision p : {Precision::bf16, Precision::int8}) {
        const auto B = LowpMatrix::from_nk(w.data(), N, K, K, p);
        std::vector<float> c1(M * N), cn(M * N);
        fovea::detail::gemm(fovea::Context{1, &fovea::thread_arena(), nullptr}, M, a.data(), K, B, c1.data(), N);
        for (int parts : {3, 16}) {  // 16: a grid of row groups x panel groups (grid_split)
            fovea::detail::gemm(fovea::Context{parts, &fovea::thread_arena(), nullptr}, M, a.data(), K, B, cn.data(), N);
            EXPECT_EQ(0, std::memcmp(c1.data(), cn.data(), c1.size() * 4)) << fovea::precision_name(p) << ", parts " << parts;
        }
    }
}

// Attention's bf16 products (core/ops.hpp: a bf16 or int8 model's attention from its entry's
// attention_min_keys, 16 on AMX and 128 elsewhere) on each bf16 kernel this CPU runs, against
// float64 attention of the operands the kernels are given: alpha q, k and v rounded to bf16. The
// probabilities are rounded to bf16 on their way into P V (relative error <= 2^-9 each, as in
// PyTorch's bf16 autocast), so the output may differ from the reference by at most 2^-9 max|v|:
// the bound asserted, with 2^-8. Shapes: a Swin window (49 x 49, bias and mask), whole rows
// (Tk <= 256), the online softmax over 2 and 3 key blocks (the last of 44 keys, of 1), odd D, a
// relative bias and Swin's region mask, and the probabilities copied out.
TEST(Lowp, AttentionProductsInBf16MatchFloat64OfTheirOperands) {
    using fovea::detail::from_bf16;
    using fovea::detail::to_bf16;
    struct Shape {
        std::int64_t Tq, Tk, D;
        bool add, labels, probs;
    };
    std::mt19937 rng(11);
    std::normal_distribution<float> nd;
    for (LowpIsa l : runnable(Precision::bf16)) {
        const auto& cfg = fovea::detail::lowp_config(Precision::bf16, l);
        for (const Shape s : {Shape{49, 49, 32, true, true, false}, Shape{37, 200, 64, true, true, false},
                              Shape{64, 300, 40, false, false, false}, Shape{5, 513, 33, true, false, false},
                              Shape{20, 300, 32, false, true, true}}) {
            const float alpha = 0.125f;
            const std::int64_t ld = 3 * s.D + 2;  // q | k | v of a token side by side, as in the qkv projection
            std::vector<float> x(std::max(s.Tq, s.Tk) * ld), add(s.Tq * s.Tk), out(s.Tq * s.D, -1.0f), probs(s.Tq * s.Tk);
            for (auto& v : x) v = 2.0f * nd(rng);
            for (auto& v : add) v = nd(rng);
            std::vector<int> labels(s.Tk);
            for (std::int64_t j = 0; j < s.Tk; ++j) labels[j] = static_cast<int>(j * 7 / s.Tk) % 3;
            const float *q = x.data(), *k = x.data() + s.D, *v = x.data() + 2 * s.D;
            const fovea::Context ctx{1, &fovea::thread_arena(), nullptr};
            const auto scope = ctx.arena->scope();
            float* kp = ctx.arena->alloc<float>(fovea::detail::packed_k_floats(s.Tk, s.D, &cfg));
            float* vp = ctx.arena->alloc<float>(fovea::detail::packed_v_floats(s.Tk, s.D, &cfg));
            fovea::detail::pack_kv(*ctx.arena, k, v, ld, s.Tk, s.D, kp, vp, &cfg);
            fovea::detail::attention_packed(ctx, q, ld, s.Tq, kp, vp, s.Tk, s.D, alpha, s.add ? add.data() : nullptr,
                                            s.labels ? labels.data() : nullptr, 0, out.data(), s.D, s.probs ? probs.data() : nullptr, &cfg);
            const auto bf = [](float f) { return double(from_bf16(to_bf16(f))); };
            double vmax = 0, worst = 0, worst_p = 0;
            for (std::int64_t j = 0; j < s.Tk; ++j)
                for (std::int64_t d = 0; d < s.D; ++d) vmax = std::max(vmax, std::abs(bf(v[j * ld + d])));
            for (std::int64_t i = 0; i < s.Tq; ++i) {
                std::vector<double> p(s.Tk);
                double m = -1e300, sum = 0;
                for (std::int64_t j = 0; j < s.Tk; ++j) {
                    double dot = 0;
                    for (std::int64_t d = 0; d < s.D; ++d) dot += bf(alpha * q[i * ld + d]) * bf(k[j * ld + d]);
                    p[j] = dot + (s.add ? add[i * s.Tk + j] : 0.0) + (s.labels && labels[j] != labels[i] ? -100.0 : 0.0);
                    m = std::max(m, p[j]);
                }
                for (auto& e : p) sum += (e = std::exp(e - m));
                for (std::int64_t d = 0; d < s.D; ++d) {
                    double o = 0;
                    for (std::int64_t j = 0; j < s.Tk; ++j) o += p[j] / sum * bf(v[j * ld + d]);
                    worst = std::max(worst, std::abs(out[i * s.D + d] - o));
                }
                if (s.probs)
                    for (std::int64_t j = 0; j < s.Tk; ++j) worst_p = std::max(worst_p, std::abs(probs[i * s.Tk + j] - p[j] / sum));
            }
            EXPECT_LE(worst, vmax / 256) << cfg.name << ", Tq " << s.Tq << ", Tk " << s.Tk << ", D " << s.D << " (max |v| " << vmax << ")";
            EXPECT_LE(worst_p, 1e-6) << cfg.name << ": probabilities are fp32 softmax of the bf16 products";
        }
    }
}

// A bf16 and an int8 model's attention (bf16 products over 68 x 72 patches and Swin's 17 x 17
// windows: 289 keys) and all else: the same bits at every thread count and cut.
TEST(Lowp, ModelBitsDoNotDependOnTheThreadCount) {
    for (const std::string name : {"vit_long_seq_68x72", "swin_window17_long"})
        for (const Precision p : {Precision::bf16, Precision::int8}) {
            fovea::LoadOptions o;
            o.precision = p;
            const fovea::Model model = fovea::load_model(data_dir() + "/" + name, o);
            const Reference ref(name);
            const fovea::Network* net = model.as<fovea::Network>();
            ASSERT_NE(net, nullptr);
            std::vector<fovea::Tensor<float, 2>> out;
            for (int parts : {1, 3, 16}) {
                const fovea::Context ctx{parts, &fovea::thread_arena(), nullptr};
                out.push_back(net->forward_head(ctx, net->forward_features(ctx, ref.input(), {}), false));
            }
            for (std::size_t i = 1; i < out.size(); ++i)
                EXPECT_EQ(0, std::memcmp(out[i].data(), out[0].data(), out[0].size() * sizeof(float))) << name << " " << fovea::precision_name(p) << " run " << i;
        }
}

#pragma once
// The kernel table (as XNNPACK's gemm-config): one entry per instruction set, holding the tile
// shape, the micro-kernels by tile height, the epilogue and row kernels, and the cache blocking
// derived from this CPU's caches, and the bf16 and int8 kernels (core/lowp_kernels.hpp) that go
// with it. kernels() is chosen once, at first use, from cpu_info(); FOVEA_MAX_ISA=avx512 (no AMX),
// =avx2 or =generic in the environment caps it (to compare paths on one machine). On aarch64 the
// f32 entry is NEON (8 x 8, fmla by lane; =generic caps it too); its int8 kernels run on USMMLA
// where the CPU has i8mm, else on SDOT where it has dotprod, its bf16 kernels on BFMMLA where it has
// bf16, else the portable ones.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fovea/core/cpu.hpp"
#include "fovea/core/epilogue.hpp"
#include "fovea/core/lowp_kernels.hpp"
#include "fovea/core/precision.hpp"
#include "fovea/core/simd.hpp"

namespace fovea::detail {

enum class Isa { Generic, Avx2, Avx512, Neon };

inline const char* isa_name(Isa i) {
    return i == Isa::Avx512 ? "avx512" : i == Isa::Avx2 ? "avx2" : i == Isa::Neon ? "neon" : "generic";
}

// acc[m, nr] (+)= A[m, kc] (rows at stride lda) * B[kc, nr] (a packed micro-panel), fetching pf_lines
// cache lines from pf into L2 on the way; see gemm_ukernel.inl
using UKernelF32 = void (*)(std::int64_t kc, const float* a, std::int64_t lda, const float* b, float* acc,
                            std::int64_t ldacc, bool load, const char* pf, std::int64_t pf_lines);
using EpilogueFn = void (*)(const float* acc, std::int64_t ldacc, std::int64_t m, std::int64_t n, float* C,
                            std::int64_t ldc, std::int64_t row0, std::int64_t col0, const Epilogue& ep);
using LayerNormRowFn = void (*)(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y);
using SoftmaxRowFn = void (*)(float* x, std::int64_t n);
using ExpBlockRowFn = float (*)(float* x, std::int64_t n, float* max);
using SiluGateRowFn = void (*)(const float* gate, const float* value, std::int64_t n, float* out);

inline constexpr int kMaxMr = 14;

// The reduced-precision kernels of one entry: tile height, micro-kernels by height, the row
// converter of A. Tiles are always kLowpNr (32) columns wide.
enum class LowpIsa { Generic, Avx512, Amx, Neon, NeonMmla };  // Neon: SDOT / BFDOT; NeonMmla: USMMLA / BFMMLA

struct LowpConfig {
    LowpIsa isa = LowpIsa::Generic;
    const char* name = "generic";
    int mr = 1;
    UKernelLowp ukernel[kLowpMaxMr + 1] = {};
    ConvertRowsFn convert = nullptr;
    bool a_minus_128 = false;   // int8 A rows hold a - 128 (aarch64's SDOT multiplies signed by signed)
    bool pair_columns = false;  // B's groups in MMLA's column pairs (lowp_b_offset)
    // A kernel call reads A and writes its output in whole tiles of this many rows (AMX: 16), past
    // a tile's m rows; 1: exactly m rows
    int tile_rows = 1;
    // The fewest keys at which attention's products run on this bf16 entry (see attention_lowp);
    // 0: never (the portable entry is slower than fp32). Measured, bf16 model against fp32
    // attention: Zen 5's AVX512_BF16 made Swin's 49-key windows 13% slower and paid from ViT-B's
    // 197 keys; AMX made Swin-T 1.5x faster (Xeon: 68 -> 45 ms at 1 thread, 15.4 -> 10.4 at 16).
    int attention_min_keys = 0;
    // Around a thread's run of ukernel calls (AMX: the tile configuration is loaded once, not per
    // call, and the tiles are released after); null where nothing is needed.
    void (*begin)() = nullptr;
    void (*end)() = nullptr;
};

struct KernelConfig {
    Isa isa = Isa::Generic;
    const char* name = "generic";
    int mr = 1, nr = 1;        // tile: mr rows x nr columns; nr is also the packed panel width
    std::int64_t kc = 0;       // K block: an A block of kMinRows x kc floats fills half of L2
    std::int64_t a_block = 0;  // bytes of A a row block may hold (half of L2): rows = a_block / (4 K)
    UKernelF32 ukernel[kMaxMr + 1] = {};  // by tile height 1..mr
    EpilogueFn epilogue = nullptr;
    LayerNormRowFn layer_norm_row = nullptr;
    SoftmaxRowFn softmax_row = nullptr;
    ExpBlockRowFn exp_block_row = nullptr;
    SiluGateRowFn silu_gate_row = nullptr;
    const LowpConfig* bf16 = nullptr;  // what Precision::bf16 and ::int8 weights run on
    const LowpConfig* int8 = nullptr;
    const LowpConfig& lowp(Precision p) const { return p == Precision::int8 ? *int8 : *bf16; }
};

// ---- portable row kernels (the generic entry) -----------------------------------------------

inline void layer_norm_row_generic(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y) {
    float mean = 0;
    for (std::int64_t c = 0; c < C; ++c) mean += x[c];
    mean /= static_cast<float>(C);
    float var = 0;
    for (std::int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(C) + eps);
    for (std::int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean) * inv * w[c] + b[c];
}

inline float exp_block_row_generic(float* x, std::int64_t n, float* max) {
    float m = *max;
    for (std::int64_t c = 0; c < n; ++c) m = std::max(m, x[c]);
    float sum = 0;
    for (std::int64_t c = 0; c < n; ++c) sum += (x[c] = std::exp(x[c] - m));
    *max = m;
    return sum;
}

inline void softmax_row_generic(float* x, std::int64_t n) {
    float m = -INFINITY;
    const float inv = 1.0f / exp_block_row_generic(x, n, &m);
    for (std::int64_t c = 0; c < n; ++c) x[c] *= inv;
}

inline void silu_gate_row_generic(const float* gate, const float* value, std::int64_t n, float* out) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * value[i];
}

inline void epilogue_generic(const float* acc, std::int64_t ldacc, std::int64_t m, std::int64_t n, float* C,
                             std::int64_t ldc, std::int64_t row0, std::int64_t col0, const Epilogue& ep) {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            float v = acc[i * ldacc + j] * ep.alpha;
            if (ep.bias) v += ep.bias[col0 + j];
            if (ep.add) v += ep.add[(row0 + i) * ep.add_ld + col0 + j];
            if (ep.act == Activation::Gelu) v = 0.5f * v * (1.0f + std::erf(v * kInvSqrt2));
            if (ep.act == Activation::GeluTanh) v = v / (1.0f + std::exp(-1.5957691216057308f * (v + 0.044715f * v * v * v)));
            if (ep.act == Activation::QuickGelu) v = v / (1.0f + std::exp(-1.702f * v));
            if (ep.scale) v *= ep.scale[col0 + j];
            C[i * ldc + j] = ep.accumulate ? C[i * ldc + j] + v : v;
        }
}

// ---- the table ---------------------------------------------------------------------------

namespace kernels_impl {

template <int MR, class Fn>
constexpr void fill_ukernels(UKernelF32* out, Fn make) {
    if constexpr (MR > 0) {
        out[MR] = make(std::integral_constant<int, MR>{});
        fill_ukernels<MR - 1>(out, make);
    }
}

// K blocks from the cache sizes: an A block of at least kMinRows rows (one ViT-B/16 sequence) by
// kc fills half of L2, where it stays while every B micro-panel (kc x nr) passes it; the
// micro-panels stream from L2. Measured on Zen 5 and Sapphire Rapids, micro-panels sized for L1
// (kc 128-192) ran 3-8% slower: the kernel's fixed cost per block (its 2 x mr partial sums in and
// out, the epilogue's wait) is paid once per K block.
inline constexpr std::int64_t kMinRows = 192;
inline void set_blocking(KernelConfig& k, const CpuInfo& cpu) {
    k.a_block = cpu.l2 / 2;
    k.kc = std::max<std::int64_t>(64, k.a_block / (kMinRows * 4) / 16 * 16);
}

template <int MR, class Fn>
constexpr void fill_lowp(UKernelLowp* out, Fn make) {
    if constexpr (MR > 0) {
        out[MR] = make(std::integral_constant<int, MR>{});
        fill_lowp<MR - 1>(out, make);
    }
}

inline LowpConfig make_lowp(Precision p, LowpIsa isa) {
    LowpConfig c;
    c.isa = isa;
    const bool i8 = p == Precision::int8;
    if (isa == LowpIsa::Generic) {
        c.name = i8 ? "generic int8 12x32" : "generic bf16 12x32";
        c.mr = 12;
        for (int m = 1; m <= c.mr; ++m) c.ukernel[m] = i8 ? ukernel_int8_generic : ukernel_bf16_generic;
        c.convert = i8 ? quantize_rows_u8_generic : convert_rows_bf16_generic;
        return c;
    }
    // Every entry with bf16 instructions: AVX512_BF16's figure (Zen 5; not measured on an ARM
    // core); AMX's own below
    c.attention_min_keys = 128;
#if defined(__x86_64__)
    c.convert = i8 ? avx512_lowp::quantize_rows_u8 : avx512_lowp::convert_rows_bf16;
    if (isa == LowpIsa::Avx512) {
        c.name = i8 ? "avx512_vnni int8 12x32" : "avx512_bf16 bf16 12x32";
        c.mr = 12;
        if (i8)
            fill_lowp<12>(c.ukernel, [](auto MR) -> UKernelLowp { return &avx512_lowp::gemm_ukernel_lowp<avx512_lowp::Int8, decltype(MR)::value>; });
        else
            fill_lowp<12>(c.ukernel, [](auto MR) -> UKernelLowp { return &avx512_lowp::gemm_ukernel_lowp<avx512_lowp::Bf16, decltype(MR)::value>; });
    } else {
#if !defined(_WIN32)  // AMX runs on Linux only (see request_amx)
        c.name = i8 ? "amx int8 32x32" : "amx bf16 32x32";
        c.mr = 32;
        for (int m = 1; m <= c.mr; ++m) c.ukernel[m] = i8 ? &amx::gemm_ukernel_amx<true> : &amx::gemm_ukernel_amx<false>;
        c.tile_rows = 16;
        c.attention_min_keys = 16;
        c.begin = &amx::configure_tiles;
        c.end = &amx::release_tiles;
#endif
    }
#endif
#if defined(__aarch64__)
    if (isa == LowpIsa::Neon) {
        c.name = i8 ? "neon_dotprod int8 5x32 (sdot)" : "neon_bf16 bf16 5x32 (bfdot)";
        c.mr = 5;
        c.convert = i8 ? neon_lowp::quantize_rows_s8_minus128 : convert_rows_bf16_generic;
        c.a_minus_128 = i8;
        if (i8)
            fill_lowp<5>(c.ukernel, [](auto MR) -> UKernelLowp { return &neon_lowp::gemm_ukernel_lowp<neon_lowp::Int8, decltype(MR)::value>; });
        else
            fill_lowp<5>(c.ukernel, [](auto MR) -> UKernelLowp { return &neon_lowp::gemm_ukernel_lowp<neon_lowp::Bf16, decltype(MR)::value>; });
    } else if (isa == LowpIsa::NeonMmla) {
        c.name = i8 ? "neon_i8mm int8 4x32 (usmmla)" : "neon_bf16 bf16 4x32 (bfmmla)";
        c.mr = 4;
        c.convert = i8 ? quantize_rows_u8_generic : convert_rows_bf16_generic;
        c.pair_columns = true;
        if (i8)
            fill_lowp<4>(c.ukernel, [](auto MR) -> UKernelLowp { return &neon_lowp::gemm_ukernel_mmla<neon_lowp::MmlaInt8, decltype(MR)::value>; });
        else
            fill_lowp<4>(c.ukernel, [](auto MR) -> UKernelLowp { return &neon_lowp::gemm_ukernel_mmla<neon_lowp::MmlaBf16, decltype(MR)::value>; });
    }
#endif
    return c;
}

inline bool amx_capped() {
    const char* cap = std::getenv("FOVEA_MAX_ISA");
    return cap && std::string(cap) != "amx";
}

}  // namespace kernels_impl

// Whether this CPU can run a reduced-precision entry (AMX: also granted by the OS, see request_amx).
inline bool can_run_lowp(Precision p, LowpIsa l) {
    const CpuInfo& cpu = cpu_info();
    const bool i8 = p == Precision::int8;
    if (l == LowpIsa::Generic) return true;
#if defined(__aarch64__)
    if (l == LowpIsa::Neon) return i8 ? cpu.dotprod : cpu.arm_bf16;
    if (l == LowpIsa::NeonMmla) return i8 ? cpu.i8mm : cpu.arm_bf16;
#endif
    if (l == LowpIsa::Neon || l == LowpIsa::NeonMmla || !cpu.has_avx512()) return false;
    if (l == LowpIsa::Avx512) return i8 ? cpu.avx512_vnni : cpu.avx512_bf16;
    // AMX kernels share the AVX-512 kernels' int8 write-back (compiled for BF16 + VNNI, which
    // every AMX CPU has)
    return (i8 ? cpu.amx_int8 : cpu.amx_bf16) && cpu.avx512_bf16 && cpu.avx512_vnni && request_amx();
}

// A given reduced-precision entry (tests compare them); only for one can_run_lowp() accepts.
inline const LowpConfig& lowp_config(Precision p, LowpIsa l) {
    static const LowpConfig table[2][5] = {
        {kernels_impl::make_lowp(Precision::bf16, LowpIsa::Generic), kernels_impl::make_lowp(Precision::bf16, LowpIsa::Avx512),
         kernels_impl::make_lowp(Precision::bf16, LowpIsa::Amx), kernels_impl::make_lowp(Precision::bf16, LowpIsa::Neon),
         kernels_impl::make_lowp(Precision::bf16, LowpIsa::NeonMmla)},
        {kernels_impl::make_lowp(Precision::int8, LowpIsa::Generic), kernels_impl::make_lowp(Precision::int8, LowpIsa::Avx512),
         kernels_impl::make_lowp(Precision::int8, LowpIsa::Amx), kernels_impl::make_lowp(Precision::int8, LowpIsa::Neon),
         kernels_impl::make_lowp(Precision::int8, LowpIsa::NeonMmla)}};
    return table[p == Precision::int8][static_cast<int>(l)];
}

namespace kernels_impl {
// The best reduced-precision kernels for an f32 entry: AMX, else AVX-512's dot products, else the
// portable ones (on AVX2-only CPUs too: weights stay small, the products are emulated); on aarch64
// USMMLA / BFMMLA (twice the multiply-adds per instruction), else SDOT, where the CPU has them.
inline const LowpConfig* best_lowp(Precision p, Isa isa) {
    if (isa == Isa::Neon)
        for (const LowpIsa l : {LowpIsa::NeonMmla, LowpIsa::Neon})
            if (can_run_lowp(p, l)) return &lowp_config(p, l);
    if (isa != Isa::Avx512) return &lowp_config(p, LowpIsa::Generic);
    if (!amx_capped() && can_run_lowp(p, LowpIsa::Amx)) return &lowp_config(p, LowpIsa::Amx);
    if (can_run_lowp(p, LowpIsa::Avx512)) return &lowp_config(p, LowpIsa::Avx512);
    return &lowp_config(p, LowpIsa::Generic);
}

inline KernelConfig make(Isa isa, const CpuInfo& cpu) {
    KernelConfig k;
    k.isa = isa;
    k.layer_norm_row = layer_norm_row_generic;
    k.softmax_row = softmax_row_generic;
    k.exp_block_row = exp_block_row_generic;
    k.silu_gate_row = silu_gate_row_generic;
    k.epilogue = epilogue_generic;
    k.name = "portable f32 6x8";
    k.mr = 6;
    k.nr = 8;
    fill_ukernels<6>(k.ukernel, [](auto MR) -> UKernelF32 { return &portable::gemm_ukernel_f32<decltype(MR)::value>; });
#if defined(__x86_64__)
    if (isa == Isa::Avx512) {
        k.name = "avx512 f32 12x32";
        k.mr = 12;
        k.nr = 32;
        fill_ukernels<12>(k.ukernel, [](auto MR) -> UKernelF32 { return &avx512::gemm_ukernel_f32<decltype(MR)::value>; });
        k.epilogue = avx512::epilogue_tile;
        k.layer_norm_row = avx512::layer_norm_row;
        k.softmax_row = avx512::softmax_row;
        k.exp_block_row = avx512::exp_block_row;
        k.silu_gate_row = avx512::silu_gate_row;
    } else if (isa == Isa::Avx2) {
        k.name = "avx2 f32 6x16";
        k.mr = 6;
        k.nr = 16;
        fill_ukernels<6>(k.ukernel, [](auto MR) -> UKernelF32 { return &avx2::gemm_ukernel_f32<decltype(MR)::value>; });
        k.epilogue = avx2::epilogue_tile;
        k.layer_norm_row = avx2::layer_norm_row;
        k.softmax_row = avx2::softmax_row;
        k.exp_block_row = avx2::exp_block_row;
        k.silu_gate_row = avx2::silu_gate_row;
    }
#endif
#if defined(__aarch64__)
    if (isa == Isa::Neon) {
        k.name = "neon f32 8x8";
        k.mr = 8;
        k.nr = 8;
        fill_ukernels<8>(k.ukernel, [](auto MR) -> UKernelF32 { return &neon::gemm_ukernel_f32<decltype(MR)::value>; });
        k.epilogue = neon::epilogue_tile;
        k.layer_norm_row = neon::layer_norm_row;
        k.softmax_row = neon::softmax_row;
        k.exp_block_row = neon::exp_block_row;
        k.silu_gate_row = neon::silu_gate_row;
    }
#endif
    set_blocking(k, cpu);
    k.bf16 = best_lowp(Precision::bf16, isa);
    k.int8 = best_lowp(Precision::int8, isa);
    return k;
}

inline Isa best_isa(const CpuInfo& cpu) {
#if defined(__x86_64__)
    Isa isa = cpu.has_avx512() ? Isa::Avx512 : cpu.has_avx2() ? Isa::Avx2 : Isa::Generic;
#elif defined(__aarch64__)
    Isa isa = cpu.neon ? Isa::Neon : Isa::Generic;
#else
    Isa isa = Isa::Generic;
#endif
    if (const char* cap = std::getenv("FOVEA_MAX_ISA")) {
        const std::string c = cap;
        if (c == "generic") isa = Isa::Generic;
        if (c == "avx2" && isa == Isa::Avx512) isa = Isa::Avx2;
    }
    return isa;
}

}  // namespace kernels_impl

// Whether this CPU can run a table entry.
inline bool can_run(Isa isa) {
    const CpuInfo& cpu = cpu_info();
#if defined(__aarch64__)
    if (isa == Isa::Neon) return cpu.neon;
#endif
    return isa == Isa::Generic || (isa == Isa::Avx2 && cpu.has_avx2()) || (isa == Isa::Avx512 && cpu.has_avx512());
}

// A given entry (tests and benchmarks compare them); only call for one can_run() accepts.
inline const KernelConfig& kernel_config(Isa isa) {
    static const KernelConfig table[4] = {kernels_impl::make(Isa::Generic, cpu_info()),
                                          kernels_impl::make(Isa::Avx2, cpu_info()),
                                          kernels_impl::make(Isa::Avx512, cpu_info()),
                                          kernels_impl::make(Isa::Neon, cpu_info())};
    return table[static_cast<int>(isa)];
}

// The entry this CPU runs, chosen once.
inline const KernelConfig& kernels() {
    static const KernelConfig& k = kernel_config(kernels_impl::best_isa(cpu_info()));
    return k;
}

}  // namespace fovea::detail

namespace fovea::detail {
// What runs a model's Linear layers at precision p on this CPU (benchmarks print it).
inline const char* kernel_name(Precision p) { return p == Precision::f32 ? kernels().name : kernels().lowp(p).name; }
}  // namespace fovea::detail

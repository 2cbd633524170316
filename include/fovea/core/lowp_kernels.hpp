#pragma once
// Reduced-precision micro-kernels: bf16 and int8 products with fp32 results, for core/lowp.hpp.
//
// Both types share one packed layout in bytes. K is cut into groups of 4 bytes (2 bf16 or 4 int8
// values), the unit one vdpbf16ps / vpdpbusd lane and one AMX tile row element consume:
//   A: rows of `groups` x 4 bytes at stride lda (bytes): converted from fp32 once per GEMM;
//   B: a panel of 32 columns holds, per group g, 32 x 4 bytes (column j's values of that group at
//      g * 128 + 4 j): one 128-byte line pair, or one AMX B tile row pair at stride 128 (the MMLA
//      kernels' entries reorder each two groups' 256 bytes: lowp_b_offset).
// groups is a multiple of 16 (an AMX tile's depth); padding is zero in B, so it adds nothing.
//
//   out[m, 32] = A[m, groups] . B[groups, 32]                 (bf16: fp32 sums)
//   out[i, j]  = float(acc[i, j] - zero[i] colsum[j]) * scale[i] * col_scale[j]   (int8)
// int8: A is unsigned (x / scale[i] + zero[i], rounded, in 0..255), B signed (w / col_scale[j],
// in -127..127), acc the exact int32 sum of products; colsum[j] the sum of column j's weights.
// The GEMM epilogue (bias, GELU, residual) then runs on out as on an fp32 tile.
//
// Kernels: AMX tiles (32 x 32 per call), AVX512_BF16 / AVX512_VNNI (up to 12 x 32, accumulators
// named as in gemm_ukernel.inl), aarch64's USMMLA / BFMMLA (up to 4 x 32) and SDOT / BFDOT (up to
// 5 x 32), and portable C++ (exact for int8, fp32 sums of bf16 products for bf16) on every other CPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "fovea/core/simd.hpp"

namespace fovea::detail {

inline constexpr std::int64_t kLowpNr = 32;          // panel width (columns)
inline constexpr std::int64_t kLowpGroupBytes = 4;   // one group of K
inline constexpr std::int64_t kLowpGroupAlign = 16;  // groups padded to this (AMX tile depth)
inline constexpr int kLowpMaxMr = 32;

// Where group g of column j (in a panel) lies: g * 128 + 4 j; or, for the MMLA kernels (aarch64's
// USMMLA / BFMMLA take 2 columns x 8 bytes of K), in pairs of columns inside each 256-byte block of
// two groups: column pair j / 2 at 16 bytes each, column j % 2 at + 8, group g % 2 at + 4.
inline std::int64_t lowp_b_offset(std::int64_t g, std::int64_t j, bool pair_columns) {
    return pair_columns ? g / 2 * 256 + j / 2 * 16 + j % 2 * 8 + g % 2 * 4 : g * 128 + 4 * j;
}

// Per-row and per-column factors of an int8 tile (pointers at the tile's first row and column).
struct Dequant {
    const float* row_scale = nullptr;
    const std::int32_t* row_zero = nullptr;
    const float* col_scale = nullptr;
    const std::int32_t* col_sum = nullptr;
};

// out[m, 32] (ldo floats) from A rows (lda bytes) and one B panel; m <= the entry's mr.
using UKernelLowp = void (*)(std::int64_t m, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                             const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant& dq);
// fp32 rows -> packed A rows of `groups` x 4 bytes at stride ldd (padding zero); int8 also writes
// each row's scale and zero point.
using ConvertRowsFn = void (*)(const float* x, std::int64_t rows, std::int64_t K, std::int64_t ldx, std::uint8_t* dst,
                               std::int64_t ldd, float* scale, std::int32_t* zero);

// ---- scalar conversions, shared by packing and the portable kernels ------------------------

// fp32 -> bf16, rounding to nearest even (as vcvtneps2bf16 does for normal numbers); NaN stays NaN.
inline std::uint16_t to_bf16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}
inline float from_bf16(std::uint16_t h) {
    const std::uint32_t u = std::uint32_t{h} << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// A row's asymmetric quantization: [min(0, lo), max(0, hi)] onto 0..255 with an integral zero
// point (so 0 is exact). A row holding Inf or NaN gets scale NaN: its outputs are NaN, as in fp32.
struct RowQuant {
    float scale, inv;
    std::int32_t zero;
};
inline RowQuant row_quant(float lo, float hi, bool finite) {
    if (!finite) return {std::numeric_limits<float>::quiet_NaN(), 0.0f, 0};
    lo = std::min(lo, 0.0f);
    hi = std::max(hi, 0.0f);
    if (hi - lo == 0.0f) return {1.0f, 1.0f, 0};
    const float scale = (hi - lo) / 255.0f, inv = 255.0f / (hi - lo);
    const float z = std::nearbyint(-lo * inv);
    return {scale, inv, static_cast<std::int32_t>(std::min(255.0f, std::max(0.0f, z)))};
}
// Folds x[0, n) into a row's range and finiteness.
inline void scan_range(const float* x, std::int64_t n, float& lo, float& hi, bool& finite) {
    for (std::int64_t k = 0; k < n; ++k) {
        finite = finite && std::isfinite(x[k]);
        lo = std::min(lo, x[k]);
        hi = std::max(hi, x[k]);
    }
}

inline std::uint8_t quantize_u8(float x, const RowQuant& q) {
    const float v = std::nearbyint(x * q.inv) + static_cast<float>(q.zero);  // |x inv| <= 255: exact
    return static_cast<std::uint8_t>(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f);
}

// ---- portable kernels ---------------------------------------------------------------------

inline void convert_rows_bf16_generic(const float* x, std::int64_t rows, std::int64_t K, std::int64_t ldx, std::uint8_t* dst,
                                      std::int64_t ldd, float*, std::int32_t*) {
    for (std::int64_t i = 0; i < rows; ++i) {
        std::uint8_t* d = dst + i * ldd;
        std::memset(d, 0, static_cast<std::size_t>(ldd));
        for (std::int64_t k = 0; k < K; ++k) {
            const std::uint16_t h = to_bf16(x[i * ldx + k]);
            std::memcpy(d + 2 * k, &h, 2);
        }
    }
}

inline void quantize_rows_u8_generic(const float* x, std::int64_t rows, std::int64_t K, std::int64_t ldx, std::uint8_t* dst,
                                     std::int64_t ldd, float* scale, std::int32_t* zero) {
    for (std::int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * ldx;
        float lo = r[0], hi = r[0];
        bool finite = true;
        scan_range(r, K, lo, hi, finite);
        const RowQuant q = row_quant(lo, hi, finite);
        scale[i] = q.scale;
        zero[i] = q.zero;
        std::uint8_t* d = dst + i * ldd;
        std::memset(d, 0, static_cast<std::size_t>(ldd));
        if (finite)
            for (std::int64_t k = 0; k < K; ++k) d[k] = quantize_u8(r[k], q);
    }
}

inline void ukernel_bf16_generic(std::int64_t m, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                                 const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant&) {
    for (std::int64_t i = 0; i < m; ++i) {
        float acc[kLowpNr] = {};
        for (std::int64_t g = 0; g < groups; ++g) {
            std::uint16_t ah[2];
            std::memcpy(ah, a + i * lda + 4 * g, 4);
            const float a0 = from_bf16(ah[0]), a1 = from_bf16(ah[1]);
            const std::uint8_t* bg = b + g * kLowpNr * 4;
            for (std::int64_t j = 0; j < kLowpNr; ++j) {
                std::uint16_t bh[2];
                std::memcpy(bh, bg + 4 * j, 4);
                acc[j] += a0 * from_bf16(bh[0]) + a1 * from_bf16(bh[1]);
            }
        }
        std::memcpy(out + i * ldo, acc, sizeof acc);
    }
}

// The int8 write-back, identical in every kernel: exact integers, then two products in one order.
inline float dequant(std::int32_t acc, std::int64_t i, std::int64_t j, const Dequant& dq) {
    return static_cast<float>(acc - dq.row_zero[i] * dq.col_sum[j]) * dq.row_scale[i] * dq.col_scale[j];
}

inline void ukernel_int8_generic(std::int64_t m, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                                 const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant& dq) {
    for (std::int64_t i = 0; i < m; ++i) {
        std::int32_t acc[kLowpNr] = {};
        for (std::int64_t g = 0; g < groups; ++g) {
            const std::uint8_t* ag = a + i * lda + 4 * g;
            const auto* bg = reinterpret_cast<const std::int8_t*>(b + g * kLowpNr * 4);
            for (std::int64_t j = 0; j < kLowpNr; ++j)
                acc[j] += ag[0] * bg[4 * j] + ag[1] * bg[4 * j + 1] + ag[2] * bg[4 * j + 2] + ag[3] * bg[4 * j + 3];
        }
        for (std::int64_t j = 0; j < kLowpNr; ++j) out[i * ldo + j] = dequant(acc[j], i, j, dq);
    }
}

}  // namespace fovea::detail

#if defined(__x86_64__)
// ---- AVX-512 with BF16 and VNNI ------------------------------------------------------------
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vnni,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vnni,avx2,fma")
#endif
namespace fovea::detail::avx512_lowp {

inline __m512i broadcast_group(const std::uint8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// One template for both types: T::dot adds one group's products into an accumulator, T::store
// writes a row (int8: dequantized). dot_note: the dot products are inline assembly with the
// accumulator as an in-out register operand. Through the intrinsics, GCC 12 copied every int8
// accumulator to a fresh register and back each step, and spilled three of them to the stack
// (tests/asm/check_kernel_asm.py caught it); an in-out operand leaves no compiler that choice.
struct Bf16 {
    using Acc = __m512;
    static Acc zero() { return _mm512_setzero_ps(); }
    static Acc dot(Acc c, __m512i a, __m512i b) {  // c += a . b (pairs), in place: see dot_note
        __asm__("vdpbf16ps %2, %1, %0" : "+v"(c) : "v"(a), "v"(b));
        return c;
    }
    static void store(float* out, std::int64_t, Acc lo, Acc hi, const Dequant&) {
        _mm512_storeu_ps(out, lo);
        _mm512_storeu_ps(out + 16, hi);
    }
};
struct Int8 {
    using Acc = __m512i;
    static Acc zero() { return _mm512_setzero_si512(); }
    static Acc dot(Acc c, __m512i a, __m512i b) {  // c += a (u8) . b (s8), quads, in place
        __asm__("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(a), "v"(b));
        return c;
    }
    static void store(float* out, std::int64_t i, Acc lo, Acc hi, const Dequant& dq) {
        const __m512i z = _mm512_set1_epi32(dq.row_zero[i]);
        const __m512 s = _mm512_set1_ps(dq.row_scale[i]);
        const __m512i s0 = _mm512_loadu_si512(dq.col_sum), s1 = _mm512_loadu_si512(dq.col_sum + 16);
        const __m512 f0 = _mm512_loadu_ps(dq.col_scale), f1 = _mm512_loadu_ps(dq.col_scale + 16);
        _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, _mm512_mullo_epi32(z, s0))), s), f0));
        _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, _mm512_mullo_epi32(z, s1))), s), f1));
    }
};

#define FOVEA_LK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define FOVEA_LK_DECL(r) [[maybe_unused]] typename T::Acc c##r##a = T::zero(), c##r##b = T::zero();
#define FOVEA_LK_DOT(r)                                   \
    if constexpr (MR > r) {                               \
        const __m512i x = broadcast_group(a + r * lda + 4 * g); \
        c##r##a = T::dot(c##r##a, x, b0);                 \
        c##r##b = T::dot(c##r##b, x, b1);                 \
    }
#define FOVEA_LK_STORE(r) \
    if constexpr (MR > r) T::store(out + r * ldo, r, c##r##a, c##r##b, dq);

template <class T, int MR>
[[gnu::noinline]] void gemm_ukernel_lowp(std::int64_t, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                               const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant& dq) {
    static_assert(MR >= 1 && MR <= 12, "tile height out of range");
    FOVEA_LK_ROWS(FOVEA_LK_DECL)
    for (std::int64_t g = 0; g < groups; ++g) {
        const __m512i b0 = _mm512_load_si512(b + g * 128), b1 = _mm512_load_si512(b + g * 128 + 64);
        FOVEA_LK_ROWS(FOVEA_LK_DOT)
    }
    FOVEA_LK_ROWS(FOVEA_LK_STORE)
}

#undef FOVEA_LK_ROWS
#undef FOVEA_LK_DECL
#undef FOVEA_LK_DOT
#undef FOVEA_LK_STORE

inline void convert_rows_bf16(const float* x, std::int64_t rows, std::int64_t K, std::int64_t ldx, std::uint8_t* dst,
                              std::int64_t ldd, float*, std::int32_t*) {
    for (std::int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * ldx;
        std::uint8_t* d = dst + i * ldd;
        std::int64_t k = 0;
        for (; k + 16 <= K; k += 16)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 2 * k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r + k)));
        if (k < K) {
            const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
            _mm256_mask_storeu_epi16(d + 2 * k, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r + k)));
        }
        if (ldd > 2 * K) std::memset(d + 2 * K, 0, static_cast<std::size_t>(ldd - 2 * K));
    }
}

inline void quantize_rows_u8(const float* x, std::int64_t rows, std::int64_t K, std::int64_t ldx, std::uint8_t* dst,
                             std::int64_t ldd, float* scale, std::int32_t* zero) {
    for (std::int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * ldx;
        __m512 lo = _mm512_set1_ps(r[0]), hi = lo, nan = _mm512_setzero_ps();
        std::int64_t k = 0;
        for (; k + 16 <= K; k += 16) {
            const __m512 v = _mm512_loadu_ps(r + k);
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
            nan = _mm512_add_ps(nan, _mm512_mul_ps(v, _mm512_setzero_ps()));  // NaN once an Inf or NaN passes
        }
        float l = _mm512_reduce_min_ps(lo), h = _mm512_reduce_max_ps(hi);
        bool finite = _mm512_reduce_add_ps(nan) == 0.0f;
        scan_range(r + k, K - k, l, h, finite);  // the last K % 16
        const RowQuant q = row_quant(l, h, finite);
        scale[i] = q.scale;
        zero[i] = q.zero;
        std::uint8_t* d = dst + i * ldd;
        if (!finite) {
            std::memset(d, 0, static_cast<std::size_t>(ldd));
            continue;
        }
        if (ldd > K) std::memset(d + K, 0, static_cast<std::size_t>(ldd - K));
        const __m512 inv = _mm512_set1_ps(q.inv);
        const __m512i z = _mm512_set1_epi32(q.zero), top = _mm512_set1_epi32(255);
        for (k = 0; k + 16 <= K; k += 16) {
            const __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(r + k), inv)), z);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(d + k),
                             _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, _mm512_setzero_si512()), top)));
        }
        for (; k < K; ++k) d[k] = quantize_u8(r[k], q);
    }
}

}  // namespace fovea::detail::avx512_lowp
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---- AMX tiles -------------------------------------------------------------------------------
// Linux only: fovea asks Linux for the tile state (request_amx), and GCC 12's tile load/store
// intrinsics cast the stride to long, which is 32 bits on Windows (the assembler rejects it).
#if !defined(_WIN32)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vnni,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vnni,avx2,fma")
#endif
namespace fovea::detail::amx {

// Tiles 0-3: C (16 rows x 16 fp32/int32, the four quarters of 32 x 32); 4-5: A (16 rows x 16
// groups); 6-7: B (16 groups x 16 columns, rows at stride 128 inside the panel).
struct alignas(64) TileConfig {
    std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
    std::uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// LowpConfig::begin / end: the tile configuration for a thread's run of kernel calls (other code
// on the thread, oneDNN's say, may configure tiles its own way between fovea's GEMMs).
inline void configure_tiles() {
    static const TileConfig cfg;
    _tile_loadconfig(&cfg);
}
inline void release_tiles() { _tile_release(); }

// A 32 x 32 block per call (m <= 32 rows used; A and out have rows up to m's next multiple of 16), the
// tiles configured by configure_tiles.
template <bool Int8>
[[gnu::noinline]] void gemm_ukernel_amx(std::int64_t m, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                               const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant& dq) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    const bool two = m > 16;
    for (std::int64_t g = 0; g < groups; g += 16) {
        _tile_loadd(4, a + 4 * g, lda);
        _tile_loadd(6, b + g * 128, 128);
        _tile_loadd(7, b + g * 128 + 64, 128);
        if constexpr (Int8) {
            _tile_dpbusd(0, 4, 6);
            _tile_dpbusd(1, 4, 7);
        } else {
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (two) {
            _tile_loadd(5, a + 16 * lda + 4 * g, lda);
            if constexpr (Int8) {
                _tile_dpbusd(2, 5, 6);
                _tile_dpbusd(3, 5, 7);
            } else {
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
    }
    const std::int64_t ld = ldo * 4;
    _tile_stored(0, out, ld);
    _tile_stored(1, out + 16, ld);
    if (two) {
        _tile_stored(2, out + 16 * ldo, ld);
        _tile_stored(3, out + 16 * ldo + 16, ld);
    }
    if constexpr (Int8)  // the int32 sums were stored in place: the VNNI kernel's write-back dequantizes them
        for (std::int64_t i = 0; i < m; ++i) {
            float* o = out + i * ldo;
            avx512_lowp::Int8::store(o, i, _mm512_loadu_si512(o), _mm512_loadu_si512(o + 16), dq);
        }
}

}  // namespace fovea::detail::amx
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // !_WIN32
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // __x86_64__

#if defined(__aarch64__)
// ---- aarch64: SDOT (dotprod, ARMv8.2) and BFDOT (bf16, ARMv8.6) -----------------------------
// The same layout as x86: a 16-byte load of B holds 4 columns' group, a 16-byte load of A holds 4
// groups of one row, and `sdot` / `bfdot` by lane multiplies one into the other (as the f32 kernel's
// fmla by lane): per group and 16 columns, 4 B vectors (2 ldp) and MR x 4 dot products. Tiles are
// MR (<= 5) x 32, computed as two 16-column halves: 20 accumulators + 5 A + 4 B vectors fit in
// the 32 v-registers. The dot products are inline assembly with in-out accumulators
// (see dot_note on x86), in a region compiled for dotprod and bf16 (no -march flag needed):
// kernels.hpp runs them only where the hwcaps say the CPU has them.
// int8: SDOT is signed x signed, and A is unsigned (0..255): this entry's converter stores a - 128
// as int8 (quantize_rows_s8_minus128), and the write-back adds 128 colsum[j] back: the same exact
// int32 sums as every kernel.
// GCC: no scheduling before register allocation here; it hoisted loads of the unrolled loop and
// spilled an accumulator (tests/asm/check_kernel_asm.py), and kept the f32 kernel's loop 4% thinner.
#include <arm_neon.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod,bf16,i8mm"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod+bf16+i8mm")  // binutils 2.40 takes indexed SDOT from v8.2 on
#pragma GCC optimize("no-schedule-insns")
#endif
namespace fovea::detail::neon_lowp {

// quantize_rows_u8_generic's rows, stored as a - 128 (int8) for SDOT; padding stays 0.
inline void quantize_rows_s8_minus128(const float* x, std::int64_t rows, std::int64_t K, std::int64_t ldx, std::uint8_t* dst,
                                      std::int64_t ldd, float* scale, std::int32_t* zero) {
    quantize_rows_u8_generic(x, rows, K, ldx, dst, ldd, scale, zero);
    for (std::int64_t i = 0; i < rows; ++i)
        if (!std::isnan(scale[i]))
            for (std::int64_t k = 0; k < K; ++k) dst[i * ldd + k] ^= 0x80;
}

// dequant()'s write-back of 16 columns (j0 ..) of row i from 4 int32 accumulators holding the sums
// less `offset` x colsum.
inline void store_int8(float* out, std::int64_t i, std::int64_t j0, const int32x4_t* c, const Dequant& dq, std::int32_t offset) {
    const int32x4_t z = vdupq_n_s32(offset - dq.row_zero[i]);
    for (int q = 0; q < 4; ++q) {
        const std::int64_t j = j0 + 4 * q;
        const int32x4_t v = vmlaq_s32(c[q], z, vld1q_s32(dq.col_sum + j));
        vst1q_f32(out + 4 * q, vmulq_f32(vmulq_n_f32(vcvtq_f32_s32(v), dq.row_scale[i]), vld1q_f32(dq.col_scale + j)));
    }
}
// bf16's: the fp32 sums as they are.
inline void store_f32(float* out, const float32x4_t* c) {
    for (int q = 0; q < 4; ++q) vst1q_f32(out + 4 * q, c[q]);
}

// c += b . a[lane L] (OP by element: B's vector as BT, A's lane as AT); the lane is part of the text
#define FOVEA_LN_LANES(OP, BT, AT, L)                                                                  \
    if constexpr (L == 0) __asm__(OP " %0.4s, %1." BT ", %2." AT "[0]" : "+w"(c) : "w"(b), "w"(a));      \
    else if constexpr (L == 1) __asm__(OP " %0.4s, %1." BT ", %2." AT "[1]" : "+w"(c) : "w"(b), "w"(a)); \
    else if constexpr (L == 2) __asm__(OP " %0.4s, %1." BT ", %2." AT "[2]" : "+w"(c) : "w"(b), "w"(a)); \
    else __asm__(OP " %0.4s, %1." BT ", %2." AT "[3]" : "+w"(c) : "w"(b), "w"(a));

struct Int8 {
    using Acc = int32x4_t;
    static Acc zero() { return vdupq_n_s32(0); }
    template <int L>
    static Acc dot(Acc c, uint8x16_t b, uint8x16_t a) {  // c[j] += b[4j..4j+3] . a[4L..4L+3]
        FOVEA_LN_LANES("sdot", "16b", "4b", L)
        return c;
    }
    static void store(float* out, std::int64_t i, std::int64_t j0, const Acc* c, const Dequant& dq) {
        store_int8(out, i, j0, c, dq, 128);  // A held a - 128: + 128 colsum
    }
};
struct Bf16 {
    using Acc = float32x4_t;
    static Acc zero() { return vdupq_n_f32(0.0f); }
    template <int L>
    static Acc dot(Acc c, uint8x16_t b, uint8x16_t a) {  // c[j] += b pair j . a pair L
        FOVEA_LN_LANES("bfdot", "8h", "2h", L)
        return c;
    }
    static void store(float* out, std::int64_t, std::int64_t, const Acc* c, const Dequant&) { store_f32(out, c); }
};
#undef FOVEA_LN_LANES

#define FOVEA_LN_ROWS(X) X(0) X(1) X(2) X(3) X(4)
#define FOVEA_LN_DECL(r) [[maybe_unused]] typename T::Acc c##r##0, c##r##1, c##r##2, c##r##3; [[maybe_unused]] uint8x16_t x##r;
#define FOVEA_LN_ZERO(r) if constexpr (MR > r) c##r##0 = c##r##1 = c##r##2 = c##r##3 = T::zero();
#define FOVEA_LN_LOADA(r) if constexpr (MR > r) x##r = vld1q_u8(a + r * lda + 4 * g);
#define FOVEA_LN_DOT(r, L)                                      \
    if constexpr (MR > r) {                                     \
        c##r##0 = T::template dot<L>(c##r##0, b0, x##r);        \
        c##r##1 = T::template dot<L>(c##r##1, b1, x##r);        \
        c##r##2 = T::template dot<L>(c##r##2, b2, x##r);        \
        c##r##3 = T::template dot<L>(c##r##3, b3, x##r);        \
    }
#define FOVEA_LN_STEP(L)                                                                       \
    {                                                                                          \
        const std::uint8_t* p = bh + (g + L) * 128;                                            \
        const uint8x16_t b0 = vld1q_u8(p), b1 = vld1q_u8(p + 16), b2 = vld1q_u8(p + 32), b3 = vld1q_u8(p + 48); \
        FOVEA_LN_DOT(0, L) FOVEA_LN_DOT(1, L) FOVEA_LN_DOT(2, L) FOVEA_LN_DOT(3, L) FOVEA_LN_DOT(4, L) \
    }
#define FOVEA_LN_QUAD                                                 \
    {                                                                 \
        FOVEA_LN_ROWS(FOVEA_LN_LOADA)                                 \
        FOVEA_LN_STEP(0) FOVEA_LN_STEP(1) FOVEA_LN_STEP(2) FOVEA_LN_STEP(3) \
        g += 4;                                                       \
    }
#define FOVEA_LN_STORE(r)                                                    \
    if constexpr (MR > r) {                                                  \
        const typename T::Acc c[4] = {c##r##0, c##r##1, c##r##2, c##r##3};  \
        T::store(out + r * ldo + 16 * h, r, 16 * h, c, dq);                  \
    }

// groups is a multiple of 16 (kLowpGroupAlign): the loop takes 8 a trip, A reloaded halfway.
template <class T, int MR>
[[gnu::noinline]] void gemm_ukernel_lowp(std::int64_t, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                                         const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant& dq) {
    static_assert(MR >= 1 && MR <= 5, "tile height out of range");
    for (int h = 0; h < 2; ++h) {
        const std::uint8_t* bh = b + 64 * h;
        FOVEA_LN_ROWS(FOVEA_LN_DECL)
        FOVEA_LN_ROWS(FOVEA_LN_ZERO)
        for (std::int64_t g = 0; g < groups;) {
            FOVEA_LN_QUAD
            FOVEA_LN_QUAD
        }
        FOVEA_LN_ROWS(FOVEA_LN_STORE)
    }
}

#undef FOVEA_LN_ROWS
#undef FOVEA_LN_DECL
#undef FOVEA_LN_ZERO
#undef FOVEA_LN_LOADA
#undef FOVEA_LN_DOT
#undef FOVEA_LN_STEP
#undef FOVEA_LN_QUAD
#undef FOVEA_LN_STORE


// ---- USMMLA (i8mm) and BFMMLA (bf16): 2 x 2 blocks -------------------------------------------
// `usmmla c, a, b`: c (2 x 2 int32) += a (2 rows x 8 u8) . b (2 columns x 8 s8); `bfmmla`: the
// same with 2 x 4 bf16 and fp32 sums: one instruction does twice SDOT's multiply-adds. B comes in
// lowp_b_offset's column pairs (one 16-byte load = one operand); A's rows stay as converted, and
// two rows' 16-byte loads zipped by 64-bit halves give the operands of two K steps. Tiles are
// MR (<= 4) x 32, two 16-column halves of 2 row pairs x 8 column pairs = 16 accumulators. A tile of
// odd height reads one row past it (the next tile's, or lowp.hpp's zero rows) and drops its sums.
struct MmlaInt8 {
    using Acc = int32x4_t;
    static Acc zero() { return vdupq_n_s32(0); }
    static uint64x2_t bits(Acc c) { return vreinterpretq_u64_s32(c); }
    static Acc from_bits(uint64x2_t x) { return vreinterpretq_s32_u64(x); }
    static Acc mma(Acc c, uint8x16_t a, uint8x16_t b) {
        __asm__("usmmla %0.4s, %1.16b, %2.16b" : "+w"(c) : "w"(a), "w"(b));
        return c;
    }
    static void store(float* out, std::int64_t i, std::int64_t j0, const Acc* c, const Dequant& dq) { store_int8(out, i, j0, c, dq, 0); }
};
struct MmlaBf16 {
    using Acc = float32x4_t;
    static Acc zero() { return vdupq_n_f32(0.0f); }
    static uint64x2_t bits(Acc c) { return vreinterpretq_u64_f32(c); }
    static Acc from_bits(uint64x2_t x) { return vreinterpretq_f32_u64(x); }
    static Acc mma(Acc c, uint8x16_t a, uint8x16_t b) {
        __asm__("bfmmla %0.4s, %1.8h, %2.8h" : "+w"(c) : "w"(a), "w"(b));
        return c;
    }
    static void store(float* out, std::int64_t, std::int64_t, const Acc* c, const Dequant&) { store_f32(out, c); }
};

// Rows i and i + 1 (if second) of 16 columns from a row pair's 8 blocks of 2 x 2: 64-bit halves.
template <class T, class Acc>
inline void store_pair(float* out, std::int64_t ldo, std::int64_t i, std::int64_t j0, bool second, const Dequant& dq, Acc c0,
                       Acc c1, Acc c2, Acc c3, Acc c4, Acc c5, Acc c6, Acc c7) {
    const Acc c[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
    Acc r0[4], r1[4];
    for (int q = 0; q < 4; ++q) {
        const uint64x2_t x = T::bits(c[2 * q]), y = T::bits(c[2 * q + 1]);
        r0[q] = T::from_bits(vzip1q_u64(x, y));
        r1[q] = T::from_bits(vzip2q_u64(x, y));
    }
    T::store(out, i, j0, r0, dq);
    if (second) T::store(out + ldo, i + 1, j0, r1, dq);
}

#define FOVEA_LM_PAIRS(X) X(0) X(1)
#define FOVEA_LM_DECL(p) [[maybe_unused]] typename T::Acc c##p##0, c##p##1, c##p##2, c##p##3, c##p##4, c##p##5, c##p##6, c##p##7; \
    [[maybe_unused]] uint8x16_t lo##p, hi##p;
#define FOVEA_LM_ZERO(p) if constexpr (P > p) c##p##0 = c##p##1 = c##p##2 = c##p##3 = c##p##4 = c##p##5 = c##p##6 = c##p##7 = T::zero();
#define FOVEA_LM_LOADA(p)                                                                              \
    if constexpr (P > p) {                                                                             \
        const uint64x2_t r0 = vreinterpretq_u64_u8(vld1q_u8(a + (2 * p) * lda + 4 * g));               \
        const uint64x2_t r1 = vreinterpretq_u64_u8(vld1q_u8(a + (2 * p + 1) * lda + 4 * g));           \
        lo##p = vreinterpretq_u8_u64(vzip1q_u64(r0, r1));                                              \
        hi##p = vreinterpretq_u8_u64(vzip2q_u64(r0, r1));                                              \
    }
#define FOVEA_LM_COLS(i, j, x)  /* two column pairs: their operands loaded together (one ldp) */ \
    {                                                                                      \
        const uint8x16_t bi = vld1q_u8(blk + 16 * i), bj = vld1q_u8(blk + 16 * j);         \
        if constexpr (P > 0) c0##i = T::mma(c0##i, x##0, bi);                              \
        if constexpr (P > 1) c1##i = T::mma(c1##i, x##1, bi);                              \
        if constexpr (P > 0) c0##j = T::mma(c0##j, x##0, bj);                              \
        if constexpr (P > 1) c1##j = T::mma(c1##j, x##1, bj);                              \
    }
#define FOVEA_LM_STEP(S, x)                                                                \
    {                                                                                      \
        const std::uint8_t* blk = bh + g * 128 + S * 256; /* block g / 2 + S */            \
        FOVEA_LM_COLS(0, 1, x) FOVEA_LM_COLS(2, 3, x) FOVEA_LM_COLS(4, 5, x) FOVEA_LM_COLS(6, 7, x) \
    }
#define FOVEA_LM_CHUNK                                      \
    {                                                       \
        FOVEA_LM_PAIRS(FOVEA_LM_LOADA)                      \
        FOVEA_LM_STEP(0, lo) FOVEA_LM_STEP(1, hi)           \
        g += 4;                                             \
    }
#define FOVEA_LM_STORE(p)                                                                                   \
    if constexpr (P > p)                                                                                    \
        store_pair<T>(out + (2 * p) * ldo + 16 * h, ldo, 2 * p, 16 * h, 2 * p + 1 < MR, dq, c##p##0, c##p##1, \
                      c##p##2, c##p##3, c##p##4, c##p##5, c##p##6, c##p##7);

// One 16-column half. groups is a multiple of 16: the loop takes 8 a trip (4 K steps), A reloaded
// halfway.
template <class T, int MR>
[[gnu::always_inline]] inline void mmla_half(std::int64_t h, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                                             const std::uint8_t* bh, float* out, std::int64_t ldo, const Dequant& dq) {
    constexpr int P = (MR + 1) / 2;
    __asm__("" : "+r"(bh));  // a fresh pointer per half: clang 14 otherwise addressed the second from the first
    FOVEA_LM_PAIRS(FOVEA_LM_DECL)
    FOVEA_LM_PAIRS(FOVEA_LM_ZERO)
    for (std::int64_t g = 0; g < groups;) {
        FOVEA_LM_CHUNK
        FOVEA_LM_CHUNK
    }
    FOVEA_LM_PAIRS(FOVEA_LM_STORE)
}

// The two halves written out, not a loop: the write-back's stack use stays outside every loop.
template <class T, int MR>
[[gnu::noinline]] void gemm_ukernel_mmla(std::int64_t, std::int64_t groups, const std::uint8_t* a, std::int64_t lda,
                                         const std::uint8_t* b, float* out, std::int64_t ldo, const Dequant& dq) {
    static_assert(MR >= 1 && MR <= 4, "tile height out of range");
    mmla_half<T, MR>(0, groups, a, lda, b, out, ldo, dq);
    mmla_half<T, MR>(1, groups, a, lda, b + 128, out, ldo, dq);
}

#undef FOVEA_LM_PAIRS
#undef FOVEA_LM_DECL
#undef FOVEA_LM_ZERO
#undef FOVEA_LM_LOADA
#undef FOVEA_LM_COLS
#undef FOVEA_LM_STEP
#undef FOVEA_LM_CHUNK
#undef FOVEA_LM_STORE

}  // namespace fovea::detail::neon_lowp
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // __aarch64__

#pragma once
// The reduced-precision GEMM: C[M,N] = epilogue(A[M,K] * B[K,N]) with B held as bf16 or int8
// (packed once at load, see LowpMatrix) and A converted from fp32 once per call:
//   bf16: A rounded to bf16; products summed in fp32.
//   int8: B per output channel symmetric (scale = max|w| / 127), A per row asymmetric onto 0..255
//         (dynamic: each call measures its rows); exact int32 sums, dequantized in the kernel's
//         write-back; then the fp32 epilogue (bias, GELU, LayerScale, residual) as for f32.
// Layout and kernels: core/lowp_kernels.hpp; which kernels run: the kernel table's bf16 / int8
// entries (AMX, AVX512_BF16 / VNNI, portable). Linear layers use it with weights packed at load;
// attention's products (QK^T, PV) of a bf16 or int8 model use its bf16 kernels on K and V packed per
// head in the forward pass (bf16 views and packers at the end of this file; core/ops.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fovea/core/context.hpp"
#include "fovea/core/epilogue.hpp"
#include "fovea/core/gemm.hpp"
#include "fovea/core/kernels.hpp"
#include "fovea/core/tensor.hpp"

namespace fovea::detail {

// bf16 panels of B[K, N]: K in groups of 2 values, padded to kLowpGroupAlign groups.
inline std::int64_t bf16_groups(std::int64_t K) { return ((K + 1) / 2 + kLowpGroupAlign - 1) / kLowpGroupAlign * kLowpGroupAlign; }
inline std::int64_t bf16_bytes(std::int64_t K, std::int64_t N) { return (N + kLowpNr - 1) / kLowpNr * bf16_groups(K) * kLowpNr * kLowpGroupBytes; }

// Packed into dst (bf16_bytes(K, N), 64-byte aligned), padding zero: a Linear's weights at load
// (LowpMatrix::from_nk), attention's K and V per head in the forward pass (LowpMatrix::view_bf16):
//   pack_bf16_nk: B = W^T from W[N, K] at row stride ldw (a weight; the keys: B = K^T);
//   pack_bf16_kn: B from B[K, N] at row stride ldb (the values).
// A group is the bf16 pair (B[2g, j], B[2g + 1, j]) as one 32-bit word (lowp_kernels.hpp).
inline std::uint32_t bf16_pair(float lo, float hi) { return to_bf16(lo) | std::uint32_t{to_bf16(hi)} << 16; }
inline void pack_bf16_nk(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw, bool pair_columns, std::uint8_t* dst) {
    const std::int64_t G = bf16_groups(K), panel = G * kLowpNr;  // words
    auto* d = reinterpret_cast<std::uint32_t*>(dst);
    std::memset(dst, 0, static_cast<std::size_t>(bf16_bytes(K, N)));
    for (std::int64_t n = 0; n < N; ++n) {
        const float* row = w + n * ldw;
        std::uint32_t* base = d + n / kLowpNr * panel;
        const std::int64_t j = n % kLowpNr;
        for (std::int64_t g = 0; g < K / 2; ++g) base[lowp_b_offset(g, j, pair_columns) / 4] = bf16_pair(row[2 * g], row[2 * g + 1]);
        if (K % 2) base[lowp_b_offset(K / 2, j, pair_columns) / 4] = to_bf16(row[K - 1]);
    }
}
inline void pack_bf16_kn(const float* b, std::int64_t K, std::int64_t N, std::int64_t ldb, bool pair_columns, std::uint8_t* dst) {
    const std::int64_t G = bf16_groups(K), panel = G * kLowpNr;  // words
    auto* d = reinterpret_cast<std::uint32_t*>(dst);
    std::memset(dst, 0, static_cast<std::size_t>(bf16_bytes(K, N)));
    for (std::int64_t k = 0; k < K; k += 2) {
        const float* r0 = b + k * ldb;
        const float* r1 = k + 1 < K ? r0 + ldb : nullptr;
        for (std::int64_t n0 = 0; n0 < N; n0 += kLowpNr) {
            std::uint32_t* base = d + n0 / kLowpNr * panel;
            const std::int64_t nn = std::min(kLowpNr, N - n0);
            if (!pair_columns && r1) {  // one panel row: 32 contiguous words (vectorized)
                std::uint32_t* out = base + k / 2 * kLowpNr;
                for (std::int64_t j = 0; j < nn; ++j) out[j] = bf16_pair(r0[n0 + j], r1[n0 + j]);
                continue;
            }
            for (std::int64_t j = 0; j < nn; ++j)
                base[lowp_b_offset(k / 2, j, pair_columns) / 4] = r1 ? bf16_pair(r0[n0 + j], r1[n0 + j]) : to_bf16(r0[n0 + j]);
        }
    }
}

// pack_bf16_nk's bytes for attention's keys, once per head in the forward pass: each panel's rows
// rounded by cfg's converter (vector code where the entry has it) into `scratch` (kLowpNr x
// bf16_groups(K) words), then their words moved into place. Per ViT-B head (197 x 64) on Zen 5:
// 3.3 us against pack_bf16_nk's 9.7 us, whose rounding goes word by word. The converter treats
// denormal inputs as zero (VCVTNEPS2BF16) as it does for q; weights keep pack_bf16_nk.
inline void pack_bf16_nk_rows(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw, const LowpConfig& cfg,
                              std::uint32_t* scratch, std::uint8_t* dst) {
    const std::int64_t G = bf16_groups(K), panel = G * kLowpNr, used = (K + 1) / 2;
    auto* d = reinterpret_cast<std::uint32_t*>(dst);
    std::memset(dst, 0, static_cast<std::size_t>(bf16_bytes(K, N)));
    for (std::int64_t n0 = 0; n0 < N; n0 += kLowpNr) {
        const std::int64_t nn = std::min(kLowpNr, N - n0);
        cfg.convert(w + n0 * ldw, nn, K, ldw, reinterpret_cast<std::uint8_t*>(scratch), G * 4, nullptr, nullptr);
        std::uint32_t* base = d + n0 / kLowpNr * panel;
        for (std::int64_t g = 0; g < used; ++g)
            for (std::int64_t j = 0; j < nn; ++j) base[lowp_b_offset(g, j, cfg.pair_columns) / 4] = scratch[j * G + g];
    }
}

class LowpMatrix {
public:
    Precision type = Precision::bf16;
    std::int64_t K = 0, N = 0;
    std::int64_t groups = 0;  // K in groups of 4 bytes, padded to kLowpGroupAlign
    Isa isa = Isa::Generic;   // the f32 entry whose epilogue finishes the tiles
    const LowpConfig* cfg = nullptr;

    bool empty() const { return N == 0; }
    std::int64_t panels() const { return (N + kLowpNr - 1) / kLowpNr; }
    const std::uint8_t* data() const { return data_.get(); }
    const float* col_scale() const { return col_scale_.get(); }      // int8: [panels * 32], 0 beyond N
    const std::int32_t* col_sum() const { return col_sum_.get(); }   // int8: [panels * 32]
    std::int64_t bytes() const { return panels() * (groups * kLowpNr * kLowpGroupBytes + (type == Precision::int8 ? 8 * kLowpNr : 0)); }

    // From W[N,K] row-major (nn.Linear weight), for `entry`'s kernels of precision p.
    static LowpMatrix from_nk(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw, Precision p,
                              const KernelConfig& entry = kernels(), const LowpConfig* cfg = nullptr) {
        if (p == Precision::f32) fail("internal: LowpMatrix of precision f32");
        LowpMatrix m;
        m.type = p;
        m.K = K;
        m.N = N;
        m.isa = entry.isa;
        m.cfg = cfg ? cfg : &entry.lowp(p);
        const std::int64_t per_group = p == Precision::int8 ? 4 : 2;
        m.groups = ((K + per_group - 1) / per_group + kLowpGroupAlign - 1) / kLowpGroupAlign * kLowpGroupAlign;
        // int8 sums are exact in int32 while groups x 4 x 255 x 127 < 2^31
        if (p == Precision::int8 && m.groups * 4 > 60000) fail("int8: a layer of K = ", K, " inputs is beyond int32 sums (at most 60000)");
        const std::int64_t panel = m.groups * kLowpNr * kLowpGroupBytes, P = m.panels();
        m.data_ = std::shared_ptr<std::uint8_t[]>(aligned_array<std::uint8_t>(static_cast<std::size_t>(P * panel)).release(), AlignedFree{});
        std::uint8_t* d = m.data_.get();
        if (p == Precision::bf16) {
            pack_bf16_nk(w, N, K, ldw, m.cfg->pair_columns, d);
            return m;
        }
        std::memset(d, 0, static_cast<std::size_t>(P * panel));
        m.col_scale_ = std::shared_ptr<float[]>(new float[static_cast<std::size_t>(P * kLowpNr)]());
        m.col_sum_ = std::shared_ptr<std::int32_t[]>(new std::int32_t[static_cast<std::size_t>(P * kLowpNr)]());
        for (std::int64_t n = 0; n < N; ++n) {
            const float* row = w + n * ldw;
            float amax = 0.0f;
            bool finite = true;
            for (std::int64_t k = 0; k < K; ++k) {
                finite = finite && std::isfinite(row[k]);
                amax = std::max(amax, std::fabs(row[k]));
            }
            // A column holding Inf or NaN (loaded with allow_non_finite) gives NaN, as in fp32.
            const float scale = !finite ? std::numeric_limits<float>::quiet_NaN() : amax > 0.0f ? amax / 127.0f : 1.0f;
            m.col_scale_[n] = scale;
            std::int32_t sum = 0;
            auto* base = reinterpret_cast<std::int8_t*>(d + n / kLowpNr * panel);
            if (finite)
                for (std::int64_t k = 0; k < K; ++k) {
                    const float q = std::min(127.0f, std::max(-127.0f, std::nearbyint(row[k] / scale)));
                    base[lowp_b_offset(k / 4, n % kLowpNr, m.cfg->pair_columns) + k % 4] = static_cast<std::int8_t>(q);
                    sum += static_cast<std::int32_t>(q);
                }
            m.col_sum_[n] = sum;
        }
        return m;
    }

    // bf16 panels of B[K, N] packed elsewhere (pack_bf16_nk / pack_bf16_kn), for cfg's kernels;
    // not owned.
    static LowpMatrix view_bf16(const std::uint8_t* packed, std::int64_t K, std::int64_t N, const LowpConfig& cfg) {
        LowpMatrix m;
        m.type = Precision::bf16;
        m.K = K;
        m.N = N;
        m.groups = bf16_groups(K);
        m.isa = kernels().isa;
        m.cfg = &cfg;
        m.data_ = std::shared_ptr<std::uint8_t[]>(std::shared_ptr<std::uint8_t[]>(), const_cast<std::uint8_t*>(packed));
        return m;
    }

private:
    std::shared_ptr<std::uint8_t[]> data_;
    std::shared_ptr<float[]> col_scale_;
    std::shared_ptr<std::int32_t[]> col_sum_;
};

// A converted to the kernels' rows, with the entry's tile_rows rows of zero padding after the last
// (an AMX tile reads 16 rows whatever the tile's height).
struct LowpRows {
    std::uint8_t* data = nullptr;
    std::int64_t ld = 0;  // bytes
    float* scale = nullptr;
    std::int32_t* zero = nullptr;
};

// Space in the arena for M rows of A for a B of `groups` and cfg's kernels, the padding rows zeroed.
inline LowpRows lowp_rows(Arena& arena, std::int64_t M, std::int64_t groups, const LowpConfig& cfg) {
    const std::int64_t pad = cfg.tile_rows > 1 ? cfg.tile_rows : 0;
    LowpRows a;
    a.ld = groups * kLowpGroupBytes;
    a.data = arena.alloc<std::uint8_t>((M + pad) * a.ld);
    a.scale = arena.alloc<float>(M + pad);
    a.zero = arena.alloc<std::int32_t>(M + pad);
    std::memset(a.data + M * a.ld, 0, static_cast<std::size_t>(pad * a.ld));
    std::fill_n(a.scale + M, pad, 0.0f);
    std::fill_n(a.zero + M, pad, 0);
    return a;
}

// A thread's run of one entry's kernel calls, between its begin and end (AMX: the tile
// configuration). Nested runs on the thread cost nothing: an attention chunk configures the tiles
// once for all its small products instead of once per product.
class LowpRun {
public:
    explicit LowpRun(const LowpConfig* cfg) : cfg_(cfg && cfg->begin ? cfg : nullptr) {
        if (cfg_ && depth()++ == 0) cfg_->begin();
    }
    ~LowpRun() {
        if (cfg_ && --depth() == 0 && cfg_->end) cfg_->end();
    }
    LowpRun(const LowpRun&) = delete;
    LowpRun& operator=(const LowpRun&) = delete;

private:
    static int& depth() {
        thread_local int d = 0;
        return d;
    }
    const LowpConfig* cfg_;
};

// Rows [m0, m1) x panels [p0, p1) of C on the calling thread.
inline void lowp_block(const LowpMatrix& B, const LowpRows& a, std::int64_t m0, std::int64_t m1, std::int64_t p0,
                       std::int64_t p1, float* C, std::int64_t ldc, const Epilogue& ep, Arena& arena) {
    if (m0 >= m1 || p0 >= p1) return;
    const auto scope = arena.scope();
    const LowpConfig& cfg = *B.cfg;
    const LowpRun run(&cfg);
    const KernelConfig& f32 = kernel_config(B.isa);
    const std::int64_t mr = cfg.mr, panel = B.groups * kLowpNr * kLowpGroupBytes;
    float* acc = arena.alloc<float>(kLowpMaxMr * kLowpNr);
    // An epilogue that only stores: tiles the kernel writes whole go straight to C (attention's
    // products; a Linear layer always has some epilogue)
    const bool plain = ep.stores_only() && !ep.accumulate;  // the kernels do not add into C
    // Row blocks whose A stays in half of L2 while the panels pass (the f32 entry's a_block)
    const std::int64_t mc = std::max(mr, f32.a_block / a.ld / mr * mr);
    for (std::int64_t ic = m0; ic < m1; ic += mc) {
        const std::int64_t rows = std::min(mc, m1 - ic), tiles = (rows + mr - 1) / mr;
        // Tiles of even height; but where the kernel computes whole tiles of tile_rows (AMX), full
        // tiles and the rest last: 197 rows are 6 x 32 + 5 (13 AMX tiles, against 14 for 29 + 6 x 28),
        // and the full tiles of a plain product go straight to C.
        const bool whole = cfg.tile_rows > 1;
        const std::int64_t base = rows / tiles, extra = rows % tiles;
        for (std::int64_t p = p0; p < p1; ++p) {
            const std::int64_t col = p * kLowpNr, n = std::min(kLowpNr, B.N - col);
            Dequant dq;
            if (B.type == Precision::int8) dq = {nullptr, nullptr, B.col_scale() + col, B.col_sum() + col};
            for (std::int64_t t = 0, i = ic, m; t < tiles; ++t, i += m) {
                m = whole ? std::min(mr, ic + rows - i) : base + (t < extra);
                if (B.type == Precision::int8) {
                    dq.row_scale = a.scale + i;
                    dq.row_zero = a.zero + i;
                }
                if (plain && n == kLowpNr && m % cfg.tile_rows == 0) {
                    cfg.ukernel[m](m, B.groups, a.data + i * a.ld, a.ld, B.data() + p * panel, C + i * ldc + col, ldc, dq);
                    continue;
                }
                cfg.ukernel[m](m, B.groups, a.data + i * a.ld, a.ld, B.data() + p * panel, acc, kLowpNr, dq);
                f32.epilogue(acc, kLowpNr, m, n, C + i * ldc + col, ldc, i, col, ep);
            }
        }
    }
}

// C[M,N] = epilogue(A[M,K] * B), split over ctx.threads as the f32 gemm is (parallel_gemm): each
// output element by one thread in one order, so the thread count never changes a bit of C.
inline void gemm(const Context& ctx, std::int64_t M, const float* A, std::int64_t lda, const LowpMatrix& B, float* C,
                 std::int64_t ldc, const Epilogue& ep = {}) {
    if (M <= 0 || B.N <= 0) return;
    const LowpConfig& cfg = *B.cfg;
    const std::int64_t K = B.K, flops = 2 * M * B.N * K;
    if (ctx.counters) ctx.counters->gemm_flops.fetch_add(flops, std::memory_order_relaxed);
    const auto scope = ctx.arena->scope();
    const LowpRows a = lowp_rows(*ctx.arena, M, B.groups, cfg);
    const std::int64_t convert_parts = std::min<std::int64_t>(ctx.threads, std::max<std::int64_t>(1, M * K / 65536));
    parallel_for(ctx, M, 1, convert_parts, [&](std::int64_t b, std::int64_t e, Context&) {
        cfg.convert(A + b * lda, e - b, K, lda, a.data + b * a.ld, a.ld, a.scale + b, a.zero + b);
    });
    parallel_gemm(ctx, M, cfg.mr, B.panels(), flops,
                  [&](std::int64_t m0, std::int64_t m1, std::int64_t p0, std::int64_t p1, Context& sub) {
                      lowp_block(B, a, m0, m1, p0, p1, C, ldc, ep, *sub.arena);
                  });
}

}  // namespace fovea::detail

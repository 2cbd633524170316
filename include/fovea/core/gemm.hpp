#pragma once
// The GEMM seam. Every Linear, the patch embedding and both attention products compute
//   C[M,N] = epilogue(alpha * A[M,K] * B[K,N])
// with B packed once (weights at load, K and V per head) into column panels of the kernel's width
// nr: panel p holds B[k, p*nr + j] at p*K*nr + k*nr + j, zero beyond N. The loops around the
// micro-kernel (kernels().ukernel, see gemm_ukernel.inl) follow BLIS: K in blocks of kc and rows in
// blocks of mc, so that an A block (mc x kc) stays in L2 while every B micro-panel (kc x nr) meets
// each of its row tiles (see set_blocking); partial sums of a blocked K wait in the arena; each
// tile's epilogue runs as its last K block ends, while the tile is in L1. Every table entry, the
// portable one included, runs this driver, so an element's sum never depends on how C is cut.
// A is read in place: packed per tile as BLIS packs it ([k][mr]), K blocks of 256 or 384, 14-row
// tiles, padded rows, or prefetching two panels ahead all ran no faster on Zen 5 or on the Xeon.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fovea/core/context.hpp"
#include "fovea/core/epilogue.hpp"
#include "fovea/core/kernels.hpp"
#include "fovea/core/tensor.hpp"

namespace fovea::detail {

// B[K,N] in panels of one kernel table entry's width.
class PackedMatrix {
public:
    std::int64_t K = 0, N = 0;
    int nr = 1;
    Isa isa = Isa::Generic;

    bool empty() const { return N == 0; }
    const float* data() const { return data_; }
    std::int64_t panels() const { return (N + nr - 1) / nr; }
    // W[n, k] read back out of the panels (pictures of the weights; not for hot loops).
    float at(std::int64_t n, std::int64_t k) const {
        return data_[(n / nr) * K * nr + k * nr + n % nr];
    }

    // From W[N,K] row-major (nn.Linear weight): B = W^T, for the kernels this CPU runs (or `isa`).
    static PackedMatrix from_nk(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw,
                                Isa isa = kernels().isa) {
        PackedMatrix p = shape(N, K, isa);
        pack_nk(w, N, K, ldw, p.nr, p.own_.get());
        return p;
    }

    // Packs into caller-owned storage (per-head K and V inside a forward pass); see packed_size.
    static void pack_nk(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw, int nr, float* dst) {
        for (std::int64_t p = 0; p * nr < N; ++p) {
            float* d = dst + p * K * nr;
            const std::int64_t n0 = p * nr, nn = std::min<std::int64_t>(nr, N - n0);
            for (std::int64_t k = 0; k < K; ++k) {
                for (std::int64_t j = 0; j < nn; ++j) d[k * nr + j] = w[(n0 + j) * ldw + k];
                for (std::int64_t j = nn; j < nr; ++j) d[k * nr + j] = 0.0f;
            }
        }
    }

    // From B[K,N] row-major (the value matrix of attention).
    static void pack_kn(const float* b, std::int64_t K, std::int64_t N, std::int64_t ldb, int nr, float* dst) {
        for (std::int64_t p = 0; p * nr < N; ++p) {
            float* d = dst + p * K * nr;
            const std::int64_t n0 = p * nr, nn = std::min<std::int64_t>(nr, N - n0);
            for (std::int64_t k = 0; k < K; ++k) {
                std::memcpy(d + k * nr, b + k * ldb + n0, sizeof(float) * static_cast<std::size_t>(nn));
                for (std::int64_t j = nn; j < nr; ++j) d[k * nr + j] = 0.0f;
            }
        }
    }

    static std::int64_t packed_size(std::int64_t K, std::int64_t N, int nr) { return (N + nr - 1) / nr * nr * K; }

    // A view of storage packed by pack_nk / pack_kn.
    static PackedMatrix view(const float* packed, std::int64_t K, std::int64_t N, Isa isa) {
        PackedMatrix p;
        p.K = K;
        p.N = N;
        p.isa = isa;
        p.nr = kernel_config(isa).nr;
        p.data_ = packed;
        return p;
    }

private:
    static PackedMatrix shape(std::int64_t N, std::int64_t K, Isa isa) {
        PackedMatrix p;
        p.K = K;
        p.N = N;
        p.isa = isa;
        p.nr = kernel_config(isa).nr;
        p.own_ = std::shared_ptr<float[]>(aligned_array<float>(static_cast<std::size_t>(packed_size(K, N, p.nr))).release(),
                                          AlignedFree{});
        p.data_ = p.own_.get();
        return p;
    }

    std::shared_ptr<float[]> own_;
    const float* data_ = nullptr;
};

// K in equal blocks near the table's kc: whole below 2 kc, else as many blocks as K / kc rounds
// to, so K = 768 stays whole under kc = 672 rather than splitting 672 + 96 (a block pays the partial
// sums' trip through memory). ViT-L's K = 1024 ran 8% slower as 672 + 352 and 4% slower as
// 512 + 512 than whole (Zen 5, 1 MB L2); K = 3072 runs the same as 4 or 5 blocks.
inline std::int64_t balanced_k_block(std::int64_t K, std::int64_t kc) {
    const std::int64_t blocks = K < 2 * kc ? 1 : (K + kc / 2) / kc;
    return ((K + blocks - 1) / blocks + 7) & ~std::int64_t{7};
}

// Rows [m0, m1) x panels [p0, p1) of C on the calling thread (see the header comment).
inline void gemm_block(const KernelConfig& cfg, std::int64_t m0, std::int64_t m1, std::int64_t p0, std::int64_t p1,
                       const float* A, std::int64_t lda, const PackedMatrix& B, float* C, std::int64_t ldc,
                       const Epilogue& ep, Arena& arena) {
    if (m0 >= m1 || p0 >= p1) return;
    const auto scope = arena.scope();
    const std::int64_t K = B.K, nr = B.nr;
    const std::int64_t kc = balanced_k_block(K, cfg.kc), mr = cfg.mr;
    const std::int64_t mc = std::max(mr, cfg.a_block / (std::min(K, kc) * 4) / mr * mr);  // rows whose A block fits
    const bool blocked = K > kc;  // partial sums of a whole row block wait in the arena between K blocks
    const std::int64_t ldacc = blocked ? (p1 - p0) * nr : nr;
    float* accbuf = arena.alloc<float>(blocked ? std::min(mc, m1 - m0) * ldacc : mr * nr);
    const bool b_in_l1 = !blocked && (p1 - p0) * K * nr * 4 <= cpu_info().l1d / 2;
    // An epilogue that only stores (or adds into C): full-width tiles are summed in C itself, with
    // no trip through the scratch tile (attention's products: about a quarter of DINOv2's passes)
    const bool plain = ep.stores_only();
    // One m-row tile at (i, col) over K block [pc, pc + kk): its partial sums in acc (later K
    // blocks add to them), the epilogue after the last block; pf: lines to prefetch meanwhile.
    const auto tile = [&](std::int64_t m, std::int64_t i, std::int64_t col, std::int64_t n, std::int64_t pc, std::int64_t kk,
                          const float* b, float* acc, bool first, bool last, const char* pf, std::int64_t pf_lines) {
        if (plain && n == nr)
            return cfg.ukernel[m](kk, A + i * lda + pc, lda, b, C + i * ldc + col, ldc, !first || ep.accumulate, pf, pf_lines);
        cfg.ukernel[m](kk, A + i * lda + pc, lda, b, acc, ldacc, !first, pf, pf_lines);
        if (last) cfg.epilogue(acc, ldacc, m, n, C + i * ldc + col, ldc, i, col, ep);
    };
    for (std::int64_t ic = m0; ic < m1; ic += mc) {
        // Tiles of near-equal height: 49 rows as 10,10,10,10,9 rather than 12,12,12,12,1.
        const std::int64_t rows = std::min(mc, m1 - ic), tiles = (rows + mr - 1) / mr;
        const std::int64_t base = rows / tiles, extra = rows % tiles;
        if (b_in_l1) {  // all of B fits in L1: keep each A tile there too while it meets every panel
            for (std::int64_t t = 0, i = ic, m; t < tiles; ++t, i += m) {
                m = base + (t < extra);
                for (std::int64_t p = p0; p < p1; ++p) {
                    const std::int64_t col = p * nr;
                    tile(m, i, col, std::min(nr, B.N - col), 0, K, B.data() + p * K * nr, accbuf, true, true, nullptr, 0);
                }
            }
            continue;
        }
        for (std::int64_t pc = 0; pc < K; pc += kc) {
            const std::int64_t kk = std::min(kc, K - pc);
            const bool first = pc == 0, last = pc + kk == K;
            for (std::int64_t p = p0; p < p1; ++p) {
                const float* b = B.data() + p * K * nr + pc * nr;
                const std::int64_t col = p * nr, n = std::min(nr, B.N - col);
                // The next micro-panel, fetched into L2 a slice per tile while this one is in use
                // (by the micro-kernel, spread over its loop): weights come from memory, and the
                // first tile to meet a panel would otherwise wait for it.
                const bool more = p + 1 < p1;
                const char* next = reinterpret_cast<const char*>(more ? b + K * nr : B.data() + p0 * K * nr + (pc + kc) * nr);
                const std::int64_t next_lines = more ? kk * nr / 16 : pc + kc < K ? std::min(kc, K - pc - kc) * nr / 16 : 0;
                const std::int64_t per_tile = (next_lines + tiles - 1) / tiles;
                for (std::int64_t t = 0, i = ic, m; t < tiles; ++t, i += m) {
                    m = base + (t < extra);
                    const std::int64_t l = std::min(next_lines, t * per_tile);
                    tile(m, i, col, n, pc, kk, b, blocked ? accbuf + (i - ic) * ldacc + (p - p0) * nr : accbuf, first, last,
                         next + 64 * l, std::min(next_lines - l, per_tile));
                }
            }
        }
    }
}

// A GEMM's output, M rows in tiles of mr x `panels` column panels, cut over ctx.threads (one
// part per 2 MFLOP at least) as grid_split's grid of row groups x panel groups; runs
// block(m0, m1, p0, p1, sub) for each cell, on whichever thread claims it. Cells are whole tiles
// and whole panels, so each output element is computed by one thread, in the same order whatever
// the split: the thread count never changes a bit of C. Shared by the f32 and bf16 / int8 gemm.
template <class Block>
void parallel_gemm(const Context& ctx, std::int64_t M, std::int64_t mr, std::int64_t panels, std::int64_t flops, Block&& block) {
    const std::int64_t parts = std::min<std::int64_t>(ctx.threads, std::max<std::int64_t>(1, flops / 2'000'000));
    const std::int64_t tiles = (M + mr - 1) / mr;
    const GridSplit g = grid_split(tiles, panels, parts);
    parallel_for(ctx, g.rows * g.cols, 1, g.rows * g.cols, [&](std::int64_t b, std::int64_t e, Context& sub) {
        for (std::int64_t cell = b; cell < e; ++cell) {
            const std::int64_t i = cell / g.cols, j = cell % g.cols;
            block(tiles * i / g.rows * mr, std::min(M, tiles * (i + 1) / g.rows * mr), panels * j / g.cols,
                  panels * (j + 1) / g.cols, sub);
        }
    });
}

// C[M,N] = epilogue(alpha * A[M,K] * B) over ctx.threads (parallel_gemm).
inline void gemm(const Context& ctx, std::int64_t M, const float* A, std::int64_t lda, const PackedMatrix& B, float* C,
                 std::int64_t ldc, const Epilogue& ep = {}) {
    if (M <= 0 || B.N <= 0) return;
    if (B.K <= 0) fail("internal: a GEMM with K = ", B.K, " (layers of width 0 are refused at load)");
    const KernelConfig& cfg = kernel_config(B.isa);
    const std::int64_t flops = 2 * M * B.N * B.K;
    if (ctx.counters) ctx.counters->gemm_flops.fetch_add(flops, std::memory_order_relaxed);
    parallel_gemm(ctx, M, cfg.mr, B.panels(), flops,
                  [&](std::int64_t m0, std::int64_t m1, std::int64_t p0, std::int64_t p1, Context& sub) {
                      gemm_block(cfg, m0, m1, p0, p1, A, lda, B, C, ldc, ep, *sub.arena);
                  });
}

}  // namespace fovea::detail

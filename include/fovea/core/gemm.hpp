#pragma once
// The GEMM seam. Every Linear, the patch embedding and both attention products compute
//   C[M,N] = epilogue(alpha * A[M,K] * B[K,N])
// with B packed once (weights at load, K and V per head) into column panels of the kernel's width:
// panel p holds B[k, p*NR + j] at p*K*NR + k*NR + j, zero beyond N. The micro-kernel keeps an
// MR x NR tile of C in registers over the whole K loop and applies the epilogue as it stores it.
// AVX-512 (MR 12, NR 32) and AVX2 (MR 6, NR 16) kernels are picked at run time; Eigen's product is
// the portable fallback and the reference the kernels are tested against.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

#include <Eigen/Core>

#include "fovea/core/simd.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/core/threads.hpp"

namespace fovea::detail {

// What happens to a tile of alpha*A*B on its way out, in this order.
struct Epilogue {
    float alpha = 1.0f;
    const float* bias = nullptr;   // [N], added to every row
    const float* add = nullptr;    // [M, N] at leading dimension add_ld, added elementwise
    std::int64_t add_ld = 0;
    bool gelu = false;             // exact GELU
    const float* scale = nullptr;  // [N], multiplied in (LayerScale)
    bool accumulate = false;       // C += result (a residual connection) instead of C = result
};

inline int panel_width(Isa isa) { return isa == Isa::Avx512 ? 32 : isa == Isa::Avx2 ? 16 : 1; }

// B[K,N] in panels for the kernel this CPU runs (the generic path keeps [N,K] row-major: the
// PyTorch Linear layout, which Eigen reads as B^T).
class PackedMatrix {
public:
    std::int64_t K = 0, N = 0;
    int nr = 1;
    Isa isa = Isa::Generic;

    bool empty() const { return N == 0; }
    const float* data() const { return data_; }

    // From W[N,K] row-major (nn.Linear weight): B = W^T. isa: the kernel it is packed for.
    static PackedMatrix from_nk(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw, Isa isa = cpu_isa()) {
        PackedMatrix p = shape(N, K, isa);
        pack_nk(w, N, K, ldw, p.isa, p.nr, p.own_.get());
        return p;
    }

    // Packs into caller-owned storage (per-head K and V inside a forward pass); see packed_size.
    static void pack_nk(const float* w, std::int64_t N, std::int64_t K, std::int64_t ldw, Isa isa, int nr, float* dst) {
        if (isa == Isa::Generic) {
            for (std::int64_t n = 0; n < N; ++n) std::memcpy(dst + n * K, w + n * ldw, sizeof(float) * K);
            return;
        }
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
    static void pack_kn(const float* b, std::int64_t K, std::int64_t N, std::int64_t ldb, Isa isa, int nr, float* dst) {
        if (isa == Isa::Generic) {
            for (std::int64_t n = 0; n < N; ++n)
                for (std::int64_t k = 0; k < K; ++k) dst[n * K + k] = b[k * ldb + n];
            return;
        }
        for (std::int64_t p = 0; p * nr < N; ++p) {
            float* d = dst + p * K * nr;
            const std::int64_t n0 = p * nr, nn = std::min<std::int64_t>(nr, N - n0);
            for (std::int64_t k = 0; k < K; ++k) {
                std::memcpy(d + k * nr, b + k * ldb + n0, sizeof(float) * nn);
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
        p.nr = panel_width(isa);
        p.data_ = packed;
        return p;
    }

private:
    static PackedMatrix shape(std::int64_t N, std::int64_t K, Isa isa) {
        PackedMatrix p;
        p.K = K;
        p.N = N;
        p.isa = isa;
        p.nr = panel_width(p.isa);
        p.own_ = std::shared_ptr<float[]>(aligned_array<float>(static_cast<std::size_t>(packed_size(K, N, p.nr))).release(),
                                          AlignedFree{});
        p.data_ = p.own_.get();
        return p;
    }

    std::shared_ptr<float[]> own_;
    const float* data_ = nullptr;
};

// A buffer of at least n floats owned by the calling thread (pool workers included), 64-byte
// aligned, grown on demand and kept: per-call scratch of the kernels. Tag keeps users apart.
template <int Tag>
float* thread_scratch(std::int64_t n) {
    thread_local std::unique_ptr<float[], AlignedFree> buf;
    thread_local std::int64_t capacity = 0;
    if (capacity < n) {
        buf = aligned_array<float>(static_cast<std::size_t>(n));
        capacity = n;
    }
    return buf.get();
}

#if FOVEA_X86
// C[MR<=12, n<=32] tile. A: the tile's rows packed [K][MR], or rows at stride lda; B: one packed
// panel; C at (row0, col0).
template <int MR, bool PACKED>
FOVEA_AVX512 inline void tile_avx512(std::int64_t K, const float* A, std::int64_t lda, const float* B, float* C,
                                     std::int64_t ldc, std::int64_t n, std::int64_t row0, std::int64_t col0,
                                     const Epilogue& ep) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    for (std::int64_t k = 0; k < K; ++k) {
        // The panel streams from L2 (or memory on the first row tile): ask for it 8 rows ahead.
        _mm_prefetch(reinterpret_cast<const char*>(B + (k + 8) * 32), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(B + (k + 8) * 32 + 16), _MM_HINT_T0);
        const __m512 b0 = _mm512_load_ps(B + k * 32), b1 = _mm512_load_ps(B + k * 32 + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR; ++r) {
            const __m512 a = _mm512_set1_ps(PACKED ? A[k * MR + r] : A[r * lda + k]);
            c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
        }
    }
    const __mmask16 m0 = n >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : static_cast<__mmask16>((1u << (n - 16)) - 1);
    const __mmask16 mask[2] = {m0, m1};
    __m512 bias[2], scale[2];
    for (int h = 0; h < 2; ++h) {
        if (ep.bias) bias[h] = _mm512_maskz_loadu_ps(mask[h], ep.bias + col0 + 16 * h);
        if (ep.scale) scale[h] = _mm512_maskz_loadu_ps(mask[h], ep.scale + col0 + 16 * h);
    }
    const __m512 alpha = _mm512_set1_ps(ep.alpha);
    for (int r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        for (int h = 0; h < 2; ++h) {
            if (!mask[h]) continue;
            __m512 v = h ? c1[r] : c0[r];
            if (ep.alpha != 1.0f) v = _mm512_mul_ps(v, alpha);
            if (ep.bias) v = _mm512_add_ps(v, bias[h]);
            if (ep.add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[h], ep.add + (row0 + r) * ep.add_ld + col0 + 16 * h));
            if (ep.gelu) v = gelu512(v);
            if (ep.scale) v = _mm512_mul_ps(v, scale[h]);
            if (ep.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[h], c + 16 * h));
            _mm512_mask_storeu_ps(c + 16 * h, mask[h], v);
        }
    }
}

template <int MR, bool PACKED>
FOVEA_AVX2 inline void tile_avx2(std::int64_t K, const float* A, std::int64_t lda, const float* B, float* C,
                                 std::int64_t ldc, std::int64_t n, std::int64_t row0, std::int64_t col0,
                                 const Epilogue& ep) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
    for (std::int64_t k = 0; k < K; ++k) {
        const __m256 b0 = _mm256_load_ps(B + k * 16), b1 = _mm256_load_ps(B + k * 16 + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            const __m256 a = _mm256_broadcast_ss(PACKED ? A + k * MR + r : A + r * lda + k);
            c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
        }
    }
    // lanes j < n - 8h of each half, as masked loads and stores (as the AVX-512 epilogue does)
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<std::int64_t>(n, 8))), lane),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::max<std::int64_t>(n - 8, 0))), lane)};
    for (int r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        for (int h = 0; h < 2; ++h) {
            if (8 * h >= n) break;
            const __m256i k = mask[h];
            const std::int64_t j = col0 + 8 * h;
            __m256 v = _mm256_mul_ps(h ? c1[r] : c0[r], _mm256_set1_ps(ep.alpha));
            if (ep.bias) v = _mm256_add_ps(v, _mm256_maskload_ps(ep.bias + j, k));
            if (ep.add) v = _mm256_add_ps(v, _mm256_maskload_ps(ep.add + (row0 + r) * ep.add_ld + j, k));
            if (ep.gelu) v = gelu256(v);
            if (ep.scale) v = _mm256_mul_ps(v, _mm256_maskload_ps(ep.scale + j, k));
            if (ep.accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(c + 8 * h, k));
            _mm256_maskstore_ps(c + 8 * h, k, v);
        }
    }
}

template <int MR, class Tile>
inline void tiles_mr(std::int64_t m, Tile&& tile) {
    if constexpr (MR > 0) {
        if (m == MR) return tile(std::integral_constant<int, MR>{});
        tiles_mr<MR - 1>(m, tile);
    }
}

// Rows [m0, m1) x panels [p0, p1). The rows are cut into tiles of near-equal height (49 rows:
// 10,10,10,10,9 rather than 12,12,12,12,1), the tiles into chunks whose rows of A fit in about
// 1 MiB, the panels into groups of about 256 KiB: a chunk and a group stay in L2 while every
// tile of the chunk meets every panel of the group. Where enough panels share a tile, it is
// packed [K][m] first so the kernel's broadcasts read one sequential stream; with few panels
// the copy would cost more than it saves.
inline void gemm_block_x86(Isa isa, std::int64_t m0, std::int64_t m1, std::int64_t p0, std::int64_t p1,
                           const float* A, std::int64_t lda, const PackedMatrix& B, float* C, std::int64_t ldc,
                           const Epilogue& ep) {
    const std::int64_t K = B.K, nr = B.nr, mr = isa == Isa::Avx512 ? 12 : 6;
    const std::int64_t rows = m1 - m0, tiles = (rows + mr - 1) / mr;
    auto tile_row = [&](std::int64_t t) { return m0 + rows * t / tiles; };
    const std::int64_t chunk = std::max<std::int64_t>(1, (1 << 20) / (K * 4 * mr));
    const std::int64_t group = std::max<std::int64_t>(1, (256 * 1024) / (K * nr * 4));
    const bool pack = p1 - p0 >= 8;
    float* const packed = pack ? thread_scratch<0>(std::min(rows, (chunk + 1) * mr) * K) : nullptr;
    for (std::int64_t c0 = 0; c0 < tiles; c0 += chunk) {
        const std::int64_t c1 = std::min(tiles, c0 + chunk), base = tile_row(c0);
        for (std::int64_t t = c0; pack && t < c1; ++t) {
            const std::int64_t i = tile_row(t), m = tile_row(t + 1) - i;
            float* dst = packed + (i - base) * K;
            for (std::int64_t k = 0; k < K; ++k)
                for (std::int64_t r = 0; r < m; ++r) dst[k * m + r] = A[(i + r) * lda + k];
        }
        for (std::int64_t g = p0; g < p1; g += group) {
            const std::int64_t ge = std::min(p1, g + group);
            for (std::int64_t t = c0; t < c1; ++t) {
                const std::int64_t i = tile_row(t), m = tile_row(t + 1) - i;
                const float* a = pack ? packed + (i - base) * K : A + i * lda;
                for (std::int64_t p = g; p < ge; ++p) {
                    const std::int64_t col = p * nr, n = std::min(nr, B.N - col);
                    const float* b = B.data() + p * K * nr;
                    float* c = C + i * ldc + col;
                    if (isa == Isa::Avx512) {
                        if (pack) tiles_mr<12>(m, [&](auto MR) { tile_avx512<MR, true>(K, a, lda, b, c, ldc, n, i, col, ep); });
                        else tiles_mr<12>(m, [&](auto MR) { tile_avx512<MR, false>(K, a, lda, b, c, ldc, n, i, col, ep); });
                    } else {
                        if (pack) tiles_mr<6>(m, [&](auto MR) { tile_avx2<MR, true>(K, a, lda, b, c, ldc, n, i, col, ep); });
                        else tiles_mr<6>(m, [&](auto MR) { tile_avx2<MR, false>(K, a, lda, b, c, ldc, n, i, col, ep); });
                    }
                }
            }
        }
    }
}
#endif

// The epilogue on a plain [M,N] result in C (generic path). acc is alpha*A*B, already in C unless accumulating.
inline void epilogue_generic(const Epilogue& ep, std::int64_t m0, std::int64_t M, std::int64_t N, const float* acc,
                             std::int64_t ld_acc, float* C, std::int64_t ldc) {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t j = 0; j < N; ++j) {
            float v = acc[i * ld_acc + j] * ep.alpha;
            if (ep.bias) v += ep.bias[j];
            if (ep.add) v += ep.add[(m0 + i) * ep.add_ld + j];
            if (ep.gelu) v = 0.5f * v * (1.0f + std::erf(v * kInvSqrt2));
            if (ep.scale) v *= ep.scale[j];
            C[i * ldc + j] = ep.accumulate ? C[i * ldc + j] + v : v;
        }
}

// Rows [m0, m1) of C = epilogue(alpha * A * B) on the calling thread.
inline void gemm_rows(std::int64_t m0, std::int64_t m1, std::int64_t p0, std::int64_t p1, const float* A,
                      std::int64_t lda, const PackedMatrix& B, float* C, std::int64_t ldc, const Epilogue& ep) {
    if (m0 >= m1 || p0 >= p1) return;
#if FOVEA_X86
    if (B.isa != Isa::Generic) return gemm_block_x86(B.isa, m0, m1, p0, p1, A, lda, B, C, ldc, ep);
#endif
    // Generic: B holds W[N,K]; columns [p0, p1) (nr is 1).
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Map = Eigen::Map<const RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;
    const std::int64_t M = m1 - m0, N = p1 - p0, K = B.K;
    Map a(A + m0 * lda, M, K, Eigen::OuterStride<>(lda));
    Map w(B.data() + p0 * K, N, K, Eigen::OuterStride<>(K));
    const RowMat acc = a * w.transpose();
    Epilogue e = ep;
    if (e.bias) e.bias += p0;
    if (e.scale) e.scale += p0;
    if (e.add) e.add += p0;
    epilogue_generic(e, m0, M, N, acc.data(), N, C + m0 * ldc + p0, ldc);
}

// Multiply-add FLOPs through the seam since start-up (2 per multiply-add, padding excluded): the
// benchmarks read it to report achieved GFLOP/s.
inline std::atomic<std::int64_t>& gemm_flops() {
    static std::atomic<std::int64_t> n{0};
    return n;
}

// C[M,N] = epilogue(alpha * A[M,K] * B), split over the pool: by columns when there are enough
// panels to share, else by rows. Each output element is computed by one thread in one order.
inline void gemm(std::int64_t M, const float* A, std::int64_t lda, const PackedMatrix& B, float* C, std::int64_t ldc,
                 const Epilogue& ep = {}, bool parallel = true) {
    const std::int64_t panels = (B.N + B.nr - 1) / B.nr;
    const std::int64_t threads = parallel ? ThreadPool::instance().size() : 1;
    const std::int64_t flops = 2 * M * B.N * B.K;
    gemm_flops().fetch_add(flops, std::memory_order_relaxed);
    const std::int64_t parts = std::min<std::int64_t>(threads, std::max<std::int64_t>(1, flops / 2'000'000));
    if (parts <= 1) return gemm_rows(0, M, 0, panels, A, lda, B, C, ldc, ep);
    const std::int64_t mr = B.isa == Isa::Avx512 ? 12 : 6;
    // Cut whole panels or whole row tiles, whichever leaves the busiest thread less extra. Columns
    // win ties: each thread then streams only its own part of the weights.
    if (split_imbalance(panels, parts) <= split_imbalance((M + mr - 1) / mr, parts))
        parallel_ranges(panels, 1, parts, [&](std::int64_t b, std::int64_t e, std::int64_t) {
            gemm_rows(0, M, b, e, A, lda, B, C, ldc, ep);
        });
    else
        parallel_ranges(M, mr, parts, [&](std::int64_t b, std::int64_t e, std::int64_t) {
            gemm_rows(b, e, 0, panels, A, lda, B, C, ldc, ep);
        });
}

}  // namespace fovea::detail

// The f32 GEMM micro-kernel, written once over the wrapper V and included by core/simd.hpp per
// instruction set (AVX-512: up to 14 x 32, AVX2: up to 6 x 16). Never include it anywhere else.
//
//   acc[MR, 2W] (+)= A[MR, kc] * B[kc, 2W]
//
// A: MR rows at stride lda, read in place (broadcast one float at a time). B: one micro-panel of
// the packed weights, kc rows of 2W floats, contiguous. acc: raw sums at stride ldacc; `load` adds
// to what is there (a later K block). pf: pf_lines cache lines to fetch into L2 along the way, one
// every four steps (the driver's next micro-panel: issued in one burst they would stall the core). The epilogue runs separately (epilogue_tile), so this
// function holds nothing but the FMA loop: its accumulators are named variables, never an array,
// so no compiler has a reason to keep them in memory (tests/check_kernel_asm.py checks the
// assembly of every build for stack traffic).

#define FOVEA_UK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)
#define FOVEA_UK_DECL(r) [[maybe_unused]] R c##r##a, c##r##b;
#define FOVEA_UK_INIT(r)                                                  \
    if constexpr (MR > r) {                                               \
        if (load) {                                                       \
            c##r##a = V::loadu(acc + r * ldacc);                          \
            c##r##b = V::loadu(acc + r * ldacc + V::W);                   \
        } else {                                                          \
            c##r##a = c##r##b = V::zero();                                \
        }                                                                 \
    }
#define FOVEA_UK_FMA(r)                                                   \
    if constexpr (MR > r) {                                               \
        const R x = V::broadcast(a + r * lda + k);                        \
        c##r##a = V::fmadd(x, b0, c##r##a);                               \
        c##r##b = V::fmadd(x, b1, c##r##b);                               \
    }
#define FOVEA_UK_STORE(r)                                                 \
    if constexpr (MR > r) {                                               \
        V::storeu(acc + r * ldacc, c##r##a);                              \
        V::storeu(acc + r * ldacc + V::W, c##r##b);                       \
    }

template <int MR>
[[gnu::noinline]] void gemm_ukernel_f32(std::int64_t kc, const float* a, std::int64_t lda, const float* b, float* acc,
                                        std::int64_t ldacc, bool load, const char* pf, std::int64_t pf_lines) {
    static_assert(MR >= 1 && MR <= 14, "tile height out of range");
    FOVEA_UK_ROWS(FOVEA_UK_DECL)
    FOVEA_UK_ROWS(FOVEA_UK_INIT)
    // One step per iteration: unrolled bodies tempt GCC to load ahead and spill an accumulator.
    for (std::int64_t k = 0; k < kc; ++k) {
        if ((k & 3) == 0 && pf_lines > 0) {
            V::prefetch_l2(pf);
            pf += 64;
            --pf_lines;
        }
        const R b0 = V::load(b + k * 2 * V::W), b1 = V::load(b + k * 2 * V::W + V::W);
        FOVEA_UK_ROWS(FOVEA_UK_FMA)
    }
    FOVEA_UK_ROWS(FOVEA_UK_STORE)
}

#undef FOVEA_UK_ROWS
#undef FOVEA_UK_DECL
#undef FOVEA_UK_INIT
#undef FOVEA_UK_FMA
#undef FOVEA_UK_STORE

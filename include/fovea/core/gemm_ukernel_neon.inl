// The aarch64 f32 GEMM micro-kernel, included by core/simd.hpp inside fovea::detail::neon. Never
// include it anywhere else.
//
//   acc[MR, 8] (+)= A[MR, kc] * B[kc, 8]      (MR <= 8; B: one packed micro-panel of 2 vectors)
//
// The x86 kernel (gemm_ukernel.inl) broadcasts one float of A per multiply-add row; at 4 lanes that
// is a load for every two FMAs. Here each row of A is read 4 k at a time (one 16-byte load) and
// `fmla v.4s, b.4s, a.s[lane]` takes its lanes in turn: per 4 k, 8 loads of A, 8 vectors of B
// (4 ldp) and 64 fmla, with 16 accumulators + 8 A + 2 B = 26 of the 32 v-registers live; the loop
// runs 8 k a trip so that its count and branch are paid per 128 fmla. The
// accumulators are named variables, as on x86 (tests/asm/check_kernel_asm.py checks the loop
// never touches the stack). Same arithmetic per element as the x86 kernels: one fused
// multiply-add per k, in k order. GCC compiles it without scheduling before register allocation
// (simd.hpp): scheduled, its loop gained 8 register moves (77% fmla instead of 81%).

#define FOVEA_NK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define FOVEA_NK_DECL(r) [[maybe_unused]] float32x4_t c##r##a, c##r##b, x##r;
#define FOVEA_NK_INIT(r)                                                  \
    if constexpr (MR > r) {                                               \
        if (load) {                                                       \
            c##r##a = vld1q_f32(acc + r * ldacc);                         \
            c##r##b = vld1q_f32(acc + r * ldacc + 4);                     \
        } else {                                                          \
            c##r##a = c##r##b = vdupq_n_f32(0.0f);                        \
        }                                                                 \
    }
#define FOVEA_NK_LOADA(r)                                                 \
    if constexpr (MR > r) x##r = vld1q_f32(a + r * lda + k);
#define FOVEA_NK_LANE(r, L)                                               \
    if constexpr (MR > r) {                                               \
        c##r##a = vfmaq_laneq_f32(c##r##a, b0, x##r, L);                  \
        c##r##b = vfmaq_laneq_f32(c##r##b, b1, x##r, L);                  \
    }
#define FOVEA_NK_STEP(L)                                                  \
    {                                                                     \
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);       \
        b += 8;                                                           \
        FOVEA_NK_LANE(0, L) FOVEA_NK_LANE(1, L) FOVEA_NK_LANE(2, L) FOVEA_NK_LANE(3, L) \
        FOVEA_NK_LANE(4, L) FOVEA_NK_LANE(5, L) FOVEA_NK_LANE(6, L) FOVEA_NK_LANE(7, L) \
    }
#define FOVEA_NK_QUAD                                                     \
    {                                                                     \
        FOVEA_NK_ROWS(FOVEA_NK_LOADA)                                     \
        FOVEA_NK_STEP(0) FOVEA_NK_STEP(1) FOVEA_NK_STEP(2) FOVEA_NK_STEP(3) \
        k += 4;                                                           \
    }
#define FOVEA_NK_TAIL(r)                                                  \
    if constexpr (MR > r) {                                               \
        const float32x4_t x = vld1q_dup_f32(a + r * lda + k);             \
        c##r##a = vfmaq_f32(c##r##a, b0, x);                              \
        c##r##b = vfmaq_f32(c##r##b, b1, x);                              \
    }
#define FOVEA_NK_STORE(r)                                                 \
    if constexpr (MR > r) {                                               \
        vst1q_f32(acc + r * ldacc, c##r##a);                              \
        vst1q_f32(acc + r * ldacc + 4, c##r##b);                          \
    }

template <int MR>
[[gnu::noinline]] void gemm_ukernel_f32(std::int64_t kc, const float* a, std::int64_t lda, const float* b, float* acc,
                                        std::int64_t ldacc, bool load, const char* pf, std::int64_t pf_lines) {
    static_assert(MR >= 1 && MR <= 8, "tile height out of range");
    FOVEA_NK_ROWS(FOVEA_NK_DECL)
    FOVEA_NK_ROWS(FOVEA_NK_INIT)
    std::int64_t k = 0;
    // The prefetching steps apart from the rest, so the main loop carries no prefetch bookkeeping.
    for (; k + 4 <= kc && pf_lines > 0; --pf_lines, pf += 64) {  // one line every four steps, as on x86
        __builtin_prefetch(pf, 0, 2);
        FOVEA_NK_QUAD
    }
    for (; k + 8 <= kc;) {  // 8 steps a trip: A's registers reloaded halfway
        FOVEA_NK_QUAD
        FOVEA_NK_QUAD
    }
    if (k + 4 <= kc) FOVEA_NK_QUAD
    for (; k < kc; ++k) {  // K not a multiple of 4 (attention's keys): a broadcast per row
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        b += 8;
        FOVEA_NK_ROWS(FOVEA_NK_TAIL)
    }
    FOVEA_NK_ROWS(FOVEA_NK_STORE)
}

#undef FOVEA_NK_ROWS
#undef FOVEA_NK_DECL
#undef FOVEA_NK_INIT
#undef FOVEA_NK_LOADA
#undef FOVEA_NK_LANE
#undef FOVEA_NK_STEP
#undef FOVEA_NK_QUAD
#undef FOVEA_NK_TAIL
#undef FOVEA_NK_STORE

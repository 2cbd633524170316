#pragma once
// Row-wise kernels around the GEMMs (LayerNorm, softmax) and the fused attention head.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "fovea/core/context.hpp"
#include "fovea/core/gemm.hpp"
#include "fovea/core/kernels.hpp"
#include "fovea/core/lowp.hpp"

namespace fovea::detail {

inline void layer_norm_row(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y) {
    kernels().layer_norm_row(x, C, w, b, eps, y);
}

// Row-wise LayerNorm over C channels; y may alias x.
inline void layer_norm_rows(const Context& ctx, const float* x, std::int64_t rows, std::int64_t C, const float* w,
                            const float* b, float eps, float* y) {
    const auto row = kernels().layer_norm_row;
    const std::int64_t parts = rows * C >= 32768 ? ctx.threads : 1;
    parallel_for(ctx, rows, 8, parts, [&](std::int64_t r0, std::int64_t r1, Context&) {
        for (std::int64_t r = r0; r < r1; ++r) row(x + r * C, C, w, b, eps, y + r * C);
    });
}

// torch's F.normalize over rows: each of n rows (D wide, stride ld) divided by max(|row|, 1e-12),
// the norm summed in double.
template <typename T>
void l2_normalize_rows(T* x, std::int64_t n, std::int64_t D, std::int64_t ld) {
    for (std::int64_t r = 0; r < n; ++r) {
        T* v = x + r * ld;
        double ss = 0;
        for (std::int64_t d = 0; d < D; ++d) ss += static_cast<double>(v[d]) * static_cast<double>(v[d]);
        const auto inv = static_cast<T>(1.0 / std::max(std::sqrt(ss), 1e-12));
        for (std::int64_t d = 0; d < D; ++d) v[d] *= inv;
    }
}

// Swin's shifted-window mask on one row of scores: keys from another region than the query's
// (key_labels[j] != label) get -100.
inline void mask_row(float* x, std::int64_t n, const int* key_labels, int label) {
    for (std::int64_t j = 0; j < n; ++j)
        if (key_labels[j] != label) x[j] += -100.0f;
}

// Softmax of one row in place. labels (optional): the row's token has region labels[i]; keys
// from another region get -100 first, as the shifted-window mask of Swin.
inline void softmax_row(float* x, std::int64_t n, const int* labels = nullptr, std::int64_t i = 0) {
    if (labels) mask_row(x, n, labels, labels[i]);
    kernels().softmax_row(x, n);
}

// Keys per block of attention's online softmax: a multiple of every entry's panel width. A query
// block's scratch is kQueryBlock x kKeyBlock scores whatever the sequence length.
inline constexpr std::int64_t kKeyBlock = 256;

// Attention's products for a bf16 or int8 model over Tk keys: bf16 operands and fp32 sums on the
// CPU's bf16 kernels (AMX, AVX512_BF16, BFDOT / BFMMLA), as PyTorch's bf16 autocast runs them. Null
// (fp32 products) for an fp32 model, and below the entry's attention_min_keys, where converting
// and packing cost more than the products save (never, for the portable entry). Scores, softmax
// and the output stay fp32.
inline const LowpConfig* attention_lowp(Precision model, std::int64_t Tk) {
    if (model == Precision::f32) return nullptr;
    const LowpConfig& c = kernels().lowp(Precision::bf16);
    return c.attention_min_keys > 0 && Tk >= c.attention_min_keys ? &c : nullptr;
}

// One head's keys and values, packed once for the GEMMs of all its query blocks: K^T [D, Tk] and
// V [Tk, D] in the kernel's panel layout (fp32, or bf16 where lp is given), at `kp` and `vp`
// (sizes from packed_k/v_floats). V is packed one block of kKeyBlock keys after another (each
// block its own panels), so that a key block's values are a matrix of their own.
inline std::int64_t packed_k_floats(std::int64_t Tk, std::int64_t D, const LowpConfig* lp = nullptr) {
    return lp ? bf16_bytes(D, Tk) / 4 : PackedMatrix::packed_size(D, Tk, kernels().nr);
}
// Where key block k0's values begin in vp (floats); packed_v_floats is that of k0 = Tk.
inline std::int64_t packed_v_offset(std::int64_t k0, std::int64_t D, const LowpConfig* lp) {
    if (!lp) return PackedMatrix::packed_size(k0, D, kernels().nr);
    const std::int64_t rest = k0 % kKeyBlock;
    return (k0 / kKeyBlock * bf16_bytes(kKeyBlock, D) + (rest ? bf16_bytes(rest, D) : 0)) / 4;
}
inline std::int64_t packed_v_floats(std::int64_t Tk, std::int64_t D, const LowpConfig* lp = nullptr) {
    return packed_v_offset(Tk, D, lp);
}
inline void pack_kv(Arena& arena, const float* k, const float* v, std::int64_t ldkv, std::int64_t Tk, std::int64_t D, float* kp,
                    float* vp, const LowpConfig* lp = nullptr) {
    const KernelConfig& cfg = kernels();
    const auto scope = arena.scope();
    if (lp) pack_bf16_nk_rows(k, Tk, D, ldkv, *lp, arena.alloc<std::uint32_t>(kLowpNr * bf16_groups(D)), reinterpret_cast<std::uint8_t*>(kp));
    else PackedMatrix::pack_nk(k, Tk, D, ldkv, cfg.nr, kp);
    for (std::int64_t k0 = 0; k0 < Tk; k0 += kKeyBlock) {
        const std::int64_t kb = std::min(kKeyBlock, Tk - k0);
        float* dst = vp + packed_v_offset(k0, D, lp);
        if (lp) pack_bf16_kn(v + k0 * ldkv, kb, D, ldkv, lp->pair_columns, reinterpret_cast<std::uint8_t*>(dst));
        else PackedMatrix::pack_kn(v + k0 * ldkv, kb, D, ldkv, cfg.nr, dst);
    }
}

// Tq queries of one head over its packed keys and values, without leaving the core's caches:
//   out[Tq, D] = softmax((alpha q) k^T + add (+ shift mask)) v
// q: (Tq, D) rows at stride ldq; add: (Tq, Tk) at stride Tk or null; labels: (Tk) region labels
// for the shift mask, the queries' own at labels + q0 (Swin: Tq = Tk, q0 = 0), or null.
// Up to kKeyBlock keys, each row's softmax is taken whole. Longer rows run FlashAttention's online
// softmax over blocks of kKeyBlock keys: a block's exponentials are taken against the row's running
// maximum, the output so far is rescaled when that maximum grows, and the rows are divided by their
// sums at the end; only (Tq, kKeyBlock) scores are scratch. probs asks for a copy of the softmax
// output (stride Tk), which needs whole rows: then the (Tq, Tk) scores are scratch at any length.
// lp: K and V were packed as bf16 for lp's kernels; alpha q and each block of probabilities are
// rounded to bf16 on their way into the products.
// Each row's arithmetic is the same whatever Tq is, so splitting the queries does not change a bit.
// Runs on the calling thread (ctx.threads is not used).
inline void attention_packed(const Context& ctx, const float* q, std::int64_t ldq, std::int64_t Tq, const float* kp,
                             const float* vp, std::int64_t Tk, std::int64_t D, float alpha, const float* add, const int* labels,
                             std::int64_t q0, float* out, std::int64_t ldo, float* probs = nullptr,
                             const LowpConfig* lp = nullptr) {
    const KernelConfig& cfg = kernels();
    const auto scope = ctx.arena->scope();
    Context one = ctx;
    one.threads = 1;
    const LowpRun run(lp);
    // alpha q, once per query block: the scores' epilogue is then a plain store (none at all
    // without a bias: see gemm_block)
    float* qs = ctx.arena->alloc<float>(Tq * D);
    for (std::int64_t i = 0; i < Tq; ++i)
        for (std::int64_t d = 0; d < D; ++d) qs[i * D + d] = alpha * q[i * ldq + d];
    LowpRows qa, pa;
    if (lp) {
        qa = lowp_rows(*ctx.arena, Tq, bf16_groups(D), *lp);
        lp->convert(qs, Tq, D, D, qa.data, qa.ld, nullptr, nullptr);
        pa = lowp_rows(*ctx.arena, Tq, bf16_groups(kKeyBlock), *lp);  // rows of any key block (its groups <= these)
    }
    // scores s[Tq, kb] (stride lds) = (alpha q) K[k0, k0 + kb)^T + add, the keys' panels a view of K^T
    const auto scores = [&](std::int64_t k0, std::int64_t kb, float* s, std::int64_t lds) {
        Epilogue e;
        e.add = add ? add + k0 : nullptr;
        e.add_ld = Tk;
        if (!lp) return gemm(one, Tq, qs, D, PackedMatrix::view(kp + k0 * D, D, kb, cfg.isa), s, lds, e);
        const LowpMatrix B = LowpMatrix::view_bf16(reinterpret_cast<const std::uint8_t*>(kp) + bf16_bytes(D, k0), D, kb, *lp);
        lowp_block(B, qa, 0, Tq, 0, B.panels(), s, lds, e, *ctx.arena);
    };
    // out (+)= p[Tq, kb] (stride ldp) V[k0, k0 + kb)
    const auto values = [&](std::int64_t k0, std::int64_t kb, const float* p, std::int64_t ldp) {
        Epilogue e;
        e.accumulate = k0 > 0;
        if (!lp)
            return gemm(one, Tq, p, ldp, PackedMatrix::view(vp + packed_v_offset(k0, D, nullptr), kb, D, cfg.isa), out, ldo, e);
        const LowpMatrix B = LowpMatrix::view_bf16(reinterpret_cast<const std::uint8_t*>(vp + packed_v_offset(k0, D, lp)), kb, D, *lp);
        lp->convert(p, Tq, kb, ldp, pa.data, pa.ld, nullptr, nullptr);
        lowp_block(B, pa, 0, Tq, 0, B.panels(), out, ldo, e, *ctx.arena);
    };
    // Rows of scores start on a cache line: softmax's vectors then never straddle two (ViT-B's 197
    // keys at stride 197 took 1.45x as long in softmax on Zen 5).
    const auto line = [](std::int64_t n) { return (n + 15) / 16 * 16; };
    if (probs || Tk <= kKeyBlock) {
        const std::int64_t lds = line(Tk);
        float* s = ctx.arena->alloc<float>(Tq * lds);
        scores(0, Tk, s, lds);
        for (std::int64_t i = 0; i < Tq; ++i) softmax_row(s + i * lds, Tk, labels, q0 + i);
        if (probs)
            for (std::int64_t i = 0; i < Tq; ++i) std::copy(s + i * lds, s + i * lds + Tk, probs + i * Tk);
        for (std::int64_t k0 = 0; k0 < Tk; k0 += kKeyBlock) values(k0, std::min(kKeyBlock, Tk - k0), s + k0, lds);
        return;
    }
    float* s = ctx.arena->alloc<float>(Tq * kKeyBlock);
    float* row_max = ctx.arena->alloc<float>(Tq);
    float* row_sum = ctx.arena->alloc<float>(Tq);
    std::fill_n(row_max, Tq, -INFINITY);
    std::fill_n(row_sum, Tq, 0.0f);
    for (std::int64_t k0 = 0; k0 < Tk; k0 += kKeyBlock) {
        const std::int64_t kb = std::min(kKeyBlock, Tk - k0), lds = line(kb);
        scores(k0, kb, s, lds);
        for (std::int64_t i = 0; i < Tq; ++i) {
            float* row = s + i * lds;
            if (labels) mask_row(row, kb, labels + k0, labels[q0 + i]);
            const float before = row_max[i];
            const float sum = cfg.exp_block_row(row, kb, row_max + i);
            // 0 for the first block, and where the maximum grew past FLT_MIN's exponent (not a
            // subnormal factor: see vec_math.inl)
            float rescale = std::exp(before - row_max[i]);
            if (rescale < std::numeric_limits<float>::min()) rescale = 0.0f;
            row_sum[i] = row_sum[i] * rescale + sum;
            if (k0 > 0 && rescale != 1.0f)
                for (std::int64_t d = 0; d < D; ++d) out[i * ldo + d] *= rescale;
        }
        values(k0, kb, s, lds);
    }
    for (std::int64_t i = 0; i < Tq; ++i) {
        const float inv = 1.0f / row_sum[i];
        for (std::int64_t d = 0; d < D; ++d) out[i * ldo + d] *= inv;
    }
}

// attention_packed for q, k, v as they come (slices of the qkv or kv projection, k and v rows at
// stride ldkv): packs them in the arena first.
inline void attention_rows(const Context& ctx, const float* q, std::int64_t ldq, std::int64_t Tq, const float* k, const float* v,
                           std::int64_t ldkv, std::int64_t Tk, std::int64_t D, float alpha, const float* add, const int* labels,
                           float* out, std::int64_t ldo, float* probs = nullptr, const LowpConfig* lp = nullptr) {
    const auto scope = ctx.arena->scope();
    float* kp = ctx.arena->alloc<float>(packed_k_floats(Tk, D, lp));
    float* vp = ctx.arena->alloc<float>(packed_v_floats(Tk, D, lp));
    pack_kv(*ctx.arena, k, v, ldkv, Tk, D, kp, vp, lp);
    attention_packed(ctx, q, ldq, Tq, kp, vp, Tk, D, alpha, add, labels, 0, out, ldo, probs, lp);
}

// Self-attention of one head: T queries over the same T tokens, q, k, v at one stride.
inline void attention_head(const Context& ctx, const float* q, const float* k, const float* v, std::int64_t ld,
                           std::int64_t T, std::int64_t D, float alpha, const float* add, const int* labels, float* out,
                           std::int64_t ldo, float* probs = nullptr, const LowpConfig* lp = nullptr) {
    attention_rows(ctx, q, ld, T, k, v, ld, T, D, alpha, add, labels, out, ldo, probs, lp);
}

}  // namespace fovea::detail

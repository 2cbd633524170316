// Vector math written once over the wrapper V (16 or 8 floats). Included by core/simd.hpp inside
// each instruction set's namespace and target region; never include it anywhere else.

using R = typename V::R;

// No function here makes a subnormal (a value below FLT_MIN), on its way or as its result:
// Intel cores take a microcode assist for each. Before they were zeroed, GELU's pass over an
// fc1-sized output on x < -13 ran 15x slower than on x = -1 on the Xeon (2.4-2.9x on Zen 5),
// softmax rows with a gap of 100 14x slower. Where a true result lies below about FLT_MIN it
// comes out 0 (or FLT_MIN); the absolute error stays below 3e-36.
inline R exp_min() { return V::set1(-87.33f); }  // just above ln(FLT_MIN) = -87.3365

// exp(x): x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^7 (error < 1 ulp
// before rounding), times 2^n. x is clamped first to [exp_min, 88.37], so that n lies in
// [-126, 127] and r > 0 where n = -126: no lane computes a subnormal, and inputs below exp_min
// give exp(exp_min), just above FLT_MIN. Callers zero their tails where those would be scaled
// down further (GELU's erfc, a sigmoid, softmax's divide).
inline R exp(R x) {
    const R y = V::max(V::min(x, V::set1(88.37f)), exp_min());
    const R n = V::round(V::mul(y, V::set1(1.44269504088896341f)));
    R r = V::fnmadd(n, V::set1(0.693359375f), y);
    r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
    R p = V::set1(1.0f / 5040);
    p = V::fmadd(p, r, V::set1(1.0f / 720));
    p = V::fmadd(p, r, V::set1(1.0f / 120));
    p = V::fmadd(p, r, V::set1(1.0f / 24));
    p = V::fmadd(p, r, V::set1(1.0f / 6));
    p = V::fmadd(p, r, V::set1(0.5f));
    p = V::fmadd(p, r, V::set1(1.0f));
    p = V::fmadd(p, r, V::set1(1.0f));
    return V::scale2n(p, n);
}

// Exact (erf) GELU, 0.5 x (1 + erf(x / sqrt 2)). erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2):
// the Chebyshev fit with fractional error below 1.2e-7 for every z >= 0 (Numerical Recipes, erfcc).
// For z > 9 (x < -12.7) the exponential is zeroed before t multiplies it: erfc(9) = 4e-37, and
// t times exp's smallest output would be subnormal.
inline R gelu(R x) {
    const R z = V::abs(V::mul(x, V::set1(0.70710678118654752440f)));
    const R t = V::recip(V::fmadd(z, V::set1(0.5f), V::set1(1.0f)));
    R p = V::set1(0.17087277f);
    p = V::fmadd(p, t, V::set1(-0.82215223f));
    p = V::fmadd(p, t, V::set1(1.48851587f));
    p = V::fmadd(p, t, V::set1(-1.13520398f));
    p = V::fmadd(p, t, V::set1(0.27886807f));
    p = V::fmadd(p, t, V::set1(-0.18628806f));
    p = V::fmadd(p, t, V::set1(0.09678418f));
    p = V::fmadd(p, t, V::set1(0.37409196f));
    p = V::fmadd(p, t, V::set1(1.00002368f));
    p = V::fmadd(p, t, V::set1(-1.26551223f));
    const R erfc = V::mul(t, V::zero_if_less(V::set1(9.0f), z, exp(V::fnmadd(z, z, p))));
    // x >= 0: 0.5 x (2 - erfc);  x < 0: 0.5 x erfc
    const R f = V::select_negative(x, erfc, V::sub(V::set1(2.0f), erfc));
    return V::mul(V::mul(V::set1(0.5f), x), f);
}

// x sigmoid(z) = x / (1 + exp(-z)): GELU's tanh form is x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)),
// since (1 + tanh(u)) / 2 = sigmoid(2u); QuickGELU is x sigmoid(1.702 x). Below z = -87, where
// sigmoid(z) nears FLT_MIN, exp(-z) stops at exp(87) and the sigmoid is zeroed.
inline R x_sigmoid(R x, R z) {
    const R lo = V::set1(-87.0f);
    const R s = V::recip(V::add(V::set1(1.0f), exp(V::sub(V::zero(), V::max(z, lo)))));
    return V::mul(x, V::zero_if_less(z, lo, s));
}
inline R gelu_tanh(R x) {
    const R x2 = V::mul(x, x);
    return x_sigmoid(x, V::mul(x, V::fmadd(x2, V::set1(0.0713548162726f), V::set1(1.5957691216057308f))));
}
inline R quick_gelu(R x) { return x_sigmoid(x, V::mul(x, V::set1(1.702f))); }

// f(c, io) for the vectors of [0, n): whole ones unmasked, then the last n % W lanes through a
// mask. io.load(p), io.store(p, v), io.keep(v) read, write and zero the inactive lanes of the vector
// at p (element c of some row). A mask on every step cost a quarter of exp_block_row's time (Zen 5);
// the arithmetic per lane is the same either way.
struct WholeVector {
    static R load(const float* p) { return V::loadu(p); }
    static void store(float* p, R v) { V::storeu(p, v); }
    static R keep(R v) { return v; }
};
struct PartVector {
    typename V::M k;
    R load(const float* p) const { return V::load_masked(p, k); }
    void store(float* p, R v) const { V::store_masked(p, k, v); }
    R keep(R v) const { return V::keep(v, k); }
};
template <class F>
inline void each_vector(std::int64_t n, F&& f) {
    std::int64_t c = 0;
    for (; c + V::W <= n; c += V::W) f(c, WholeVector{});
    if (c < n) f(c, PartVector{V::mask(n - c)});
}

// One row of LayerNorm: the mean, then the mean square deviation (two passes: no cancellation).
// y may alias x.
inline void layer_norm_row(const float* x, std::int64_t C, const float* w, const float* b, float eps, float* y) {
    R s = V::zero();
    each_vector(C, [&](std::int64_t c, auto io) { s = V::add(s, io.load(x + c)); });
    const R m = V::set1(V::reduce_add(s) / static_cast<float>(C));
    R v = V::zero();
    each_vector(C, [&](std::int64_t c, auto io) {
        const R d = io.keep(V::sub(io.load(x + c), m));
        v = V::fmadd(d, d, v);
    });
    const R inv = V::set1(1.0f / std::sqrt(V::reduce_add(v) / static_cast<float>(C) + eps));
    each_vector(C, [&](std::int64_t c, auto io) {
        const R d = V::mul(V::sub(io.load(x + c), m), inv);
        io.store(y + c, V::fmadd(d, io.load(w + c), io.load(b + c)));
    });
}

// out = silu(gate) * value, n floats (SwiGLU): silu(g) = g / (1 + exp(-g)).
inline void silu_gate_row(const float* gate, const float* value, std::int64_t n, float* out) {
    each_vector(n, [&](std::int64_t c, auto io) {
        const R g = io.load(gate + c);
        io.store(out + c, V::mul(x_sigmoid(g, g), io.load(value + c)));
    });
}

// One key block of an online softmax row: x[0, n) -> exp(x - m') in place, m' the larger of *max
// and the block's maximum; *max becomes m'. Returns the block's sum of exponentials. Those below
// FLT_MIN are 0, not exp's floor: the values' product starts its sums from them.
inline float exp_block_row(float* x, std::int64_t n, float* max) {
    R mx = V::set1(*max);
    std::int64_t j = 0;
    for (; j + V::W <= n; j += V::W) mx = V::max(mx, V::loadu(x + j));
    if (j < n) mx = V::max(mx, V::load_masked_or(x + j, V::mask(n - j), mx));  // inactive lanes: no change
    const float m = V::reduce_max(mx);
    const R mm = V::set1(m);
    R s = V::zero();
    each_vector(n, [&](std::int64_t c, auto io) {
        const R d = V::sub(io.load(x + c), mm);
        const R e = V::zero_if_less(d, exp_min(), exp(d));
        s = V::add(s, io.keep(e));
        io.store(x + c, e);
    });
    *max = m;
    return V::reduce_add(s);
}

// Softmax of one row in place: the whole row as one block, then divided by its sum.
inline void softmax_row(float* x, std::int64_t n) {
    float m = -INFINITY;
    const float sum = exp_block_row(x, n, &m);
    // Exponentials below FLT_MIN sum (probabilities below FLT_MIN) are zeroed before the divide
    const R inv = V::set1(1.0f / sum), least = V::set1(std::numeric_limits<float>::min() * sum);
    each_vector(n, [&](std::int64_t c, auto io) {
        const R e = io.load(x + c);
        io.store(x + c, V::mul(V::zero_if_less(e, least, e), inv));
    });
}

// The epilogue on an m x n tile of raw accumulators acc (leading dimension ldacc, whole vectors
// readable past n), written to C at (row0, col0) of the whole product (add[] is indexed by it).
// The steps are compile-time flags for the combinations the layers use (a tile's epilogue is
// short, and per-row tests of runtime flags cost as much as the work); kAny reads them at run time.
enum EpilogueStep : unsigned {
    kAlpha = 1, kBias = 2, kAdd = 4, kGelu = 8, kScale = 16, kAccumulate = 32, kAny = 64, kGeluTanh = 128, kQuickGelu = 256
};

inline unsigned epilogue_steps(const Epilogue& ep) {
    const unsigned act = ep.act == Activation::Gelu ? kGelu : ep.act == Activation::GeluTanh ? kGeluTanh
                       : ep.act == Activation::QuickGelu ? kQuickGelu : 0u;
    return (ep.alpha != 1.0f ? kAlpha : 0u) | (ep.bias ? kBias : 0u) | (ep.add ? kAdd : 0u) | act |
           (ep.scale ? kScale : 0u) | (ep.accumulate ? kAccumulate : 0u);
}

// Rows outer: a row's stores to C are its adjacent lines, not one line in each of m rows. Where C
// is past L2 (ViT-B's fc1, 2.4 MB) that order wrote the same tiles in 0.65x the time (Zen 5). On
// the Xeon's AMX int8 products (1 thread, tile then this pass): qkv 615-621 us against 690-697 in
// column order, fc2 478-487 against 512-518; proj and fc1 within the noise.
template <unsigned S>
inline void epilogue_steps_tile(const float* acc, std::int64_t ldacc, std::int64_t m, std::int64_t n, float* C,
                                std::int64_t ldc, std::int64_t row0, std::int64_t col0, const Epilogue& ep) {
    // Locals, not ep's fields: a store to C could alias those, and they would be read again per row.
    const unsigned steps = S == kAny ? epilogue_steps(ep) : S;
    const float* const add = ep.add ? ep.add + row0 * ep.add_ld + col0 : nullptr;
    const float* const bias = ep.bias ? ep.bias + col0 : nullptr;
    const float* const scale = ep.scale ? ep.scale + col0 : nullptr;
    const std::int64_t add_ld = ep.add_ld, full = n / V::W * V::W;
    const R alpha = V::set1(ep.alpha);
    const auto k = V::mask(n - full);
    for (std::int64_t r = 0; r < m; ++r) {
        const float* a = acc + r * ldacc;
        float* c = C + r * ldc;
        const float* d = add ? add + r * add_ld : nullptr;
        const auto column = [&](std::int64_t j, auto whole) {
            constexpr bool Full = decltype(whole)::value;
            const auto load = [k](const float* p) { return Full ? V::loadu(p) : V::load_masked(p, k); };
            R v = V::loadu(a + j);
            if (steps & kAlpha) v = V::mul(v, alpha);
            if (steps & kBias) v = V::add(v, load(bias + j));
            if (steps & kAdd) v = V::add(v, load(d + j));
            if (steps & kGelu) v = gelu(v);
            if (steps & kGeluTanh) v = gelu_tanh(v);
            if (steps & kQuickGelu) v = quick_gelu(v);
            if (steps & kScale) v = V::mul(v, load(scale + j));
            if (steps & kAccumulate) v = V::add(v, load(c + j));
            if (Full) V::storeu(c + j, v);
            else V::store_masked(c + j, k, v);
        };
        for (std::int64_t j = 0; j < full; j += V::W) column(j, std::true_type{});
        if (full < n) column(full, std::false_type{});
    }
}

inline void epilogue_tile(const float* acc, std::int64_t ldacc, std::int64_t m, std::int64_t n, float* C,
                          std::int64_t ldc, std::int64_t row0, std::int64_t col0, const Epilogue& ep) {
    switch (epilogue_steps(ep)) {
        case 0: return epilogue_steps_tile<0>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kBias: return epilogue_steps_tile<kBias>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kBias | kGelu: return epilogue_steps_tile<kBias | kGelu>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kBias | kGeluTanh: return epilogue_steps_tile<kBias | kGeluTanh>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kBias | kQuickGelu: return epilogue_steps_tile<kBias | kQuickGelu>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kBias | kAccumulate: return epilogue_steps_tile<kBias | kAccumulate>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kBias | kScale | kAccumulate:
            return epilogue_steps_tile<kBias | kScale | kAccumulate>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        case kAlpha | kAdd: return epilogue_steps_tile<kAlpha | kAdd>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
        default: return epilogue_steps_tile<kAny>(acc, ldacc, m, n, C, ldc, row0, col0, ep);
    }
}

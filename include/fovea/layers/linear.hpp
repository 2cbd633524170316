#pragma once
// nn.Linear: y = x W^T + b, weight [out, in] as stored by PyTorch, packed once for the GEMM kernel:
// as fp32, or as bf16 / int8 when the model is loaded with that precision (core/lowp.hpp).
#include <string>
#include <vector>

#include "fovea/core/context.hpp"
#include "fovea/core/gemm.hpp"
#include "fovea/core/lowp.hpp"
#include "fovea/models/weight_binder.hpp"

namespace fovea {

struct Linear {
    detail::PackedMatrix weight;      // W^T [in, out] in kernel panels (f32), or
    detail::LowpMatrix lowp;          // the same as bf16 / int8 (the other one empty)
    TensorView<const float, 1> bias;  // [out] or empty
    std::int64_t in = 0, out = 0;

    static Linear load(WeightBinder& w, const std::string& prefix, std::int64_t in, std::int64_t out, bool bias = true) {
        if (in < 1 || out < 1) detail::fail(w.file()->path(), ": '", prefix, "' is a layer of width 0 (", out, " x ", in, ")");
        Linear l;
        l.in = in;
        l.out = out;
        const auto wt = w.borrow<2>(prefix + ".weight", {out, in});
        l.pack(wt.data(), w.precision());
        w.release(wt);
        if (bias) l.bias = w.get<1>(prefix + ".bias", {out});
        return l;
    }

    // Several Linears of the same input as one (their outputs side by side): SwiGLU's fc1_g and fc1_x.
    static Linear load_fused(WeightBinder& w, const std::vector<std::string>& prefixes, std::int64_t in, std::int64_t each,
                             bool bias = true) {
        if (in < 1 || each < 1) detail::fail(w.file()->path(), ": '", prefixes.front(), "' is a layer of width 0 (", each, " x ", in, ")");
        Linear l;
        l.in = in;
        l.out = each * static_cast<std::int64_t>(prefixes.size());
        std::vector<float> wt, b;
        for (auto& p : prefixes) {
            const auto v = w.borrow<2>(p + ".weight", {each, in});
            wt.insert(wt.end(), v.data(), v.data() + v.size());
            w.release(v);
            if (bias) {
                const auto bv = w.borrow<1>(p + ".bias", {each});
                b.insert(b.end(), bv.data(), bv.data() + bv.size());
                w.release(bv);
            }
        }
        l.pack(wt.data(), w.precision());
        if (bias) l.bias = w.keep<1>(std::move(b), {l.out});
        return l;
    }

    // A qkv bias stored as q and v parts, k having none (BEiT, EVA, Swin V2): [q, 0, v].
    static TensorView<const float, 1> qv_bias(WeightBinder& w, const std::string& q_key, const std::string& v_key,
                                              std::int64_t dim) {
        std::vector<float> b(static_cast<std::size_t>(3 * dim), 0.0f);
        const auto q = w.borrow<1>(q_key, {dim});
        std::copy(q.data(), q.data() + dim, b.begin());
        w.release(q);
        const auto v = w.borrow<1>(v_key, {dim});
        std::copy(v.data(), v.data() + dim, b.begin() + 2 * dim);
        w.release(v);
        return w.keep<1>(std::move(b), {3 * dim});
    }

    // x [rows, in] -> y [rows, out], through ep (GELU, LayerScale, residual add) as it is written.
    // Rows may be strided (a slice of a wider buffer); y must not alias x.
    void forward(const Context& ctx, TensorView<const float, 2> x, TensorView<float, 2> y, detail::Epilogue ep = {}) const {
        detail::check_shape("Linear", "x", x.shape(), -1, in);
        detail::check_shape("Linear", "y", y.shape(), x.shape(0), out);
        if (x.stride(1) != 1 || y.stride(1) != 1) detail::fail("Linear: rows must be contiguous");
        ep.bias = bias.empty() ? nullptr : bias.data();
        const PhaseTimer timer(ctx, Phase::Linear);
        if (!lowp.empty()) return detail::gemm(ctx, x.shape(0), x.data(), x.stride(0), lowp, y.data(), y.stride(0), ep);
        detail::gemm(ctx, x.shape(0), x.data(), x.stride(0), weight, y.data(), y.stride(0), ep);
    }

    Precision precision() const { return lowp.empty() ? Precision::f32 : lowp.type; }

private:
    void pack(const float* w, Precision p) {
        if (p == Precision::f32) weight = detail::PackedMatrix::from_nk(w, out, in, in);
        else lowp = detail::LowpMatrix::from_nk(w, out, in, in, p);
    }
};

}  // namespace fovea

#pragma once
// timm's MLPs, chosen by configuration:
//   Gelu          Mlp:          fc1 -> act -> fc2 (act_layer: exact GELU, its tanh form or QuickGELU,
//                               applied inside fc1's GEMM)
//   SwiGluPacked  GluMlp(SiLU): fc1 to 2h, first half gates: silu(x1) * x2 -> fc2
//   SwiGlu        SwiGLU:       silu(fc1_g(x)) * fc1_x(x) -> fc2 (fc1_g and fc1_x fused into one GEMM at load)
// Any of them may carry a LayerNorm over the hidden width before fc2 (timm's norm_layer: mlp.norm,
// EVA-02's scale_mlp).
#include <optional>
#include <string>

#include "fovea/core/context.hpp"
#include "fovea/core/kernels.hpp"
#include "fovea/layers/layer_norm.hpp"
#include "fovea/layers/linear.hpp"

namespace fovea {

enum class MlpKind { Gelu, SwiGluPacked, SwiGlu };

// timm's act_layer names for Mlp's activation (the SwiGLU kinds gate with SiLU whatever it says).
inline Activation parse_activation(const std::string& s, const std::string& where) {
    if (s == "gelu") return Activation::Gelu;
    if (s == "gelu_tanh") return Activation::GeluTanh;
    if (s == "quick_gelu") return Activation::QuickGelu;
    detail::fail(where, ": act_layer '", s.substr(0, 100), "' is not supported (gelu, gelu_tanh, quick_gelu)");
}

inline MlpKind parse_mlp_kind(const std::string& s, const std::string& where) {
    if (s == "mlp" || s == "gelu") return MlpKind::Gelu;
    if (s == "swiglu_packed") return MlpKind::SwiGluPacked;
    if (s == "swiglu") return MlpKind::SwiGlu;
    detail::fail(where, ": mlp_layer '", s.substr(0, 100), "' is not supported (mlp, swiglu_packed, swiglu)");
}

struct Mlp {
    MlpKind kind = MlpKind::Gelu;
    Activation act = Activation::Gelu;  // kind Gelu's activation
    Linear fc1, fc2;  // SwiGlu: fc1 holds fc1_g then fc1_x
    std::optional<LayerNorm> norm;  // over the hidden width, before fc2
    std::int64_t hidden = 0;  // fc2's input width

    // hidden: timm's hidden_features (for SwiGluPacked the width of fc1, twice fc2's input).
    // norm_eps > 0: the MLP has its inner norm.
    static Mlp load(WeightBinder& w, const std::string& prefix, std::int64_t dim, std::int64_t hidden, MlpKind kind = MlpKind::Gelu,
                    Activation act = Activation::Gelu, float norm_eps = 0.0f) {
        Mlp m;
        m.kind = kind;
        m.act = act;
        if (kind == MlpKind::Gelu) {
            m.hidden = hidden;
            m.fc1 = Linear::load(w, prefix + ".fc1", dim, hidden);
        } else if (kind == MlpKind::SwiGluPacked) {
            if (hidden % 2) detail::fail(w.file()->path(), ": ", prefix, ": a packed SwiGLU needs an even hidden width, got ", hidden);
            m.hidden = hidden / 2;
            m.fc1 = Linear::load(w, prefix + ".fc1", dim, hidden);
        } else {
            m.hidden = hidden;
            m.fc1 = Linear::load_fused(w, {prefix + ".fc1_g", prefix + ".fc1_x"}, dim, hidden);
        }
        if (norm_eps > 0) m.norm = LayerNorm::load(w, prefix + ".norm", m.hidden, norm_eps);
        m.fc2 = Linear::load(w, prefix + ".fc2", m.hidden, dim);
        return m;
    }

    // x [rows, dim] -> y [rows, dim]; out is fc2's epilogue (a residual block adds into y).
    void forward(const Context& ctx, TensorView<const float, 2> x, TensorView<float, 2> y, detail::Epilogue out = {}) const {
        const std::int64_t rows = x.shape(0);
        const auto scope = ctx.arena->scope();
        float* h = ctx.arena->alloc<float>(rows * fc1.out);  // (rows, fc1.out)
        detail::Epilogue ep;
        if (kind == MlpKind::Gelu) ep.act = act;
        fc1.forward(ctx, x, {h, {rows, fc1.out}}, ep);
        if (kind != MlpKind::Gelu) {  // rows of [gate | value] -> silu(gate) * value: [rows, hidden]
            float* g = ctx.arena->alloc<float>(rows * hidden);
            const auto glu = detail::kernels().silu_gate_row;
            parallel_for(ctx, rows, 16, ctx.threads, [&](std::int64_t r0, std::int64_t r1, Context&) {
                for (std::int64_t r = r0; r < r1; ++r) glu(h + r * 2 * hidden, h + r * 2 * hidden + hidden, hidden, g + r * hidden);
            });
            h = g;
        }
        if (norm) norm->forward(ctx, TensorView<const float, 2>(h, {rows, hidden}), TensorView<float, 2>(h, {rows, hidden}));
        fc2.forward(ctx, TensorView<const float, 2>(h, {rows, hidden}), y, out);
    }
};

}  // namespace fovea

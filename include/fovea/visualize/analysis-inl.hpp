// Definitions of visualize/analysis.hpp: included at its end (header-only), or compiled once into
// fovea::compiled (src/visualize.cpp).
#pragma once
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "fovea/visualize/analysis.hpp"

#ifdef FOVEA_COMPILED
#define FOVEA_INLINE_
#else
#define FOVEA_INLINE_ inline
#endif

namespace fovea {

FOVEA_INLINE_ std::vector<std::string> attention_blocks(const Model& model) { return model.block_names(); }

FOVEA_INLINE_ std::string attention_block(const Model& model, const std::string& which) {
    const auto names = attention_blocks(model);
    if (names.empty()) detail::fail(model.architecture(), ": no attention blocks");
    if (std::find(names.begin(), names.end(), which) != names.end()) return which;
    const auto count = static_cast<long long>(names.size());
    const auto i = detail::parse_integer(which, -count, count - 1);
    if (!i)
        detail::fail("block '", which, "': expected a block name (", names.front(), " ... ", names.back(),
                     ") or an index from ", -count, " to ", count - 1);
    return names[static_cast<std::size_t>(*i < 0 ? *i + count : *i)];
}

FOVEA_INLINE_ Inspection inspect(const Model& model, TensorView<const float, 4> x, const InspectOptions& what) {
    Inspection out;
    const auto named = [](const std::vector<std::string>& list, const std::string& name) {
        return std::find(list.begin(), list.end(), name) != list.end() || std::find(list.begin(), list.end(), "*") != list.end();
    };
    Trace trace;
    if (!what.attention.empty()) {
        trace.wants_attention = [&](const std::string& block) { return named(what.attention, block); };
        trace.attention = [&](AttentionMap&& m) { out.attention.push_back(std::move(m)); };
    }
    if (!what.tokens.empty())
        trace.activation = [&](const Traced& a) {
            if (!named(what.tokens, a.name)) return;
            Features f{Tensor<float, 3>({a.tokens.shape(0), a.tokens.shape(1), a.tokens.shape(2)}), a.prefix, a.grid_h, a.grid_w};
            std::copy_n(a.tokens.data(), f.tokens.size(), f.tokens.data());
            out.tokens.emplace_back(a.name, std::move(f));
        };
    for (auto& name : what.attention)
        if (name != "*") attention_block(model, name);  // an unknown name is an error, not an empty result
    const Features features = model.forward_features(x, trace);
    out.pooled = model.forward_head(features, true);
    out.output = model.num_classes() > 0 ? model.forward_head(features, false) : out.pooled;
    for (auto& name : what.tokens)
        if (name != "*" && std::none_of(out.tokens.begin(), out.tokens.end(), [&](auto& t) { return t.first == name; }))
            detail::fail("inspect: the model has no stage '", name, "'");
    return out;
}

namespace detail {

FOVEA_INLINE_ void check_global(const AttentionMap& m, std::int64_t prefix_tokens, const char* what) {
    const auto& s = m.probs.shape();
    if (s[2] != 1 || !m.token_pos.empty())
        detail::fail(what, ": '", m.block, "' attends within windows (Swin); use window_attention_received");
    if (s[3] != s[4] || s[3] != prefix_tokens + m.map_h * m.map_w)
        detail::fail(what, ": '", m.block, "' has ", s[3], " tokens, expected ", prefix_tokens, " prefix tokens and a ", m.map_h, "x",
             m.map_w, " grid");
}

}  // namespace detail

FOVEA_INLINE_ Tensor<float, 3> attention_rollout(const std::vector<AttentionMap>& maps, std::int64_t prefix_tokens,
                                                 bool class_token) {
    if (maps.empty()) detail::fail("attention_rollout: no attention maps");
    const auto& s0 = maps.front().probs.shape();
    const std::int64_t N = s0[0], T = s0[3], gh = maps.front().map_h, gw = maps.front().map_w, L = gh * gw;
    for (auto& m : maps) {
        detail::check_global(m, prefix_tokens, "attention_rollout");
        if (m.probs.shape(0) != N || m.probs.shape(3) != T) detail::fail("attention_rollout: the maps are of different inputs");
    }
    Tensor<float, 3> out({N, gh, gw});
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    for (std::int64_t b = 0; b < N; ++b) {
        // r^T A_last ... A_first, from the last block back: one row vector instead of T x T products
        Eigen::RowVectorXd r = Eigen::RowVectorXd::Zero(T);
        if (class_token) r(0) = 1.0;
        else r.tail(L).setConstant(1.0 / static_cast<double>(L));
        for (auto m = maps.rbegin(); m != maps.rend(); ++m) {
            const std::int64_t H = m->probs.shape(1);
            Mat a = Mat::Identity(T, T) * static_cast<double>(H);
            for (std::int64_t h = 0; h < H; ++h)
                a += Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                         &m->probs(b, h, 0, 0, 0), T, T).cast<double>();
            a.array().colwise() /= a.rowwise().sum().array();  // (mean + I) / its row sums: the H cancels
            r = r * a;
        }
        for (std::int64_t i = 0; i < L; ++i) out.data()[b * L + i] = static_cast<float>(r(prefix_tokens + i));
    }
    return out;
}

FOVEA_INLINE_ Tensor<float, 4> token_attention(const AttentionMap& m, std::int64_t prefix_tokens, std::int64_t query) {
    detail::check_global(m, prefix_tokens, "token_attention");
    const std::int64_t N = m.probs.shape(0), H = m.probs.shape(1), T = m.probs.shape(3), L = m.map_h * m.map_w;
    if (query < -1 || query >= T) detail::fail("token_attention: query token ", query, " is out of range (", T, " tokens)");
    Tensor<float, 4> out({N, H, m.map_h, m.map_w});
    for (std::int64_t b = 0; b < N; ++b)
        for (std::int64_t h = 0; h < H; ++h)
            for (std::int64_t i = 0; i < L; ++i) {
                double v = 0;
                if (query >= 0) v = m.probs(b, h, 0, query, prefix_tokens + i);
                else {
                    for (std::int64_t q = prefix_tokens; q < T; ++q) v += m.probs(b, h, 0, q, prefix_tokens + i);
                    v /= static_cast<double>(L);
                }
                out.data()[(b * H + h) * L + i] = static_cast<float>(v);
            }
    return out;
}

FOVEA_INLINE_ Tensor<float, 4> window_attention_received(const AttentionMap& m) {
    const auto& s = m.probs.shape();  // [N, heads, windows, Q, K]
    const std::int64_t N = s[0], H = s[1], nW = s[2], Q = s[3];
    if (m.token_pos.size() != static_cast<std::size_t>(nW * Q))
        detail::fail("window_attention_received: '", m.block, "' is not windowed attention");
    const std::int64_t HW = m.map_h * m.map_w;
    Tensor<float, 4> out({N, H, m.map_h, m.map_w});
    for (std::int64_t b = 0; b < N; ++b)
        for (std::int64_t h = 0; h < H; ++h)
            for (std::int64_t w = 0; w < nW; ++w) {
                const std::int64_t* pos = m.token_pos.data() + w * Q;
                const auto real = std::count_if(pos, pos + Q, [](std::int64_t p) { return p >= 0; });
                if (real == 0) continue;  // a window of padding alone (not made by timm's rules, but not divided by)
                for (std::int64_t k = 0; k < Q; ++k) {
                    if (pos[k] < 0) continue;
                    double v = 0;
                    for (std::int64_t q = 0; q < Q; ++q)
                        if (pos[q] >= 0) v += m.probs(b, h, w, q, k);
                    out.data()[(b * H + h) * HW + pos[k]] = static_cast<float>(v / static_cast<double>(real));
                }
            }
    return out;
}

FOVEA_INLINE_ Pca pca(TensorView<const float, 2> x, std::int64_t k) {
    const std::int64_t n = x.shape(0), D = x.shape(1);
    // n centred rows span at most n - 1 directions: a component beyond them would be arbitrary
    const std::int64_t most = std::min(n - 1, D);
    if (k < 1 || k > most) detail::fail("pca: ", k, " components of ", n, "x", D, " data (1 to ", std::max<std::int64_t>(most, 1), ")");
    Eigen::MatrixXd X(n, D);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < D; ++j) {
            const float v = x(i, j);
            if (!std::isfinite(v)) detail::fail("pca: the data hold NaN or Inf (row ", i, ")");
            X(i, j) = v;
        }
    const Eigen::RowVectorXd mu = X.colwise().mean();
    X.rowwise() -= mu;
    // The principal directions are the eigenvectors of X^T X (D x D, in double; the eigenvalues are
    // the squared singular values). The leading components, all that is asked for, come out as an
    // SVD of X gives them, and Eigen's symmetric solver compiles in a third of its SVD's time.
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(X.transpose() * X);
    const Eigen::MatrixXd V = eig.eigenvectors().rightCols(k).rowwise().reverse();  // descending
    const Eigen::VectorXd sv2 = eig.eigenvalues().tail(k).reverse().cwiseMax(0.0);
    const Eigen::MatrixXd S = X * V;
    const double total = X.squaredNorm();
    Pca p;
    p.mean.assign(mu.data(), mu.data() + D);
    p.components = Tensor<double, 2>({k, D});
    p.scores = Tensor<double, 2>({n, k});
    for (std::int64_t c = 0; c < k; ++c) {
        Eigen::Index at = 0;
        S.col(c).cwiseAbs().maxCoeff(&at);  // the first row of largest magnitude
        const double sign = S(at, c) < 0 ? -1.0 : 1.0;
        for (std::int64_t j = 0; j < D; ++j) p.components(c, j) = sign * V(j, c);
        for (std::int64_t i = 0; i < n; ++i) p.scores(i, c) = sign * S(i, c);
        p.explained_variance.push_back(sv2(c) / static_cast<double>(n - 1));
        p.explained_ratio.push_back(total > 0 ? sv2(c) / total : 0.0);
    }
    return p;
}

namespace detail {

// Scores [n, 3] -> [n, 3] in [0, 1]: each component by its own minimum and maximum.
FOVEA_INLINE_ void scores_to_unit(const Tensor<double, 2>& s, float* out) {
    const std::int64_t n = s.shape(0), k = s.shape(1);
    for (std::int64_t c = 0; c < k; ++c) {
        double lo = s(0, c), hi = s(0, c);
        for (std::int64_t i = 1; i < n; ++i) lo = std::min(lo, s(i, c)), hi = std::max(hi, s(i, c));
        for (std::int64_t i = 0; i < n; ++i) out[i * k + c] = hi > lo ? static_cast<float>((s(i, c) - lo) / (hi - lo)) : 0.5f;
    }
}

}  // namespace detail

FOVEA_INLINE_ Tensor<float, 4> pca_rgb(TensorView<const float, 4> grid) {
    const std::int64_t N = grid.shape(0), H = grid.shape(1), W = grid.shape(2), C = grid.shape(3);
    Tensor<float, 2> rows({N * H * W, C});
    for (std::int64_t b = 0; b < N; ++b)
        for (std::int64_t y = 0; y < H; ++y)
            for (std::int64_t x = 0; x < W; ++x)
                for (std::int64_t c = 0; c < C; ++c) rows(((b * H) + y) * W + x, c) = grid(b, y, x, c);
    const Pca p = pca(rows, 3);
    Tensor<float, 4> out({N, H, W, 3});
    detail::scores_to_unit(p.scores, out.data());
    return out;
}

FOVEA_INLINE_ Tensor<float, 4> patch_embed_components(const Model& model, std::int64_t k) {
    const auto filters = model.patch_embed_filters();
    if (filters.empty()) detail::fail(model.architecture(), ": no patch embedding to show");
    const std::int64_t E = filters.shape(0), C = filters.shape(1), p = filters.shape(2), K = C * p * p;
    const Pca pc = pca(TensorView<const float, 2>(filters.data(), {E, K}), k);
    Tensor<float, 4> out({k, C, p, p});
    for (std::int64_t i = 0; i < k * K; ++i) out.data()[i] = static_cast<float>(pc.components.data()[i]);
    return out;
}

FOVEA_INLINE_ Tensor<float, 4> position_similarity(const Model& model) {
    const auto pos = model.absolute_pos_embed();
    if (pos.empty()) detail::fail(model.architecture(), ": no absolute position embedding to compare");
    const auto& info = model.info();
    const std::int64_t gh = info.img_h / info.patch_size, gw = info.img_w / info.patch_size, L = gh * gw, C = pos.shape(2);
    const std::int64_t first = pos.shape(1) - L;  // prefix tokens' entries, if they have any
    Eigen::MatrixXd P(L, C);
    for (std::int64_t i = 0; i < L; ++i)
        for (std::int64_t c = 0; c < C; ++c) P(i, c) = pos(0, first + i, c);
    const Eigen::VectorXd norms = P.rowwise().norm().cwiseMax(1e-12);
    P.array().colwise() /= norms.array();
    const Eigen::MatrixXd sim = P * P.transpose();
    Tensor<float, 4> out({gh, gw, gh, gw});
    for (std::int64_t i = 0; i < L; ++i)
        for (std::int64_t j = 0; j < L; ++j) out.data()[i * L + j] = static_cast<float>(sim(i, j));
    return out;
}

}  // namespace fovea

#undef FOVEA_INLINE_

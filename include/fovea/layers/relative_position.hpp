#pragma once
// Learned relative position biases: a table of (relative offset, head) entries gathered into one
// (heads, N, N) bias per attention at load, with timm's index for every (query, key) pair.
//   Swin (get_relative_position_index): the tokens of a wh x ww window.
//   BEiT (gen_relative_position_index): a class token before a gh x gw grid; the class token's
//   rows, columns and self-pair take the table's last three entries.
//   Swin V2 (continuous position bias): the table is not stored but computed by a small MLP from
//   log-spaced offsets; continuous_position_bias below.
#include <cmath>
#include <cstdint>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"

namespace fovea {

inline std::vector<std::int64_t> relative_position_index(std::int64_t wh, std::int64_t ww) {
    const std::int64_t N = wh * ww;
    std::vector<std::int64_t> idx(static_cast<std::size_t>(N * N));
    for (std::int64_t i = 0; i < N; ++i)
        for (std::int64_t j = 0; j < N; ++j) {
            const std::int64_t dy = i / ww - j / ww + wh - 1, dx = i % ww - j % ww + ww - 1;
            idx[static_cast<std::size_t>(i * N + j)] = dy * (2 * ww - 1) + dx;
        }
    return idx;
}

// (1 + gh*gw)^2 indices into a table of (2gh-1)(2gw-1) + 3 entries.
inline std::vector<std::int64_t> relative_position_index_with_cls(std::int64_t gh, std::int64_t gw) {
    const std::int64_t area = gh * gw, N = area + 1, distances = (2 * gh - 1) * (2 * gw - 1) + 3;
    const auto grid = relative_position_index(gh, gw);
    std::vector<std::int64_t> idx(static_cast<std::size_t>(N * N));
    for (std::int64_t i = 0; i < area; ++i)
        for (std::int64_t j = 0; j < area; ++j) idx[static_cast<std::size_t>((i + 1) * N + j + 1)] = grid[static_cast<std::size_t>(i * area + j)];
    for (std::int64_t j = 0; j < N; ++j) idx[static_cast<std::size_t>(j)] = distances - 3;      // class token -> tokens
    for (std::int64_t i = 0; i < N; ++i) idx[static_cast<std::size_t>(i * N)] = distances - 2;  // tokens -> class token
    idx[0] = distances - 1;
    return idx;
}

// table [entries, heads] gathered by index (N*N entries) -> (heads, N, N)
inline std::vector<float> gather_relative_bias(TensorView<const float, 2> table, const std::vector<std::int64_t>& index,
                                               std::int64_t N) {
    const std::int64_t heads = table.shape(1);
    std::vector<float> bias(static_cast<std::size_t>(heads * N * N));
    for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t p = 0; p < N * N; ++p) bias[static_cast<std::size_t>(h * N * N + p)] = table(index[static_cast<std::size_t>(p)], h);
    return bias;
}

// Swin V2's relative position bias of a wh x ww window (timm swin_transformer_v2.WindowAttention):
// each offset (dy, dx) of the (2wh-1) x (2ww-1) table is scaled to [-8, 8] by the pre-training
// window (pwh x pww; 0: this window) and log-spaced, sign(v) log2(|v| + 1) / 3 (in float32, as
// timm builds that buffer); cpb_mlp (Linear(2, hidden) + ReLU + Linear(hidden, heads), no bias)
// maps it to a bias per head, and 16 sigmoid(.) of it is gathered to (heads, N, N).
inline std::vector<float> continuous_position_bias(TensorView<const float, 2> w1, TensorView<const float, 1> b1,
                                                   TensorView<const float, 2> w2, std::int64_t wh, std::int64_t ww,
                                                   std::int64_t pwh, std::int64_t pww) {
    const std::int64_t dh = pwh > 0 ? pwh : wh, dw = pww > 0 ? pww : ww;
    if (dh < 2 || dw < 2) detail::fail("Swin V2: a window of ", wh, "x", ww, " (pre-training ", pwh, "x", pww,
                                       ") has no offsets to scale (timm divides by zero there)");
    const std::int64_t hidden = w1.shape(0), heads = w2.shape(0), rows = 2 * wh - 1, cols = 2 * ww - 1;
    auto scaled = [](std::int64_t offset, std::int64_t d) {
        float v = static_cast<float>(offset) / static_cast<float>(d - 1) * 8.0f;
        const float sign = v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f;
        return sign * std::log2(std::abs(v) + 1.0f) / 3.0f;
    };
    std::vector<float> table(static_cast<std::size_t>(rows * cols * heads));  // [entries, heads]
    std::vector<double> h(static_cast<std::size_t>(hidden));
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) {
            const double cy = scaled(i - (wh - 1), dh), cx = scaled(j - (ww - 1), dw);
            for (std::int64_t k = 0; k < hidden; ++k)
                h[static_cast<std::size_t>(k)] = std::max(0.0, w1(k, 0) * cy + w1(k, 1) * cx + b1(k));
            for (std::int64_t o = 0; o < heads; ++o) {
                double acc = 0;
                for (std::int64_t k = 0; k < hidden; ++k) acc += w2(o, k) * h[static_cast<std::size_t>(k)];
                table[static_cast<std::size_t>((i * cols + j) * heads + o)] = static_cast<float>(16.0 / (1.0 + std::exp(-acc)));
            }
        }
    return gather_relative_bias(TensorView<const float, 2>(table.data(), {rows * cols, heads}), relative_position_index(wh, ww), wh * ww);
}

}  // namespace fovea

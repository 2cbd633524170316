#pragma once
// Learned relative position biases: a table of (relative offset, head) entries gathered into one
// (heads, N, N) bias per attention at load, with timm's index for every (query, key) pair.
//   Swin (get_relative_position_index): the tokens of a wh x ww window.
//   BEiT (gen_relative_position_index): a class token before a gh x gw grid; the class token's
//   rows, columns and self-pair take the table's last three entries.
#include <cstdint>
#include <vector>

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

}  // namespace fovea

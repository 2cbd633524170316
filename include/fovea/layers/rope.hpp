#pragma once
// 2-D rotary position embedding as EVA-02 uses it (timm's RotaryEmbeddingCat with in_pixels=False,
// 'ij' grid, no offset): each head's D channels are D/2 pairs; pair j turns by angle
// pos * band[j mod D/4], pos the token's row for the first D/4 pairs and its column for the rest,
// band[i] = temperature^(-i / (D/4)). With ref_feat_shape the grid is rescaled to that shape
// (pos = index / grid * ref), so a model fine-tuned at 448 sees the angles of its 224 pre-training.
// Prefix tokens (the class token) are not rotated. Computed in float32 in timm's order, as timm
// builds its table (the reference's table is float32 too).
#include <cmath>
#include <cstdint>
#include <vector>

#include "fovea/core/error.hpp"

namespace fovea {

struct RotaryEmbedding {
    std::int64_t dim = 0;                // a head's channels, a multiple of 4
    float temperature = 10000.0f;
    std::int64_t ref_h = 0, ref_w = 0;   // timm's ref_feat_shape, or 0: none

    // sin and cos for each token of a gh x gw grid, each [gh * gw, dim] with a pair's two channels equal.
    struct Table {
        std::vector<float> sin, cos;
        std::int64_t tokens = 0, dim = 0, prefix = 0;  // prefix: leading tokens left unrotated
    };

    Table table(std::int64_t gh, std::int64_t gw, std::int64_t prefix) const {
        if (dim % 4 || dim < 4) detail::fail("rotary embedding: head dim ", dim, " is not a positive multiple of 4");
        const std::int64_t nb = dim / 4;
        std::vector<float> band(static_cast<std::size_t>(nb));
        for (std::int64_t i = 0; i < nb; ++i)
            band[static_cast<std::size_t>(i)] = 1.0f / std::pow(temperature, static_cast<float>(i) / static_cast<float>(nb));
        auto coord = [](std::int64_t i, std::int64_t n, std::int64_t ref) {
            const float t = static_cast<float>(i);
            return ref > 0 ? t / static_cast<float>(n) * static_cast<float>(ref) : t;
        };
        Table t;
        t.tokens = gh * gw;
        t.dim = dim;
        t.prefix = prefix;
        t.sin.resize(static_cast<std::size_t>(t.tokens * dim));
        t.cos.resize(t.sin.size());
        for (std::int64_t y = 0; y < gh; ++y)
            for (std::int64_t x = 0; x < gw; ++x) {
                const float py = coord(y, gh, ref_h), px = coord(x, gw, ref_w);
                float* s = t.sin.data() + (y * gw + x) * dim;
                float* c = t.cos.data() + (y * gw + x) * dim;
                for (std::int64_t j = 0; j < dim / 2; ++j) {
                    const float a = (j < nb ? py : px) * band[static_cast<std::size_t>(j % nb)];
                    s[2 * j] = s[2 * j + 1] = std::sin(a);
                    c[2 * j] = c[2 * j + 1] = std::cos(a);
                }
            }
        return t;
    }

    // Rotates the rows of one head in place: rows [prefix, prefix + tokens) of x at stride ld.
    static void apply(const Table& t, float* x, std::int64_t ld) {
        for (std::int64_t r = 0; r < t.tokens; ++r) {
            float* v = x + (t.prefix + r) * ld;
            const float* s = t.sin.data() + r * t.dim;
            const float* c = t.cos.data() + r * t.dim;
            for (std::int64_t j = 0; j < t.dim; j += 2) {
                const float a = v[j], b = v[j + 1];
                v[j] = a * c[j] - b * s[j];
                v[j + 1] = b * c[j + 1] + a * s[j + 1];
            }
        }
    }
};

}  // namespace fovea

#pragma once
// Pictures of what visualize/analysis.hpp computes: 8-bit RGB images in memory (writing them to
// files is the program's choice; fovea-visualize uses stb_image_write): the network's input with
// its normalisation undone, heat maps in viridis (perceptually uniform: equal steps of value are
// equal steps of lightness) blended over it, RGB maps, and grids of pictures.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/data/pretrained_cfg.hpp"

namespace fovea {

struct Picture {
    std::int64_t height = 0, width = 0;
    std::vector<std::uint8_t> rgb;  // row by row, 3 bytes a pixel

    Picture() = default;
    Picture(std::int64_t h, std::int64_t w, std::array<std::uint8_t, 3> fill = {255, 255, 255}) : height(h), width(w) {
        if (h < 0 || w < 0 || h > 65536 || w > 65536) detail::fail("picture: ", h, "x", w, " is out of range");
        rgb.resize(static_cast<std::size_t>(h * w * 3));
        for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = fill[i % 3];
    }
    std::uint8_t* at(std::int64_t y, std::int64_t x) { return rgb.data() + (y * width + x) * 3; }
    const std::uint8_t* at(std::int64_t y, std::int64_t x) const { return rgb.data() + (y * width + x) * 3; }
    void set(std::int64_t y, std::int64_t x, std::array<std::uint8_t, 3> c) {
        if (y >= 0 && x >= 0 && y < height && x < width) std::copy(c.begin(), c.end(), at(y, x));
    }
};

namespace detail {

inline std::uint8_t to_byte(double v) { return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }

}  // namespace detail

// viridis (van der Walt and Smith, matplotlib's default map) at t in [0, 1]: its nine published
// steps, linearly between them. Lightness rises evenly from dark violet to yellow, so the eye
// reads equal differences of value as equal (tests/test_visualize.cpp checks CIELAB L*).
inline std::array<std::uint8_t, 3> viridis(double t) {
    static constexpr std::uint8_t steps[9][3] = {{0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b},
                                                 {0x2c, 0x72, 0x8e}, {0x21, 0x90, 0x8c}, {0x27, 0xad, 0x81},
                                                 {0x5d, 0xc8, 0x63}, {0xaa, 0xdc, 0x32}, {0xfd, 0xe7, 0x25}};
    if (!(t >= 0)) t = 0;  // NaN too
    const double s = std::min(t, 1.0) * 8.0;
    const int i = std::min(static_cast<int>(s), 7);
    const double f = s - i;
    std::array<std::uint8_t, 3> c{};
    for (int k = 0; k < 3; ++k) c[static_cast<std::size_t>(k)] = detail::to_byte(((1 - f) * steps[i][k] + f * steps[i + 1][k]) / 255.0);
    return c;
}

// Image `n` of a preprocessed batch x [N, C, H, W] as the network saw it (normalisation undone with
// the model's mean and std; one channel as grey), each pixel `scale` x `scale`.
inline Picture input_picture(TensorView<const float, 4> x, std::int64_t n, const PretrainedCfg& cfg, std::int64_t scale = 1) {
    const std::int64_t C = x.shape(1), H = x.shape(2), W = x.shape(3);
    if (n < 0 || n >= x.shape(0) || (C != 1 && C != 3) || scale < 1)
        detail::fail("input_picture: image ", n, " of ", detail::dims_str(x.shape()), " at scale ", scale);
    if (cfg.mean.size() != static_cast<std::size_t>(C) || cfg.std.size() != static_cast<std::size_t>(C))
        detail::fail("input_picture: mean and std have ", cfg.mean.size(), " channels, the input ", C);
    Picture p(H * scale, W * scale);
    for (std::int64_t y = 0; y < p.height; ++y)
        for (std::int64_t xx = 0; xx < p.width; ++xx)
            for (std::int64_t k = 0; k < 3; ++k) {
                const std::int64_t c = C == 1 ? 0 : k;
                const auto ci = static_cast<std::size_t>(c);
                p.at(y, xx)[k] = detail::to_byte(x(n, c, y / scale, xx / scale) * cfg.std[ci] + cfg.mean[ci]);
            }
    return p;
}

// A map [h, w] as a viridis heat map of height x width pixels: smooth (bilinear, pixel centres
// aligned as PyTorch's align_corners=False) or each cell a block. Values from lo (dark) to hi
// (yellow); lo >= hi: the map's own minimum and maximum.
inline Picture heatmap(TensorView<const float, 2> map, std::int64_t height, std::int64_t width, double lo = 0, double hi = 0,
                       bool smooth = true) {
    const std::int64_t h = map.shape(0), w = map.shape(1);
    if (h < 1 || w < 1) detail::fail("heatmap: empty map");
    if (lo >= hi) {
        lo = hi = map(0, 0);
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) lo = std::min<double>(lo, map(y, x)), hi = std::max<double>(hi, map(y, x));
    }
    const double range = hi > lo ? hi - lo : 1.0;
    Picture p(height, width);
    auto src = [](std::int64_t d, std::int64_t out, std::int64_t in, std::int64_t& i0, std::int64_t& i1) {
        const double s = std::clamp((static_cast<double>(d) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5,
                                    0.0, static_cast<double>(in - 1));
        i0 = static_cast<std::int64_t>(s);
        i1 = std::min(i0 + 1, in - 1);
        return s - static_cast<double>(i0);
    };
    for (std::int64_t y = 0; y < height; ++y) {
        std::int64_t y0, y1, x0, x1;
        const double fy = src(y, height, h, y0, y1);
        for (std::int64_t x = 0; x < width; ++x) {
            const double fx = src(x, width, w, x0, x1);
            const double v = !smooth ? map(y * h / height, x * w / width) : (1 - fy) * ((1 - fx) * map(y0, x0) + fx * map(y0, x1)) + fy * ((1 - fx) * map(y1, x0) + fx * map(y1, x1));
            p.set(y, x, viridis((v - lo) / range));
        }
    }
    return p;
}

// heat over base, alpha of heat (same size).
inline Picture overlay(const Picture& base, const Picture& heat, double alpha = 0.55) {
    if (base.height != heat.height || base.width != heat.width) detail::fail("overlay: pictures of different sizes");
    Picture p = base;
    for (std::size_t i = 0; i < p.rgb.size(); ++i)
        p.rgb[i] = detail::to_byte(((1 - alpha) * base.rgb[i] + alpha * heat.rgb[i]) / 255.0);
    return p;
}

// An RGB map [h, w, 3] of values in [0, 1] (pca_rgb) as height x width pixels, each cell a block.
inline Picture rgb_picture(TensorView<const float, 3> map, std::int64_t height, std::int64_t width) {
    const std::int64_t h = map.shape(0), w = map.shape(1);
    if (map.shape(2) != 3 || h < 1 || w < 1) detail::fail("rgb_picture: expected [h, w, 3], got ", detail::dims_str(map.shape()));
    Picture p(height, width);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
            for (std::int64_t k = 0; k < 3; ++k) p.at(y, x)[k] = detail::to_byte(map(y * h / height, x * w / width, k));
    return p;
}

// A filter [C, p, p] (C = 1 or 3; patch_embed_components) as a picture, scaled by its own minimum
// and maximum over all channels (keeping the balance of its colours), each tap a block.
inline Picture filter_picture(TensorView<const float, 3> f, std::int64_t height, std::int64_t width) {
    const std::int64_t C = f.shape(0), h = f.shape(1), w = f.shape(2);
    if ((C != 1 && C != 3) || h < 1 || w < 1) detail::fail("filter_picture: expected [1 or 3, p, p], got ", detail::dims_str(f.shape()));
    double lo = f(0, 0, 0), hi = lo;
    for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) lo = std::min<double>(lo, f(c, y, x)), hi = std::max<double>(hi, f(c, y, x));
    const double range = hi > lo ? hi - lo : 1.0;
    Picture p(height, width);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
            for (std::int64_t k = 0; k < 3; ++k) p.at(y, x)[k] = detail::to_byte((f(C == 1 ? 0 : k, y * h / height, x * w / width) - lo) / range);
    return p;
}

// Pictures of one size in a grid of `columns`, `gap` pixels apart on a white ground.
inline Picture tile(const std::vector<Picture>& cells, std::int64_t columns, std::int64_t gap = 2) {
    if (cells.empty() || columns < 1) detail::fail("tile: nothing to tile");
    const std::int64_t h = cells[0].height, w = cells[0].width, n = static_cast<std::int64_t>(cells.size());
    const std::int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
    Picture p(rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap);
    for (std::int64_t i = 0; i < n; ++i) {
        const Picture& c = cells[static_cast<std::size_t>(i)];
        if (c.height != h || c.width != w) detail::fail("tile: pictures of different sizes");
        const std::int64_t oy = (i / cols) * (h + gap), ox = (i % cols) * (w + gap);
        for (std::int64_t y = 0; y < h; ++y) std::copy_n(c.at(y, 0), w * 3, p.at(oy + y, ox));
    }
    return p;
}

// The whole-number scale that brings the longer side of an h x w map to at least `target` pixels.
inline std::int64_t display_scale(std::int64_t h, std::int64_t w, std::int64_t target = 224) {
    const std::int64_t side = std::max<std::int64_t>(1, std::max(h, w));
    return std::max<std::int64_t>(1, (target + side - 1) / side);
}

}  // namespace fovea

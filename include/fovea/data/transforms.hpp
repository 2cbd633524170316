#pragma once
// timm's eval transform (transforms_imagenet_eval) with the model's pretrained_cfg:
//   Resize(shorter side -> floor(size / crop_pct)) -> CenterCrop(size) -> ToTensor -> Normalize.
// Resizing reproduces Pillow's Image.resize, which torchvision calls on PIL images: separable
// convolution with the filter support widened by the shrink factor (antialiasing), fixed-point
// coefficients with 22 fractional bits, horizontal pass first, rounded to uint8 between passes.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/core/tensor.hpp"
#include "fovea/io/image.hpp"
#include "fovea/data/pretrained_cfg.hpp"

namespace fovea {

enum class Interpolation { Bilinear, Bicubic };

inline Interpolation parse_interpolation(const std::string& s) {
    if (s == "bicubic") return Interpolation::Bicubic;
    if (s == "bilinear") return Interpolation::Bilinear;
    detail::fail("interpolation '", s, "' is not supported (bicubic, bilinear)");
}

namespace detail {

constexpr int kPrecisionBits = 32 - 8 - 2;

inline double pil_filter(Interpolation f, double x) {
    x = std::fabs(x);
    if (f == Interpolation::Bilinear) return x < 1.0 ? 1.0 - x : 0.0;
    constexpr double a = -0.5;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

struct PilCoeffs {
    std::int64_t ksize = 0;
    std::vector<std::int64_t> lo, n;  // first tap and tap count per output pixel
    std::vector<std::int32_t> k;      // fixed-point taps, ksize per output pixel
};

// Taps of output pixels [first, first + count) of a resize from `in` to `out` pixels.
inline PilCoeffs pil_coeffs(std::int64_t in, std::int64_t out, Interpolation f, std::int64_t first, std::int64_t count) {
    const double support0 = f == Interpolation::Bilinear ? 1.0 : 2.0;
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = support0 * filterscale;
    PilCoeffs c;
    c.ksize = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    c.k.assign(static_cast<std::size_t>(count * c.ksize), 0);
    std::vector<double> w(static_cast<std::size_t>(c.ksize));
    for (std::int64_t i = 0; i < count; ++i) {
        const double center = (static_cast<double>(first + i) + 0.5) * scale;
        std::int64_t xmin = static_cast<std::int64_t>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        std::int64_t xmax = static_cast<std::int64_t>(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        double ww = 0.0;
        double* wx = w.data();
        for (std::int64_t x = 0; x < xmax; ++x) {
            wx[x] = pil_filter(f, (static_cast<double>(x + xmin) - center + 0.5) / filterscale);
            ww += wx[x];
        }
        for (std::int64_t x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? wx[x] / ww : wx[x];
            c.k.data()[i * c.ksize + x] = static_cast<std::int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits)
                                                                           : 0.5 + v * (1 << kPrecisionBits));
        }
        c.lo.push_back(xmin);
        c.n.push_back(xmax);
    }
    return c;
}

inline std::uint8_t clip8(std::int32_t v) {
    if (v >= (1 << kPrecisionBits << 8)) return 255;
    if (v <= 0) return 0;
    return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

}  // namespace detail

// The pixels [x0, x0 + w) x [y0, y0 + h) of Image.resize((out_w, out_h), BICUBIC or BILINEAR), as
// Pillow computes them. Only that window is computed: each output pixel has its own taps, so
// the values are those of the whole resize, without its memory.
inline Image resize_like_pil(const Image& in, std::int64_t out_w, std::int64_t out_h, Interpolation f,
                             std::int64_t x0, std::int64_t y0, std::int64_t w, std::int64_t h) {
    if (out_w <= 0 || out_h <= 0) detail::fail("resize: target size ", out_w, "x", out_h, " is empty");
    const std::int64_t C = in.channels;
    Image tmp;  // horizontal pass over the input rows the vertical pass reads
    std::int64_t row0 = y0;
    const auto cv = detail::pil_coeffs(in.height, out_h, f, y0, h);
    if (out_h != in.height && h > 0) row0 = cv.lo.front();
    const std::int64_t rows = out_h == in.height ? h : (cv.lo.back() + cv.n.back()) - row0;
    tmp.width = w;
    tmp.height = rows;
    tmp.channels = C;
    tmp.pixels.assign(static_cast<std::size_t>(w * rows * C), 0);
    if (out_w == in.width) {
        for (std::int64_t y = 0; y < rows; ++y) std::copy(in.row(row0 + y) + x0 * C, in.row(row0 + y) + (x0 + w) * C, tmp.row(y));
    } else {
        const auto ch = detail::pil_coeffs(in.width, out_w, f, x0, w);
        for (std::int64_t y = 0; y < rows; ++y)
            for (std::int64_t x = 0; x < w; ++x)
                for (std::int64_t c = 0; c < C; ++c) {
                    std::int32_t ss = 1 << (detail::kPrecisionBits - 1);
                    const std::int32_t* k = ch.k.data() + x * ch.ksize;
                    for (std::int64_t t = 0; t < ch.n.data()[x]; ++t) ss += in.row(row0 + y)[(ch.lo.data()[x] + t) * C + c] * k[t];
                    tmp.row(y)[x * C + c] = detail::clip8(ss);
                }
    }
    if (out_h == in.height) return tmp;
    Image out;
    out.width = w;
    out.height = h;
    out.channels = C;
    out.pixels.assign(static_cast<std::size_t>(w * h * C), 0);
    for (std::int64_t y = 0; y < h; ++y) {
        const std::int32_t* k = cv.k.data() + y * cv.ksize;
        for (std::int64_t i = 0; i < w * C; ++i) {
            std::int32_t ss = 1 << (detail::kPrecisionBits - 1);
            for (std::int64_t t = 0; t < cv.n.data()[y]; ++t) ss += tmp.row(cv.lo.data()[y] - row0 + t)[i] * k[t];
            out.row(y)[i] = detail::clip8(ss);
        }
    }
    return out;
}

inline Image resize_like_pil(const Image& in, std::int64_t out_w, std::int64_t out_h, Interpolation f) {
    return resize_like_pil(in, out_w, out_h, f, 0, 0, out_w, out_h);
}

// torchvision CenterCrop of Image.resize((out_w, out_h)): zero padding where the crop is larger,
// offsets int(round((size - crop) / 2)) with round half to even. Only the kept pixels are resized.
inline Image resize_center_crop(const Image& in, std::int64_t out_w, std::int64_t out_h, Interpolation f,
                                std::int64_t crop_h, std::int64_t crop_w) {
    const std::int64_t pad_l = crop_w > out_w ? (crop_w - out_w) / 2 : 0;
    const std::int64_t pad_t = crop_h > out_h ? (crop_h - out_h) / 2 : 0;
    const std::int64_t pw = std::max(crop_w, out_w), ph = std::max(crop_h, out_h);
    const auto top = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(ph - crop_h) / 2.0));
    const auto left = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(pw - crop_w) / 2.0));
    // the crop window in resized-image coordinates, and its part inside the image
    const std::int64_t rx0 = left - pad_l, ry0 = top - pad_t;
    const std::int64_t ix0 = std::max<std::int64_t>(rx0, 0), iy0 = std::max<std::int64_t>(ry0, 0);
    const std::int64_t ix1 = std::min(rx0 + crop_w, out_w), iy1 = std::min(ry0 + crop_h, out_h);
    Image out;
    out.width = crop_w;
    out.height = crop_h;
    out.channels = in.channels;
    out.pixels.assign(static_cast<std::size_t>(crop_w * crop_h * in.channels), 0);
    if (ix1 <= ix0 || iy1 <= iy0) return out;
    const Image part = resize_like_pil(in, out_w, out_h, f, ix0, iy0, ix1 - ix0, iy1 - iy0);
    for (std::int64_t y = 0; y < part.height; ++y)
        std::copy(part.row(y), part.row(y) + part.width * part.channels,
                  out.row(iy0 - ry0 + y) + (ix0 - rx0) * in.channels);
    return out;
}

inline Image center_crop(const Image& in, std::int64_t crop_h, std::int64_t crop_w) {
    return resize_center_crop(in, in.width, in.height, Interpolation::Bilinear, crop_h, crop_w);
}

// The uint8 pixels timm's eval transform hands to ToTensor.
inline Image eval_resize_crop(const Image& img, const PretrainedCfg& cfg) {
    const std::int64_t th = cfg.input_size[1], tw = cfg.input_size[2];
    const Interpolation f = parse_interpolation(cfg.interpolation);
    const auto sh = static_cast<std::int64_t>(std::floor(static_cast<double>(th) / cfg.crop_pct));
    const auto sw = static_cast<std::int64_t>(std::floor(static_cast<double>(tw) / cfg.crop_pct));
    const double w = static_cast<double>(img.width), h = static_cast<double>(img.height);
    double rw = 0, rh = 0;  // the resized size, before the crop
    Interpolation rf = f;
    if (cfg.crop_mode == "squash") {
        rw = static_cast<double>(sw), rh = static_cast<double>(sh);
    } else if (cfg.crop_mode != "center" && !cfg.crop_mode.empty()) {
        detail::fail("crop_mode '", cfg.crop_mode, "' is not supported (center, squash)");
    } else if (sh == sw) {  // torchvision Resize(int): shorter side to sh, longer side truncated
        rw = w <= h ? static_cast<double>(sh) : std::floor(static_cast<double>(sh) * w / h);
        rh = w <= h ? std::floor(static_cast<double>(sh) * h / w) : static_cast<double>(sh);
    } else {  // timm ResizeKeepRatio (its default interpolation is bilinear), sizes rounded half to even
        const double ratio = std::min(h / static_cast<double>(sh), w / static_cast<double>(sw));
        rw = std::nearbyint(w / ratio), rh = std::nearbyint(h / ratio);
        rf = Interpolation::Bilinear;
    }
    if (rw > 1e12 || rh > 1e12) detail::fail("image of ", img.width, "x", img.height, " is too elongated to resize");
    return resize_center_crop(img, static_cast<std::int64_t>(rw), static_cast<std::int64_t>(rh), rf, th, tw);
}

// 1 or 3 channels as the model takes them: RGB -> L with PIL's luma weights, L -> RGB replicated.
inline Image convert_channels(const Image& img, std::int64_t channels) {
    if (img.channels == channels) return img;
    if ((channels != 1 && channels != 3) || (img.channels != 1 && img.channels != 3))
        detail::fail("images have 1 or 3 channels; the model takes ", channels);
    Image out;
    out.width = img.width;
    out.height = img.height;
    out.channels = channels;
    const std::int64_t n = img.width * img.height;
    out.pixels.resize(static_cast<std::size_t>(n * channels));
    for (std::int64_t i = 0; i < n; ++i) {
        const std::uint8_t* p = img.pixels.data() + i * img.channels;
        if (channels == 1) out.pixels[static_cast<std::size_t>(i)] = pil_luma(p[0], p[1], p[2]);
        else std::fill_n(out.pixels.data() + 3 * i, 3, p[0]);
    }
    return out;
}

// ToTensor + Normalize, in float32 as torchvision: (v / 255 - mean) / std. Writes (C, H, W).
inline void to_normalized_chw(const Image& img, const PretrainedCfg& cfg, float* out) {
    const std::int64_t C = img.channels, HW = img.width * img.height;
    if (static_cast<std::int64_t>(cfg.mean.size()) != C || static_cast<std::int64_t>(cfg.std.size()) != C)
        detail::fail("pretrained_cfg mean/std have ", cfg.mean.size(), " channels, the image has ", C);
    for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t i = 0; i < HW; ++i)
            out[c * HW + i] = (static_cast<float>(img.pixels.data()[i * C + c]) / 255.0f - cfg.mean.data()[c]) / cfg.std.data()[c];
}

// A file to the model's input: decode, timm's eval resize + crop, normalise -> (C, H, W).
inline Tensor<float, 3> preprocess_image(const Image& img, const PretrainedCfg& cfg) {
    const Image crop = eval_resize_crop(img, cfg);
    Tensor<float, 3> t({crop.channels, crop.height, crop.width});
    to_normalized_chw(crop, cfg, t.data());
    return t;
}

}  // namespace fovea

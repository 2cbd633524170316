#pragma once
// The eval-time data config timm calls pretrained_cfg (input size, interpolation, crop, mean, std).
// Models carry one (read from config.json by models/registry.hpp); the transforms read it.
// Nothing here depends on models/.
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"

namespace fovea {

inline constexpr std::array<float, 3> kImagenetMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImagenetStd{0.229f, 0.224f, 0.225f};
inline constexpr std::array<float, 3> kInceptionMean{0.5f, 0.5f, 0.5f};
inline constexpr std::array<float, 3> kInceptionStd{0.5f, 0.5f, 0.5f};
inline constexpr std::array<float, 3> kOpenaiClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kOpenaiClipStd{0.26862954f, 0.26130258f, 0.27577711f};

struct PretrainedCfg {
    std::array<std::int64_t, 3> input_size{3, 224, 224};  // C, H, W
    std::string interpolation = "bicubic";
    double crop_pct = 0.9;
    std::string crop_mode = "center";
    std::vector<float> mean{kImagenetMean.begin(), kImagenetMean.end()};
    std::vector<float> std{kImagenetStd.begin(), kImagenetStd.end()};
};

namespace detail {

inline constexpr std::int64_t kMaxInputSide = 8192;  // pixels; shape products stay far from overflow

// timm's preset defaults: img x img, crop_pct, ImageNet or Inception mean/std.
inline PretrainedCfg data_cfg(std::int64_t img, double crop_pct, bool inception) {
    PretrainedCfg d;
    d.input_size = {3, img, img};
    d.crop_pct = crop_pct;
    if (inception) {
        d.mean.assign(kInceptionMean.begin(), kInceptionMean.end());
        d.std.assign(kInceptionStd.begin(), kInceptionStd.end());
    }
    return d;
}

// Values that would divide by zero, produce NaN or allocate without bound are errors naming the field.
inline void validate_pretrained_cfg(const PretrainedCfg& d, const std::string& where) {
    for (std::size_t i = 0; i < 3; ++i)
        if (d.input_size[i] <= 0 || d.input_size[i] > (i == 0 ? 4096 : kMaxInputSide))
            fail(where, ": pretrained_cfg input_size ", dims_str(d.input_size), " out of range (channels <= 4096, sides <= ",
                 kMaxInputSide, ")");
    if (!(d.crop_pct > 0.05 && d.crop_pct <= 4)) fail(where, ": pretrained_cfg crop_pct ", d.crop_pct, " out of range (0.05, 4]");
    if (d.interpolation != "bicubic" && d.interpolation != "bilinear")
        fail(where, ": pretrained_cfg interpolation '", d.interpolation, "' is not supported (bicubic, bilinear)");
    if (d.crop_mode != "center" && d.crop_mode != "squash" && !d.crop_mode.empty())
        fail(where, ": pretrained_cfg crop_mode '", d.crop_mode, "' is not supported (center, squash)");
    if (d.mean.empty() || d.mean.size() != d.std.size())
        fail(where, ": pretrained_cfg mean has ", d.mean.size(), " values and std ", d.std.size());
    for (std::size_t c = 0; c < d.std.size(); ++c) {
        if (!std::isfinite(d.mean[c])) fail(where, ": pretrained_cfg mean[", c, "] is not a finite number");
        if (!(std::isfinite(d.std[c]) && d.std[c] > 0)) fail(where, ": pretrained_cfg std[", c, "] must be a positive number, got ", d.std[c]);
    }
}

}  // namespace detail
}  // namespace fovea

#pragma once
// The eval-time data config timm calls pretrained_cfg (input size, interpolation, crop, mean, std),
// read from config.json or transformers' preprocessor_config.json and checked. Models carry one;
// the transforms read it. Nothing here depends on models/.
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fovea/core/error.hpp"

namespace fovea {

inline constexpr std::array<float, 3> kImagenetMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImagenetStd{0.229f, 0.224f, 0.225f};
inline constexpr std::array<float, 3> kInceptionMean{0.5f, 0.5f, 0.5f};
inline constexpr std::array<float, 3> kInceptionStd{0.5f, 0.5f, 0.5f};

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

// Fields of a config.json pretrained_cfg object over the defaults in d, then checked.
inline void apply_pretrained_cfg(PretrainedCfg& d, const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) fail(where, ": 'pretrained_cfg' must be an object");
    try {
        if (j.contains("input_size")) {
            const auto& v = j["input_size"];
            if (!v.is_array() || v.size() != 3) throw std::runtime_error("input_size must be [C, H, W]");
            for (std::size_t i = 0; i < 3; ++i) {
                if (!v[i].is_number_integer()) throw std::runtime_error("input_size must be [C, H, W] integers");
                d.input_size[i] = v[i].get<std::int64_t>();
            }
        }
        if (j.contains("interpolation")) d.interpolation = j["interpolation"].get<std::string>();
        if (j.contains("crop_pct")) d.crop_pct = j["crop_pct"].get<double>();
        if (j.contains("crop_mode")) d.crop_mode = j["crop_mode"].get<std::string>();
        for (const char* key : {"mean", "std"}) {
            if (!j.contains(key)) continue;
            const auto& v = j[key];
            if (!v.is_array() || v.empty() || v.size() > 4096) throw std::runtime_error(std::string(key) + " must be a list of numbers");
            std::vector<float> out;
            for (auto& e : v) {
                if (!e.is_number()) throw std::runtime_error(std::string(key) + " must be a list of numbers");
                out.push_back(e.get<float>());
            }
            (std::string(key) == "mean" ? d.mean : d.std) = out;
        }
    } catch (const nlohmann::json::exception& e) {
        fail(where, ": pretrained_cfg has a field of the wrong type (", e.what(), ")");
    } catch (const std::runtime_error& e) {
        fail(where, ": pretrained_cfg: ", e.what());
    }
    validate_pretrained_cfg(d, where);
}

// transformers' preprocessor_config.json as timm's pretrained_cfg: a plain resize to the model
// size (crop_mode squash), its resample filter, mean and std.
inline nlohmann::json pretrained_cfg_from_processor(const nlohmann::json& p, std::int64_t channels) {
    nlohmann::json c = nlohmann::json::object();
    if (!p.is_object()) return c;
    std::int64_t h = 0, w = 0;
    if (p.contains("size") && p["size"].is_object() && p["size"].contains("height") && p["size"].contains("width") &&
        p["size"]["height"].is_number_integer() && p["size"]["width"].is_number_integer()) {
        h = p["size"]["height"].get<std::int64_t>();
        w = p["size"]["width"].get<std::int64_t>();
    } else if (p.contains("size") && p["size"].is_number_integer()) {
        h = w = p["size"].get<std::int64_t>();
    }
    if (h != 0 || w != 0) c["input_size"] = {channels, h, w};
    if (p.contains("resample") && p["resample"].is_number_integer())
        c["interpolation"] = p["resample"].get<int>() == 3 ? "bicubic" : "bilinear";
    c["crop_pct"] = 1.0;
    c["crop_mode"] = "squash";
    if (p.contains("image_mean")) c["mean"] = p["image_mean"];
    if (p.contains("image_std")) c["std"] = p["image_std"];
    return c;
}

}  // namespace detail
}  // namespace fovea

#pragma once
// What every model family shares: the eval-time data config timm calls pretrained_cfg,
// the stage hook used by tests and tools, and model_args readers for config.json.
#include <array>
#include <cstdint>
#include <functional>
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

// Called after each named stage with a (rows..., C) activation: "patch_embed", "blocks.3", ...
using StageHook = std::function<void(const std::string& name, const float* data, const std::vector<std::int64_t>& shape)>;

namespace detail {

// Reads model_args from a timm config.json into config fields, with types checked.
class ArgReader {
public:
    ArgReader(const nlohmann::json& args, std::string where) : args_(args), where_(std::move(where)) {
        if (!args_.is_object()) fail(where_, ": model_args must be an object");
    }

    template <typename T>
    void read(const char* key, T& out) {
        auto it = args_.find(key);
        if (it == args_.end()) return;
        seen_.push_back(key);
        try {
            if constexpr (std::is_same_v<T, bool>) {
                if (!it->is_boolean()) throw std::runtime_error("expected true or false");
            } else if constexpr (std::is_integral_v<T>) {
                if (!it->is_number_integer()) throw std::runtime_error("expected an integer");
            } else if constexpr (std::is_floating_point_v<T>) {
                if (!it->is_number()) throw std::runtime_error("expected a number");
            }
            out = it->get<T>();
        } catch (const std::exception& e) {
            fail(where_, ": model_args '", key, "': ", e.what(), ", got ", it->dump());
        }
    }

    // An int or a [h, w] pair, as timm's to_2tuple accepts.
    void read_pair(const char* key, std::int64_t& h, std::int64_t& w) {
        auto it = args_.find(key);
        if (it == args_.end()) return;
        seen_.push_back(key);
        if (it->is_number_integer() && it->get<std::int64_t>() > 0) {
            h = w = it->get<std::int64_t>();
        } else if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer() &&
                   (*it)[0].get<std::int64_t>() > 0 && (*it)[1].get<std::int64_t>() > 0) {
            h = (*it)[0].get<std::int64_t>();
            w = (*it)[1].get<std::int64_t>();
        } else {
            fail(where_, ": model_args '", key, "': expected a positive integer or [h, w], got ", it->dump());
        }
    }

    // Keys that change nothing at inference (dropout rates, init schemes).
    void ignore(std::initializer_list<const char*> keys) {
        for (auto k : keys) seen_.push_back(k);
    }

    // Anything left is an option fovea does not implement: refuse rather than run wrong numbers.
    void finish() const {
        for (auto& [k, v] : args_.items())
            if (std::find(seen_.begin(), seen_.end(), k) == seen_.end())
                fail(where_, ": model_args '", k, "' is not supported by fovea");
    }

private:
    const nlohmann::json& args_;
    std::string where_;
    std::vector<std::string> seen_;
};

}  // namespace detail
}  // namespace fovea

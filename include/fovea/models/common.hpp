#pragma once
// What model families share: reading model_args and label names from config.json, checking an
// input, pooling kinds, and the position-embedding resampling timm applies to other input sizes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/layers/layer_norm.hpp"
#include "fovea/models/network.hpp"

namespace fovea {

// timm's global_pool as an enum: class token, mean, max, mean and max averaged, or none ('': a
// prediction per token).
enum class Pool { Token, Avg, Max, AvgMax, None, Map };  // Map: attention pooling (layers/attention_pool.hpp)

inline Pool parse_pool(const std::string& s, const std::string& where) {
    if (s == "token") return Pool::Token;
    if (s == "avg") return Pool::Avg;
    if (s == "max") return Pool::Max;
    if (s == "avgmax") return Pool::AvgMax;
    if (s == "map") return Pool::Map;
    if (s.empty()) return Pool::None;
    detail::fail(where, ": global_pool '", s.substr(0, 100), "' is not supported (token, avg, max, avgmax, map, '')");
}

namespace detail {

// model_args of a timm config.json into config fields, types and ranges checked; keys left unread
// are refused by finish() (an option fovea does not implement must not be ignored).
class ArgReader {
public:
    ArgReader(const nlohmann::json& args, std::string where) : args_(args), where_(std::move(where)) {
        if (!args_.is_object()) fail(where_, ": model_args must be an object");
    }

    bool has(const char* key) const { return args_.contains(key); }

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
                if (!std::isfinite(it->get<double>())) throw std::runtime_error("expected a finite number");
            } else if constexpr (std::is_same_v<T, std::string>) {
                if (!it->is_string()) throw std::runtime_error("expected a string");
            }
            out = it->get<T>();
        } catch (const std::exception& e) {
            fail(where_, ": model_args '", key, "': ", e.what(), ", got ", brief(*it));
        }
    }

    // An integer in [lo, hi] (sizes: shape arithmetic stays far from overflow).
    void read(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
        if (!args_.contains(key)) return;
        read(key, out);
        if (out < lo || out > hi) fail(where_, ": model_args '", key, "' = ", out, " is out of range [", lo, ", ", hi, "]");
    }

    // A list of integers in [lo, hi], at most `count` of them.
    void read(const char* key, std::vector<std::int64_t>& out, std::int64_t lo, std::int64_t hi, std::size_t count) {
        auto it = args_.find(key);
        if (it == args_.end()) return;
        seen_.push_back(key);
        if (!it->is_array() || it->empty() || it->size() > count)
            fail(where_, ": model_args '", key, "': expected a list of 1 to ", count, " integers, got ", brief(*it));
        out.clear();
        for (auto& v : *it) {
            if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
                fail(where_, ": model_args '", key, "': expected integers in [", lo, ", ", hi, "], got ", brief(*it));
            out.push_back(v.get<std::int64_t>());
        }
    }

    // An int or a [h, w] pair, as timm's to_2tuple accepts, each in [1, hi].
    void read_pair(const char* key, std::int64_t& h, std::int64_t& w, std::int64_t hi) {
        auto it = args_.find(key);
        if (it == args_.end()) return;
        seen_.push_back(key);
        auto ok = [hi](const nlohmann::json& v) { return v.is_number_integer() && v.get<std::int64_t>() > 0 && v.get<std::int64_t>() <= hi; };
        if (ok(*it)) {
            h = w = it->get<std::int64_t>();
        } else if (it->is_array() && it->size() == 2 && ok((*it)[0]) && ok((*it)[1])) {
            h = (*it)[0].get<std::int64_t>();
            w = (*it)[1].get<std::int64_t>();
        } else {
            fail(where_, ": model_args '", key, "': expected an integer or [h, w] in [1, ", hi, "], got ", brief(*it));
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
                fail(where_, ": model_args '", k.substr(0, 100), "' is not supported by fovea");
    }

    static std::string brief(const nlohmann::json& v) {
        std::string s = v.dump();  // bounded: parse_json limits depth
        return s.size() > 80 ? s.substr(0, 77) + "..." : s;
    }

private:
    const nlohmann::json& args_;
    std::string where_;
    std::vector<std::string> seen_;
};

// The model_args every ViT-shaped family reads alike (ViT, DeiT, DINOv2, BEiT): image and patch
// size, channels, classes, width, depth, heads, MLP ratio, qkv bias.
template <class Config>
void read_vit_args(ArgReader& r, Config& c, const std::string& where) {
    r.read_pair("img_size", c.img_h, c.img_w, 65536);
    std::int64_t ph = c.patch_size, pw = c.patch_size;
    r.read_pair("patch_size", ph, pw, 4096);
    if (ph != pw) fail(where, ": non-square patch_size is not supported");
    c.patch_size = ph;
    r.read("in_chans", c.in_chans, 1, 4096);
    r.read("num_classes", c.num_classes, 0, 10'000'000);
    r.read("embed_dim", c.embed_dim, 1, 65536);
    r.read("depth", c.depth, 0, 1024);
    r.read("num_heads", c.num_heads, 1, 65536);
    r.read("mlp_ratio", c.mlp_ratio);
    r.read("qkv_bias", c.qkv_bias);
}

// A value of a transformers config.json: `fallback` when absent or null, an error naming the key
// when of another type.
template <class T>
T hf_value(const nlohmann::json& j, const char* key, T fallback, const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    try {
        return j[key].get<T>();
    } catch (const std::exception&) {
        fail(where, ": '", key, "' has the wrong type");
    }
}

// transformers' hidden_act: fovea's MLPs compute exact GELU only.
inline void hf_require_gelu(const nlohmann::json& j, const std::string& where) {
    const auto act = hf_value(j, "hidden_act", std::string("gelu"), where);
    if (act != "gelu") fail(where, ": hidden_act '", act.substr(0, 50), "' is not supported (gelu)");
}

// label_names: a list of strings, or {"index": name} where indices may have gaps.
inline std::vector<std::string> read_label_names(const nlohmann::json& l, const std::string& where, const char* key) {
    const std::string msg = std::string(": '") + key + "' must be a list of strings or an {index: name} object";
    std::vector<std::string> out;
    if (l.is_array()) {
        if (l.size() > 10'000'000) fail(where, ": '", key, "' has more than 10000000 entries");
        for (auto& v : l) {
            if (!v.is_string()) fail(where, msg);
            out.push_back(v.get<std::string>());
        }
    } else if (l.is_object()) {
        for (auto& [k, v] : l.items()) {
            const auto i = parse_integer(k, 0, 10'000'000 - 1);
            if (!i || !v.is_string()) fail(where, msg);
            const auto at = static_cast<std::size_t>(*i);
            if (out.size() <= at) out.resize(at + 1);
            out[at] = v.get<std::string>();
        }
    } else {
        fail(where, msg);
    }
    return out;
}

// An input batch: [N, in_chans, H, W] with H and W positive multiples of `multiple`.
inline void check_input(TensorView<const float, 4> x, std::int64_t in_chans, std::int64_t multiple, std::int64_t h,
                        std::int64_t w) {
    const auto& s = x.shape();
    if (s[0] < 1 || s[1] != in_chans || s[2] < multiple || s[3] < multiple || s[2] % multiple || s[3] % multiple)
        fail("input: expected [N,", in_chans, ",", h, ",", w, "] (N >= 1; any H and W that are multiples of ", multiple,
             "), got ", dims_str(s));
    if (s[2] > 16384 || s[3] > 16384 || s[0] > 65536)
        fail("input: ", dims_str(s), " is larger than fovea accepts (H and W <= 16384, N <= 65536)");
}

// PyTorch's antialiased bicubic (a = -0.5, support widened by the shrink factor, weights
// normalised), align_corners=False: what F.interpolate(..., antialias=True) computes, and timm's
// resample_abs_pos_embed with it for another input size.
struct AaWeights {
    std::vector<std::int64_t> start, count;
    std::vector<float> w;  // count taps per output, padded to max_taps
    std::int64_t max_taps = 0;
};

inline float aa_bicubic_filter(float x) {
    constexpr float a = -0.5f;
    x = std::fabs(x);
    if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    if (x < 2.0f) return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    return 0.0f;
}

inline AaWeights aa_bicubic_weights(std::int64_t in, std::int64_t out) {
    AaWeights r;
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    const float support = scale >= 1.0f ? 2.0f * scale : 2.0f;
    const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    r.max_taps = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    r.w.assign(static_cast<std::size_t>(out * r.max_taps), 0.0f);
    for (std::int64_t i = 0; i < out; ++i) {
        const float center = scale * (static_cast<float>(i) + 0.5f);
        const std::int64_t lo = std::max<std::int64_t>(static_cast<std::int64_t>(center - support + 0.5f), 0);
        const std::int64_t hi = std::min<std::int64_t>(static_cast<std::int64_t>(center + support + 0.5f), in);
        const std::int64_t n = std::min(hi - lo, r.max_taps);
        float total = 0.0f;
        float* wi = r.w.data() + i * r.max_taps;
        for (std::int64_t j = 0; j < n; ++j) {
            wi[j] = aa_bicubic_filter((static_cast<float>(j + lo) - center + 0.5f) * invscale);
            total += wi[j];
        }
        if (total != 0.0f)
            for (std::int64_t j = 0; j < n; ++j) wi[j] /= total;
        r.start.push_back(lo);
        r.count.push_back(n);
    }
    return r;
}

// grid (h0, w0, C) -> (h1, w1, C); width pass first, then height, as PyTorch's separable kernel.
inline std::vector<float> resize_grid_bicubic_aa(const float* src, std::int64_t h0, std::int64_t w0, std::int64_t C,
                                                 std::int64_t h1, std::int64_t w1) {
    std::vector<float> tmp(static_cast<std::size_t>(h0 * w1 * C), 0.0f), dst(static_cast<std::size_t>(h1 * w1 * C), 0.0f);
    const AaWeights ww = aa_bicubic_weights(w0, w1), wh = aa_bicubic_weights(h0, h1);
    for (std::int64_t y = 0; y < h0; ++y)
        for (std::int64_t x = 0; x < w1; ++x)
            for (std::int64_t j = 0; j < ww.count[static_cast<std::size_t>(x)]; ++j) {
                const float wt = ww.w[static_cast<std::size_t>(x * ww.max_taps + j)];
                const float* s = src + (y * w0 + ww.start[static_cast<std::size_t>(x)] + j) * C;
                float* d = tmp.data() + (y * w1 + x) * C;
                for (std::int64_t c = 0; c < C; ++c) d[c] += wt * s[c];
            }
    for (std::int64_t y = 0; y < h1; ++y)
        for (std::int64_t j = 0; j < wh.count[static_cast<std::size_t>(y)]; ++j) {
            const float wt = wh.w[static_cast<std::size_t>(y * wh.max_taps + j)];
            const float* s = tmp.data() + (wh.start[static_cast<std::size_t>(y)] + j) * w1 * C;
            float* d = dst.data() + y * w1 * C;
            for (std::int64_t i = 0; i < w1 * C; ++i) d[i] += wt * s[i];
        }
    return dst;
}

// (B, T, C) tokens -> (B, C, H, W) for the grid part starting at token `skip`.
inline Tensor<float, 4> tokens_to_nchw(const float* x, std::int64_t B, std::int64_t T, std::int64_t C, std::int64_t skip,
                                       std::int64_t H, std::int64_t W) {
    Tensor<float, 4> m({B, C, H, W});
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t p = 0; p < H * W; ++p)
            for (std::int64_t c = 0; c < C; ++c) m.data()[(b * C + c) * H * W + p] = x[(b * T + skip + p) * C + c];
    return m;
}

// (B, T, C) tokens [begin, begin + n) of each image -> (B, n, C)
inline Tensor<float, 3> token_range(const float* x, std::int64_t B, std::int64_t T, std::int64_t C, std::int64_t begin,
                                    std::int64_t n) {
    Tensor<float, 3> t({B, n, C});
    for (std::int64_t b = 0; b < B; ++b) std::copy(x + (b * T + begin) * C, x + (b * T + begin + n) * C, t.data() + b * n * C);
    return t;
}

// tokens (B, T, C) -> (R, C): the class token, the mean / max / their average over the tokens
// after the P prefix tokens, or every token (Pool::None, R = B*T).
inline Tensor<float, 2> pool_tokens(TensorView<const float, 3> x, Pool pool, std::int64_t P) {
    const std::int64_t B = x.shape(0), T = x.shape(1), C = x.shape(2);
    Tensor<float, 2> pooled({pool == Pool::None ? B * T : B, C});
    for (std::int64_t b = 0; b < B; ++b) {
        if (pool == Pool::None) {
            for (std::int64_t t = 0; t < T; ++t)
                for (std::int64_t c = 0; c < C; ++c) pooled(b * T + t, c) = x(b, t, c);
        } else if (pool == Pool::Token) {
            for (std::int64_t c = 0; c < C; ++c) pooled(b, c) = x(b, 0, c);
        } else {
            for (std::int64_t c = 0; c < C; ++c) {
                double sum = 0;
                float mx = -INFINITY;
                for (std::int64_t t = P; t < T; ++t) {
                    sum += x(b, t, c);
                    mx = std::max(mx, x(b, t, c));
                }
                const float avg = static_cast<float>(sum / static_cast<double>(T - P));
                pooled(b, c) = pool == Pool::Avg ? avg : pool == Pool::Max ? mx : 0.5f * (avg + mx);
            }
        }
    }
    return pooled;
}

}  // namespace detail
}  // namespace fovea

namespace fovea {

// timm's forward_intermediates for any network, read off one traced forward pass: the outputs of
// the chosen intermediates (net.intermediate_names(): blocks or stages), net's norm on each where
// asked (intermediate_norm), the prefix tokens apart, the grid as NCHW maps or NLC tokens.
inline Intermediates forward_intermediates(const Network& net, const Context& ctx, TensorView<const float, 4> x,
                                           const IntermediateOptions& o) {
    const std::vector<std::string> names = net.intermediate_names();
    const std::vector<int> take = detail::take_indices(static_cast<int>(names.size()), o);
    Intermediates out;
    Trace trace;
    trace.activation = [&](const Traced& a) {
        const auto it = std::find(names.begin(), names.end(), a.name);
        if (it == names.end()) return;
        const auto index = static_cast<std::size_t>(it - names.begin());
        if (std::find(take.begin(), take.end(), static_cast<int>(index)) == take.end()) return;
        const std::int64_t B = a.tokens.shape(0), T = a.tokens.shape(1), C = a.tokens.shape(2), P = a.prefix;
        const float* t = a.tokens.data();
        Tensor<float, 3> normed;
        if (o.norm) {
            normed = Tensor<float, 3>({B, T, C});
            std::copy_n(t, normed.size(), normed.data());
            net.intermediate_norm(ctx, index, normed.view().reshape<2>({B * T, C}));
            t = normed.data();
        }
        if (P) out.prefix.push_back(detail::token_range(t, B, T, C, 0, P));
        if (o.format == FeatureFormat::NCHW) out.maps.push_back(detail::tokens_to_nchw(t, B, T, C, P, a.grid_h, a.grid_w));
        else out.tokens.push_back(detail::token_range(t, B, T, C, P, T - P));
    };
    Features f = net.forward_features(ctx, x, trace);
    if (!o.intermediates_only) out.features = std::move(f);
    return out;
}

}  // namespace fovea

#pragma once
// fovea::Model: one handle over the model templates, and the registry that builds it
// from a preset name (create_model) or from a timm hub folder / file (load_model).
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fovea/data/imagenet_labels.hpp"
#include "fovea/io/layouts.hpp"
#include "fovea/models/swin_transformer.hpp"
#include "fovea/models/vision_transformer.hpp"

namespace fovea {

namespace detail {

struct Network {
    virtual ~Network() = default;
    virtual Tensor<float, 3> forward_features(TensorView<const float, 4> x, const StageHook& hook) const = 0;
    virtual Tensor<float, 2> forward_head(TensorView<const float, 3> x, bool pre_logits) const = 0;
    virtual std::vector<Tensor<float, 4>> forward_intermediates(TensorView<const float, 4> x) const = 0;
    virtual std::int64_t num_features() const = 0;
    virtual std::int64_t num_classes() const = 0;
    virtual std::int64_t in_chans() const = 0;
};

struct VitNetwork final : Network {
    VisionTransformer m;
    explicit VitNetwork(VisionTransformer v) : m(std::move(v)) {}
    Tensor<float, 3> forward_features(TensorView<const float, 4> x, const StageHook& hook) const override {
        return m.forward_features(x, hook);
    }
    Tensor<float, 2> forward_head(TensorView<const float, 3> x, bool pre_logits) const override {
        return m.forward_head(x, pre_logits);
    }
    std::vector<Tensor<float, 4>> forward_intermediates(TensorView<const float, 4>) const override {
        fail("forward_intermediates: only hierarchical (Swin) models have multi-scale feature maps");
    }
    std::int64_t num_features() const override { return m.config().embed_dim; }
    std::int64_t num_classes() const override { return m.config().num_classes; }
    std::int64_t in_chans() const override { return m.config().in_chans; }
};

struct SwinNetwork final : Network {
    SwinTransformer m;
    explicit SwinNetwork(SwinTransformer s) : m(std::move(s)) {}
    Tensor<float, 3> forward_features(TensorView<const float, 4> x, const StageHook& hook) const override {
        Tensor<float, 4> f = m.forward_features(x, hook);  // (B, H, W, C) -> (B, H*W, C)
        Tensor<float, 3> out({f.shape(0), f.shape(1) * f.shape(2), f.shape(3)});
        std::copy(f.data(), f.data() + f.size(), out.data());
        return out;
    }
    Tensor<float, 2> forward_head(TensorView<const float, 3> x, bool pre_logits) const override {
        TensorView<const float, 4> v(x.data(), {x.shape(0), 1, x.shape(1), x.shape(2)},
                                     {x.stride(0), 0, x.stride(1), x.stride(2)});
        return m.forward_head(v, pre_logits);
    }
    std::vector<Tensor<float, 4>> forward_intermediates(TensorView<const float, 4> x) const override {
        return m.forward_intermediates(x);
    }
    std::int64_t num_features() const override { return m.num_features(); }
    std::int64_t num_classes() const override { return m.config().num_classes; }
    std::int64_t in_chans() const override { return m.config().in_chans; }
};

inline std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> d(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) d[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t prev = d[0];
        d[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cur = d[j];
            d[j] = std::min({d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
            prev = cur;
        }
    }
    return d[b.size()];
}

inline bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
inline bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

inline nlohmann::json parse_json(const std::string& text, const std::string& where) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail(where, ": not valid JSON (", e.what(), ")");
    }
}

inline nlohmann::json read_json_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open file");
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_json(ss.str(), path);
}

// "vit_base_patch16_224.augreg_in21k" -> "vit_base_patch16_224" (timm's pretrained tag)
inline std::string strip_tag(const std::string& arch) { return arch.substr(0, arch.find('.')); }

}  // namespace detail

// The config.json fields fovea uses, from timm's hub layout or from transformers' (model_type
// vit, deit or swin, translated to the matching timm architecture); everything is optional.
struct ModelSpec {
    std::string architecture;
    nlohmann::json model_args = nlohmann::json::object();
    std::optional<std::int64_t> num_classes;
    nlohmann::json pretrained_cfg = nlohmann::json::object();
    std::vector<std::string> label_names;
    // set by transformers configs only
    bool transformers = false;
    std::optional<float> layer_norm_eps;
    std::optional<bool> dist_head;  // unset: a distilled model has head_dist when its file does
    bool hf_swin_padding = false;

    static ModelSpec from_json(const nlohmann::json& j, const std::string& where) {
        if (!j.is_object()) detail::fail(where, ": config must be a JSON object");
        if (j.contains("model_type")) return from_transformers(j, where);
        ModelSpec s;
        auto str = [&](const char* k) -> std::string {
            if (!j.contains(k)) return {};
            if (!j[k].is_string()) detail::fail(where, ": '", k, "' must be a string");
            return j[k].get<std::string>();
        };
        s.architecture = str("architecture");
        if (j.contains("model_args")) {
            if (!j["model_args"].is_object()) detail::fail(where, ": 'model_args' must be an object");
            s.model_args = j["model_args"];
        }
        if (j.contains("num_classes")) {
            if (!j["num_classes"].is_number_integer() || j["num_classes"].get<std::int64_t>() < 0)
                detail::fail(where, ": 'num_classes' must be a non-negative integer");
            s.num_classes = j["num_classes"].get<std::int64_t>();
        }
        if (j.contains("pretrained_cfg")) {
            if (!j["pretrained_cfg"].is_object()) detail::fail(where, ": 'pretrained_cfg' must be an object");
            s.pretrained_cfg = j["pretrained_cfg"];
        }
        if (j.contains("label_names")) {  // a list, or {"index": name} where indices have gaps
            const auto& l = j["label_names"];
            const char* msg = ": 'label_names' must be a list of strings or an {index: name} object";
            if (l.is_array()) {
                for (auto& v : l) {
                    if (!v.is_string()) detail::fail(where, msg);
                    s.label_names.push_back(v.get<std::string>());
                }
            } else if (l.is_object()) {
                for (auto& [k, v] : l.items()) {
                    std::size_t used = 0;
                    long long i = -1;
                    try { i = std::stoll(k, &used); } catch (const std::exception&) {}
                    if (used != k.size() || i < 0 || i > 1000000 || !v.is_string()) detail::fail(where, msg);
                    if (s.label_names.size() <= static_cast<std::size_t>(i)) s.label_names.resize(i + 1);
                    s.label_names[i] = v.get<std::string>();
                }
            } else {
                detail::fail(where, msg);
            }
        }
        return s;
    }

    static ModelSpec from_transformers(const nlohmann::json& j, const std::string& where) {
        ModelSpec s;
        s.transformers = true;
        const std::string type = j["model_type"].is_string() ? j["model_type"].get<std::string>() : "";
        auto get = [&](const char* key, auto fallback) {
            using T = decltype(fallback);
            if (!j.contains(key) || j[key].is_null()) return fallback;
            try {
                return j[key].get<T>();
            } catch (const std::exception&) {
                detail::fail(where, ": '", key, "' has the wrong type");
            }
        };
        if (get("hidden_act", std::string("gelu")) != "gelu")
            detail::fail(where, ": hidden_act '", get("hidden_act", std::string()), "' is not supported (gelu)");
        auto& a = s.model_args;
        a["img_size"] = get("image_size", std::int64_t{224});
        a["patch_size"] = get("patch_size", std::int64_t{16});
        a["in_chans"] = get("num_channels", std::int64_t{3});
        a["qkv_bias"] = get("qkv_bias", true);
        if (type == "vit" || type == "deit") {
            const auto hidden = get("hidden_size", std::int64_t{768});
            a["embed_dim"] = hidden;
            a["depth"] = get("num_hidden_layers", std::int64_t{12});
            a["num_heads"] = get("num_attention_heads", std::int64_t{12});
            if (hidden <= 0) detail::fail(where, ": hidden_size must be positive");
            a["mlp_ratio"] = static_cast<double>(get("intermediate_size", 4 * hidden)) / static_cast<double>(hidden);
            s.layer_norm_eps = get("layer_norm_eps", 1e-12f);
            if (type == "vit") {
                s.architecture = "vit_base_patch16_224";
            } else {  // DeiT embeddings always carry the distillation token
                s.architecture = "deit_base_distilled_patch16_224";  // head_dist or not: read off the weights
            }
        } else if (type == "swin") {
            s.architecture = "swin_tiny_patch4_window7_224";
            a["patch_size"] = get("patch_size", std::int64_t{4});
            a["embed_dim"] = get("embed_dim", std::int64_t{96});
            a["depths"] = get("depths", std::vector<std::int64_t>{2, 2, 6, 2});
            a["num_heads"] = get("num_heads", std::vector<std::int64_t>{3, 6, 12, 24});
            a["window_size"] = get("window_size", std::int64_t{7});
            a["mlp_ratio"] = get("mlp_ratio", 4.0);
            s.layer_norm_eps = get("layer_norm_eps", 1e-5f);
            s.hf_swin_padding = true;
            if (get("use_absolute_embeddings", false))
                detail::fail(where, ": Swin with use_absolute_embeddings is not supported");
        } else {
            detail::fail(where, ": transformers model_type '", type, "' is not supported (vit, deit, swin)");
        }
        if (j.contains("id2label")) {  // {"0": "tench", ...}
            if (!j["id2label"].is_object()) detail::fail(where, ": 'id2label' must be an object");
            s.label_names = from_json(nlohmann::json{{"label_names", j["id2label"]}}, where).label_names;
        }
        return s;
    }
};

namespace detail {
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
    if (h > 0 && w > 0) c["input_size"] = {channels, h, w};
    if (p.contains("resample") && p["resample"].is_number_integer())
        c["interpolation"] = p["resample"].get<int>() == 3 ? "bicubic" : "bilinear";
    c["crop_pct"] = 1.0;
    c["crop_mode"] = "squash";
    if (p.contains("image_mean")) c["mean"] = p["image_mean"];
    if (p.contains("image_std")) c["std"] = p["image_std"];
    return c;
}
}  // namespace detail

class Model {
public:
    // x (N, C, H, W), already normalised -> logits (N, num_classes)
    Tensor<float, 2> forward(TensorView<const float, 4> x) const { return net_->forward_head(net_->forward_features(x, {}), false); }
    // (N, T, C): ViT tokens including prefix tokens, Swin's final map flattened to H*W tokens
    Tensor<float, 3> forward_features(TensorView<const float, 4> x, const StageHook& hook = {}) const {
        return net_->forward_features(x, hook);
    }
    Tensor<float, 2> forward_head(TensorView<const float, 3> features, bool pre_logits = false) const {
        return net_->forward_head(features, pre_logits);
    }
    // Swin: the four stage outputs as NCHW maps at strides 4, 8, 16, 32 (timm's forward_intermediates)
    std::vector<Tensor<float, 4>> forward_intermediates(TensorView<const float, 4> x) const {
        return net_->forward_intermediates(x);
    }

    const std::string& architecture() const { return arch_; }
    std::int64_t num_classes() const { return net_->num_classes(); }
    std::int64_t num_features() const { return net_->num_features(); }
    std::int64_t in_chans() const { return net_->in_chans(); }
    const PretrainedCfg& pretrained_cfg() const { return data_; }
    // config.json's label_names, ImageNet-1k names for 1000 classes, or empty
    const std::vector<std::string>& label_names() const { return labels_; }

    // The model template underneath, or nullptr: as<VisionTransformer>(), as<SwinTransformer>().
    template <typename M>
    const M* as() const {
        if constexpr (std::is_same_v<M, VisionTransformer>) {
            auto* n = dynamic_cast<const detail::VitNetwork*>(net_.get());
            return n ? &n->m : nullptr;
        } else {
            auto* n = dynamic_cast<const detail::SwinNetwork*>(net_.get());
            return n ? &n->m : nullptr;
        }
    }

private:
    friend Model build_model(const ModelSpec&, std::shared_ptr<const SafeTensorsFile>);
    std::shared_ptr<const detail::Network> net_;
    std::string arch_;
    PretrainedCfg data_;
    std::vector<std::string> labels_;
};

inline std::vector<std::string> model_names() {
    std::vector<std::string> n;
    for (auto& p : vit_presets()) n.push_back(p.name);
    for (auto& p : swin_presets()) n.push_back(p.name);
    return n;
}

namespace detail {
[[noreturn]] inline void unknown_model(const std::string& name);
}  // namespace detail

// A preset's eval data config (input size, interpolation, crop, mean, std), as timm's default_cfg.
inline const PretrainedCfg& pretrained_cfg(const std::string& name) {
    const std::string base = name.substr(0, name.find('.'));
    for (auto& p : vit_presets())
        if (p.name == base) return p.data;
    for (auto& p : swin_presets())
        if (p.name == base) return p.data;
    detail::unknown_model(base);
}

namespace detail {

[[noreturn]] inline void unknown_model(const std::string& name) {
    auto names = model_names();
    std::stable_sort(names.begin(), names.end(), [&](auto& a, auto& b) {
        return edit_distance(name, a) < edit_distance(name, b);
    });
    std::string close;
    for (std::size_t i = 0; i < 3 && i < names.size(); ++i) close += (i ? ", " : "") + names[i];
    fail("unknown model '", name, "'; closest known: ", close);
}

inline void apply_pretrained_cfg(PretrainedCfg& d, const nlohmann::json& j, const std::string& where) {
    try {
        if (j.contains("input_size")) {
            auto v = j["input_size"].get<std::vector<std::int64_t>>();
            if (v.size() != 3 || v[0] <= 0 || v[1] <= 0 || v[2] <= 0) throw std::runtime_error("input_size must be [C, H, W]");
            d.input_size = {v[0], v[1], v[2]};
        }
        if (j.contains("interpolation")) d.interpolation = j["interpolation"].get<std::string>();
        if (j.contains("crop_pct")) d.crop_pct = j["crop_pct"].get<double>();
        if (j.contains("crop_mode")) d.crop_mode = j["crop_mode"].get<std::string>();
        if (j.contains("mean")) d.mean = j["mean"].get<std::vector<float>>();
        if (j.contains("std")) d.std = j["std"].get<std::vector<float>>();
    } catch (const nlohmann::json::exception& e) {
        fail(where, ": pretrained_cfg has a field of the wrong type (", e.what(), ")");
    } catch (const std::runtime_error& e) {
        fail(where, ": pretrained_cfg: ", e.what());
    }
    if (d.crop_pct <= 0 || d.crop_pct > 4) fail(where, ": pretrained_cfg crop_pct out of range");
    if (d.mean.size() != d.std.size() || d.mean.empty()) fail(where, ": pretrained_cfg mean/std lengths differ");
}

}  // namespace detail

inline Model build_model(const ModelSpec& spec, std::shared_ptr<const SafeTensorsFile> file) {
    const std::string base = detail::strip_tag(spec.architecture);
    const std::string& where = file->path();
    Model m;
    m.arch_ = base;
    m.labels_ = spec.label_names;
    auto default_labels = [&m] {  // ImageNet-1k names for 1000-class models without their own
        if (m.labels_.empty() && m.num_classes() == 1000) m.labels_.assign(kImagenet1kLabels.begin(), kImagenet1kLabels.end());
    };
    // Without an explicit num_classes, the checkpoint's head says how many classes it has.
    auto classes_from_file = [&](std::int64_t preset) -> std::int64_t {
        if (spec.num_classes) return *spec.num_classes;
        if (spec.model_args.contains("num_classes")) return preset;
        const TensorInfo* h = file->find("head.weight");
        if (!h) h = file->find("head.fc.weight");
        if (!h) return 0;
        return h->shape.empty() ? preset : h->shape[0];
    };
    for (auto& p : vit_presets()) {
        if (p.name != base) continue;
        VitConfig cfg = p.cfg;
        cfg.num_classes = classes_from_file(cfg.num_classes);
        cfg.apply(spec.model_args, where);
        if (spec.layer_norm_eps) cfg.eps = *spec.layer_norm_eps;
        // a distilled model without head_dist uses its class token alone (DeiTForImageClassification)
        if (cfg.distilled) cfg.dist_head = spec.dist_head.value_or(file->find("head_dist.weight") != nullptr);
        m.data_ = p.data;
        m.data_.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
        detail::apply_pretrained_cfg(m.data_, spec.pretrained_cfg, where);
        m.net_ = std::make_shared<detail::VitNetwork>(VisionTransformer::load(cfg, file));
        default_labels();
        return m;
    }
    for (auto& p : swin_presets()) {
        if (p.name != base) continue;
        SwinConfig cfg = p.cfg;
        cfg.num_classes = classes_from_file(cfg.num_classes);
        cfg.apply(spec.model_args, where);
        if (spec.layer_norm_eps) cfg.eps = *spec.layer_norm_eps;
        cfg.hf_padding = spec.hf_swin_padding;
        m.data_ = p.data;
        m.data_.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
        detail::apply_pretrained_cfg(m.data_, spec.pretrained_cfg, where);
        m.net_ = std::make_shared<detail::SwinNetwork>(SwinTransformer::load(cfg, file));
        default_labels();
        return m;
    }
    detail::unknown_model(base);
}

namespace detail {
struct WeightPaths {
    std::string weights, config;  // config empty when none
};
inline WeightPaths resolve_weights(const std::string& path) {
    if (is_dir(path)) {
        const std::string w = path + "/model.safetensors", c = path + "/config.json";
        if (!is_file(w)) fail(path, ": no model.safetensors in this folder");
        return {w, is_file(c) ? c : std::string()};
    }
    if (!is_file(path)) fail(path, ": no such file or folder");
    const auto slash = path.find_last_of('/');
    const std::string c = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/config.json";
    return {path, is_file(c) ? c : std::string()};
}
}  // namespace detail

// The architecture comes from config.json beside the weights, or from the safetensors
// __metadata__ ("architecture", optional "model_args" and "num_classes" as JSON strings).
inline Model load_model(const std::string& path) {
    const auto paths = detail::resolve_weights(path);
    auto file = to_timm_names(SafeTensorsFile::open(paths.weights));
    ModelSpec spec;
    if (!paths.config.empty()) {
        spec = ModelSpec::from_json(detail::read_json_file(paths.config), paths.config);
        const std::string proc = paths.config.substr(0, paths.config.size() - 11) + "preprocessor_config.json";
        if (spec.transformers) {
            const auto channels = spec.model_args.value("in_chans", std::int64_t{3});
            if (detail::is_file(proc))
                spec.pretrained_cfg = detail::pretrained_cfg_from_processor(detail::read_json_file(proc), channels);
        }
    } else {
        const auto& md = file->metadata();
        if (md.count("architecture")) spec.architecture = md.at("architecture");
        try {
            if (md.count("model_args")) spec.model_args = nlohmann::json::parse(md.at("model_args"));
            if (md.count("num_classes")) spec.num_classes = std::stoll(md.at("num_classes"));
        } catch (const std::exception&) {
            detail::fail(paths.weights, ": __metadata__ model_args / num_classes are not valid JSON");
        }
        if (!spec.model_args.is_object()) detail::fail(paths.weights, ": __metadata__ model_args must be a JSON object");
    }
    if (spec.architecture.empty())
        detail::fail(path, ": cannot tell the architecture (no config.json with 'architecture', no __metadata__ "
                           "'architecture'); name a preset with create_model / --model");
    return build_model(spec, file);
}

// An explicit preset. config.json beside the weights still supplies num_classes, model_args,
// pretrained_cfg and label_names when it describes the same architecture.
inline Model create_model(const std::string& name, const std::string& weights) {
    const auto paths = detail::resolve_weights(weights);
    bool known = false;
    for (auto& n : model_names()) known = known || n == detail::strip_tag(name);
    if (!known) detail::unknown_model(detail::strip_tag(name));
    auto file = to_timm_names(SafeTensorsFile::open(paths.weights));
    ModelSpec spec;
    if (!paths.config.empty()) {
        ModelSpec c = ModelSpec::from_json(detail::read_json_file(paths.config), paths.config);
        if (c.architecture.empty() || detail::strip_tag(c.architecture) == detail::strip_tag(name)) spec = c;
    }
    spec.architecture = name;
    return build_model(spec, file);
}

}  // namespace fovea

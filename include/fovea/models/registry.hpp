#pragma once
// The family table (as timm's _registry.py). Each family header defines its presets, how it reads
// a transformers config.json, the other checkpoint layouts it renames to timm's names, and how it
// builds a network, as one Family (vit_family()); models/model-inl.hpp lists the built-in ones, and
// the registry adds them when it is first used. models/model.hpp looks names up here; nothing else
// knows the families. The types are public: a program registers a family of its own with one line
// (tests/test_registry.cpp does).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fovea/data/pretrained_cfg.hpp"
#include "fovea/io/layouts.hpp"
#include "fovea/models/common.hpp"
#include "fovea/models/weight_binder.hpp"
#include "fovea/models/network.hpp"
#include "fovea/models/options.hpp"

namespace fovea {

// config.json as fovea reads it, from timm's hub layout or translated from transformers'.
struct ModelSpec {
    std::string architecture;                                      // a preset name, maybe with a .tag
    nlohmann::json model_args = nlohmann::json::object();          // timm kwargs over the preset's
    std::optional<std::int64_t> num_classes;
    nlohmann::json pretrained_cfg = nlohmann::json::object();
    std::vector<std::string> label_names;
    // Set by a family's transformers reader: what timm has no kwarg for, read by that family's build.
    struct Transformers {
        std::optional<float> layer_norm_eps;  // config.json's layer_norm_eps
        bool swin_pad_then_roll = false;      // transformers' SwinLayer pads the map before rolling it
    } hf;
    bool transformers = false;

    // config.json's contents (timm's hub layout, or a transformers config a family reads)
    static ModelSpec from_json(const nlohmann::json& config, const std::string& where);
};

// A preset: timm's register_model entry as data.
struct Preset {
    std::string name;
    nlohmann::json args;  // the kwargs timm's entry passes (patch_size, embed_dim, depth, ...)
    PretrainedCfg data;   // its default pretrained_cfg
};

// The registration API: a family of one's own is a Family (presets, checkpoint layouts, a builder
// of its Network), as the built-in ones are, registered at static initialisation by
//   inline const fovea::Registration my_registration{my_family()};
// after which load_model / create_model know its presets like timm's.
struct BuildArgs {
    const Preset& preset;
    const ModelSpec& spec;
    std::shared_ptr<const SafeTensorsFile> file;  // under timm's names
    const LoadOptions& options;
    WeightBinder::Options bind;                   // for the family's WeightBinder: precision, NaN / Inf report
};

struct Built {
    std::shared_ptr<const Network> network;
    PretrainedCfg data;  // the preset's, with the model's input size and config.json's fields
};

struct Family {
    std::string name;                 // "vit", "swin", "beit", "dinov2"
    std::vector<Preset> presets;
    std::vector<detail::CheckpointLayout> layouts;  // other names its checkpoints come under (io/layouts.hpp)
    // Whether a timm-named checkpoint is of this family (to name a mismatch with a preset).
    std::function<bool(const SafeTensorsFile&)> recognizes;
    // A transformers config.json (it has "model_type"): spec filled and true when it is this family's.
    std::function<bool(const nlohmann::json& config, const std::string& where, ModelSpec& spec)> from_transformers;
    std::function<Built(const BuildArgs&)> build;
};

class Registry;
namespace detail {
// Adds fovea's own families to r, in a fixed order (defined in models/model-inl.hpp).
void add_builtin_families(Registry& r);
}  // namespace detail

class Registry {
public:
    // The built-in families are added as the registry is made, before any other: a family that a
    // program registers at static initialisation may look up their presets, whichever order the
    // linker runs the initialisers in (fovea::compiled's come from the library, after the program's).
    static Registry& instance() {
        static Registry r{Builtins{}};
        return r;
    }
    void add(Family f) {
        std::lock_guard<std::mutex> lk(m_);
        for (auto& p : f.presets)
            for (auto& g : families_)
                for (auto& q : g->presets)
                    if (q.name == p.name) detail::fail("preset '", p.name, "' registered twice");
        families_.push_back(std::make_shared<const Family>(std::move(f)));
    }
    std::vector<std::shared_ptr<const Family>> families() const {
        std::lock_guard<std::mutex> lk(m_);
        return families_;
    }

private:
    struct Builtins {};
    explicit Registry(Builtins) { detail::add_builtin_families(*this); }
    mutable std::mutex m_;
    std::vector<std::shared_ptr<const Family>> families_;
};

struct Registration {
    explicit Registration(Family f) { Registry::instance().add(std::move(f)); }
};

namespace detail {

// The number of classes a family builds: the caller's LoadOptions (0: no head), config.json,
// model_args, or else the checkpoint's head (`head_key`).
inline std::int64_t classes_for(const BuildArgs& a, std::int64_t configured, const char* head_key) {
    const TensorInfo* h = a.file->find(head_key);
    const std::int64_t in_file = h && !h->shape.empty() ? h->shape[0] : 0;
    if (a.options.num_classes) {
        const std::int64_t n = *a.options.num_classes;
        if (n < 0) fail("LoadOptions::num_classes must be >= 0, got ", n);
        if (n > 0 && n != in_file)
            fail(a.file->path(), ": num_classes ", n, " asked for, but the checkpoint's head has ", in_file,
                 in_file ? " classes" : " (it has no head)", "; fovea loads heads, it does not make new ones");
        return n;
    }
    if (a.spec.num_classes) return *a.spec.num_classes;
    if (a.spec.model_args.contains("num_classes") || a.preset.args.contains("num_classes")) return configured;
    return in_file;
}

inline std::string strip_tag(const std::string& arch) { return arch.substr(0, arch.find('.')); }

// The family and preset of a name ("vit_base_patch16_224.augreg_in21k" -> vit_base_patch16_224).
inline std::pair<std::shared_ptr<const Family>, const Preset*> find_preset(const std::string& name) {
    const std::string base = strip_tag(name);
    for (auto& f : Registry::instance().families())
        for (auto& p : f->presets)
            if (p.name == base) return {f, &p};
    return {nullptr, nullptr};
}

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

}  // namespace detail

namespace detail {

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
// size (crop_mode squash), its resample filter, mean and std; or, for a processor that resizes the
// shortest edge and center-crops (CLIPImageProcessor), timm's resize-and-crop with the crop_pct
// that gives the same shortest edge.
inline nlohmann::json pretrained_cfg_from_processor(const nlohmann::json& p, std::int64_t channels) {
    nlohmann::json c = nlohmann::json::object();
    if (!p.is_object()) return c;
    auto positive_int = [](const nlohmann::json& o, const char* k) {
        return o.is_object() && o.contains(k) && o[k].is_number_integer() && o[k].get<std::int64_t>() > 0 &&
               o[k].get<std::int64_t>() <= 65536;
    };
    const bool crops = p.value("do_center_crop", false) == true && p.contains("size") && positive_int(p["size"], "shortest_edge") &&
                       p.contains("crop_size") && positive_int(p["crop_size"], "height") && positive_int(p["crop_size"], "width");
    if (crops) {
        const std::int64_t edge = p["size"]["shortest_edge"], ch = p["crop_size"]["height"], cw = p["crop_size"]["width"];
        double pct = static_cast<double>(std::min(ch, cw)) / static_cast<double>(edge);
        // timm resizes the shortest edge to floor(crop / crop_pct): make that exactly `edge`
        while (std::floor(static_cast<double>(std::min(ch, cw)) / pct) < static_cast<double>(edge)) pct = std::nextafter(pct, 0.0);
        c["input_size"] = {channels, ch, cw};
        c["crop_pct"] = pct;
        c["crop_mode"] = "center";
        if (p.contains("resample") && p["resample"].is_number_integer())
            c["interpolation"] = p["resample"].get<int>() == 3 ? "bicubic" : "bilinear";
        if (p.contains("image_mean")) c["mean"] = p["image_mean"];
        if (p.contains("image_std")) c["std"] = p["image_std"];
        return c;
    }
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

[[noreturn]] inline void unknown_model(const std::string& name) {
    std::vector<std::string> names;
    for (auto& f : Registry::instance().families())
        for (auto& p : f->presets) names.push_back(p.name);
    const std::string base = strip_tag(name).substr(0, 200);
    std::stable_sort(names.begin(), names.end(), [&](auto& a, auto& b) { return edit_distance(base, a) < edit_distance(base, b); });
    std::string close;
    for (std::size_t i = 0; i < 3 && i < names.size(); ++i) close += (i ? ", " : "") + names[i];
    fail("unknown model '", base, "'; closest known: ", close);
}

// config.json -> ModelSpec. transformers configs (they have model_type) go to the family that reads them.
inline ModelSpec model_spec_from_json(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) fail(where, ": config must be a JSON object");
    ModelSpec s;
    if (j.contains("model_type")) {
        s.transformers = true;
        for (auto& f : Registry::instance().families())
            if (f->from_transformers && f->from_transformers(j, where, s)) return s;
        const std::string type = j["model_type"].is_string() ? j["model_type"].get<std::string>() : j["model_type"].dump();
        std::string known;
        for (auto& f : Registry::instance().families()) known += (known.empty() ? "" : ", ") + f->name;
        fail(where, ": transformers model_type '", type.substr(0, 100), "' is not supported (families: ", known, ")");
    }
    auto str = [&](const char* k) -> std::string {
        if (!j.contains(k)) return {};
        if (!j[k].is_string()) fail(where, ": '", k, "' must be a string");
        return j[k].get<std::string>();
    };
    s.architecture = str("architecture");
    if (j.contains("model_args")) {
        if (!j["model_args"].is_object()) fail(where, ": 'model_args' must be an object");
        s.model_args = j["model_args"];
    }
    if (j.contains("num_classes")) {
        if (!j["num_classes"].is_number_integer() || j["num_classes"].get<std::int64_t>() < 0 ||
            j["num_classes"].get<std::int64_t>() > 10'000'000)
            fail(where, ": 'num_classes' must be an integer in [0, 10000000]");
        s.num_classes = j["num_classes"].get<std::int64_t>();
    }
    if (j.contains("pretrained_cfg")) {
        if (!j["pretrained_cfg"].is_object()) fail(where, ": 'pretrained_cfg' must be an object");
        s.pretrained_cfg = j["pretrained_cfg"];
    }
    if (j.contains("label_names")) s.label_names = read_label_names(j["label_names"], where, "label_names");
    return s;
}

}  // namespace detail

inline ModelSpec ModelSpec::from_json(const nlohmann::json& config, const std::string& where) {
    return detail::model_spec_from_json(config, where);
}

}  // namespace fovea

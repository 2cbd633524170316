// Definitions of models/model.hpp: the Model's forward passes and the loaders. Included at the end
// of model.hpp (header-only), or once by the fovea::compiled library (FOVEA_COMPILED). Brings in
// the built-in families (add_builtin_families), so load_model knows them whatever the program includes.
#pragma once
#include <sys/stat.h>

#include <algorithm>

#include "fovea/core/context.hpp"
#include "fovea/data/imagenet_labels.hpp"
#include "fovea/io/json.hpp"
#include "fovea/models/beit.hpp"
#include "fovea/models/clip.hpp"
#include "fovea/models/dinov2.hpp"
#include "fovea/models/eva.hpp"
#include "fovea/models/model.hpp"
#include "fovea/models/registry.hpp"
#include "fovea/models/siglip.hpp"
#include "fovea/models/swin_transformer.hpp"
#include "fovea/models/swin_transformer_v2.hpp"
#include "fovea/models/vision_transformer.hpp"

#ifdef FOVEA_COMPILED
#define FOVEA_INLINE_
#else
#define FOVEA_INLINE_ inline
#endif

namespace fovea {

namespace detail {
// The built-in families, in the order their presets and checkpoint layouts are searched.
FOVEA_INLINE_ void add_builtin_families(Registry& r) {
    for (Family (*family)() : {vit_family, beit_family, clip_family, dinov2_family, eva_family, siglip_family, swin_family, swinv2_family})
        r.add(family());
}

// This model's forward passes: the pool (shared with other callers), at most LoadOptions::threads parts.
inline Context model_context(int threads) {
    Context c = Context::top();
    if (threads > 0 && threads < c.threads) c.threads = threads;
    return c;
}
}  // namespace detail

FOVEA_INLINE_ Tensor<float, 2> Model::forward(TensorView<const float, 4> x) const {
    return detail::api_boundary("forward", [&] {
        const Context ctx = detail::model_context(threads_);
        return net_->forward_head(ctx, net_->forward_features(ctx, x, {}), false);
    });
}

FOVEA_INLINE_ Features Model::forward_features(TensorView<const float, 4> x, const Trace& trace) const {
    return detail::api_boundary("forward_features", [&] { return net_->forward_features(detail::model_context(threads_), x, trace); });
}

FOVEA_INLINE_ Tensor<float, 2> Model::forward_head(const Features& features, bool pre_logits) const {
    return detail::api_boundary("forward_head", [&] { return net_->forward_head(detail::model_context(threads_), features, pre_logits); });
}

FOVEA_INLINE_ Intermediates Model::forward_intermediates(TensorView<const float, 4> x, const IntermediateOptions& options) const {
    return detail::api_boundary("forward_intermediates",
                                [&] { return fovea::forward_intermediates(*net_, detail::model_context(threads_), x, options); });
}

FOVEA_INLINE_ std::vector<std::string> model_names() {
    std::vector<std::string> n;
    for (auto& f : Registry::instance().families())
        for (auto& p : f->presets) n.push_back(p.name);
    std::sort(n.begin(), n.end());
    return n;
}

namespace detail {

inline std::vector<const CheckpointLayout*> registered_layouts() {
    static const std::vector<std::shared_ptr<const Family>> families = Registry::instance().families();  // kept alive
    std::vector<const CheckpointLayout*> out;
    for (auto& f : families)
        for (auto& l : f->layouts) out.push_back(&l);
    return out;
}

inline bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
inline bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

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

// config.json (and transformers' preprocessor_config.json beside it) -> ModelSpec
inline ModelSpec read_model_spec(const std::string& config) {
    ModelSpec spec = model_spec_from_json(read_json_file(config), config);
    if (spec.transformers) {
        const std::string proc = config.substr(0, config.size() - 11) + "preprocessor_config.json";
        const auto channels = spec.model_args.value("in_chans", std::int64_t{3});
        if (is_file(proc)) spec.pretrained_cfg = pretrained_cfg_from_processor(read_json_file(proc), channels);
    }
    return spec;
}

// The safetensors __metadata__ keys architecture, model_args and num_classes (JSON strings).
inline ModelSpec spec_from_metadata(const SafeTensorsFile& file) {
    ModelSpec spec;
    const auto& md = file.metadata();
    if (md.count("architecture")) spec.architecture = md.at("architecture");
    if (md.count("model_args")) spec.model_args = parse_json(md.at("model_args"), file.path() + ": __metadata__ model_args");
    if (!spec.model_args.is_object()) fail(file.path(), ": __metadata__ model_args must be a JSON object");
    if (md.count("num_classes")) {
        const auto n = parse_json(md.at("num_classes"), file.path() + ": __metadata__ num_classes");
        if (!n.is_number_integer() || n.get<std::int64_t>() < 0 || n.get<std::int64_t>() > 10'000'000)
            fail(file.path(), ": __metadata__ num_classes must be an integer in [0, 10000000]");
        spec.num_classes = n.get<std::int64_t>();
    }
    return spec;
}

}  // namespace detail

FOVEA_INLINE_ Model build_model(const ModelSpec& spec, std::shared_ptr<const SafeTensorsFile> file, const LoadOptions& options) {
    return detail::api_boundary(file ? file->path() : "build_model", [&]() -> Model {
        auto [family, preset] = detail::find_preset(spec.architecture);
        if (!family) detail::unknown_model(spec.architecture);
        if (options.threads < 0) detail::fail("LoadOptions::threads must be >= 0, got ", options.threads);
        std::vector<std::string> non_finite;
        BuildArgs args{*preset, spec, file, options, {options.precision, options.allow_non_finite ? nullptr : &non_finite}};
        Built built = family->build(args);
        Model m(std::move(built.network), preset->name);
        m.data_ = built.data;
        detail::apply_pretrained_cfg(m.data_, spec.pretrained_cfg, file->path());
        m.precision_ = options.precision;
        m.threads_ = options.threads;
        m.labels_ = spec.label_names;
        if (m.labels_.empty() && m.num_classes() == 1000) m.labels_.assign(kImagenet1kLabels.begin(), kImagenet1kLabels.end());
        if (!m.labels_.empty() && m.num_classes() > 0 && static_cast<std::int64_t>(m.labels_.size()) != m.num_classes())
            detail::fail(file->path(), ": ", m.labels_.size(), " label names for ", m.num_classes(), " classes");
        if (!non_finite.empty()) {
            std::string names;
            for (std::size_t i = 0; i < non_finite.size() && i < 3; ++i) names += (i ? ", '" : "'") + non_finite[i] + "'";
            if (non_finite.size() > 3) names += ", ...";
            m.warnings_.push_back(file->path() + ": " + std::to_string(non_finite.size()) + " tensor" +
                                  (non_finite.size() > 1 ? "s hold" : " holds") + " NaN or Inf (" + names +
                                  "): every output will be NaN (LoadOptions::allow_non_finite silences this)");
        }
        return m;
    });
}

FOVEA_INLINE_ std::shared_ptr<const SafeTensorsFile> to_timm_names(std::shared_ptr<const SafeTensorsFile> file) {
    return detail::to_timm_names(std::move(file), detail::registered_layouts());
}

FOVEA_INLINE_ std::string checkpoint_layout(std::shared_ptr<const SafeTensorsFile> file) {
    std::string name;
    detail::to_timm_names(std::move(file), detail::registered_layouts(), &name);
    return name;
}

FOVEA_INLINE_ const PretrainedCfg& pretrained_cfg(const std::string& name) {
    auto [family, preset] = detail::find_preset(name);
    if (!family) detail::unknown_model(name);
    return preset->data;
}

FOVEA_INLINE_ Model load_model(const std::string& path, const LoadOptions& options) {
    return detail::api_boundary(path, [&]() -> Model {
        const auto paths = detail::resolve_weights(path);
        auto file = detail::to_timm_names(SafeTensorsFile::open(paths.weights), detail::registered_layouts());
        const ModelSpec spec = paths.config.empty() ? detail::spec_from_metadata(*file) : detail::read_model_spec(paths.config);
        if (spec.architecture.empty())
            detail::fail(path, ": cannot tell the architecture (no config.json with 'architecture', no __metadata__ "
                               "'architecture'); name a preset with create_model / --model");
        return build_model(spec, file, options);
    });
}

FOVEA_INLINE_ Model create_model(const std::string& name, const std::string& weights, const LoadOptions& options) {
    return detail::api_boundary(weights, [&]() -> Model {
        auto [family, preset] = detail::find_preset(name);
        if (!family) detail::unknown_model(name);
        const auto paths = detail::resolve_weights(weights);
        auto file = detail::to_timm_names(SafeTensorsFile::open(paths.weights), detail::registered_layouts());
        ModelSpec spec;
        if (!paths.config.empty()) {
            spec = detail::read_model_spec(paths.config);
            const std::string described = detail::strip_tag(spec.architecture);
            if (!described.empty() && described != preset->name)
                detail::fail(paths.config, " describes '", described.substr(0, 200), "', not '", preset->name,
                             "': load it with load_model, or name the preset it describes");
        } else if (family->recognizes && !family->recognizes(*file)) {
            std::string other;
            for (auto& f : Registry::instance().families())
                if (f != family && f->recognizes && f->recognizes(*file) && other.empty()) other = f->name;
            detail::fail(paths.weights, ": holds ", other.empty() ? "no " + family->name : "a " + other, " checkpoint, not the ",
                         family->name, " that '", preset->name, "' is");
        }
        spec.architecture = preset->name;
        return build_model(spec, file, options);
    });
}

}  // namespace fovea

#undef FOVEA_INLINE_

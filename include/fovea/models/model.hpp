#pragma once
// fovea::Model: one handle over any registered family's network, and the loaders that find the
// family in the registry (models/registry.hpp):
//   load_model(path[, options])           a timm hub folder or .safetensors file: architecture from
//                                         config.json (timm's or transformers') or the file's metadata
//   create_model(name, weights[, options]) an explicit preset
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "fovea/data/imagenet_labels.hpp"
#include "fovea/io/json.hpp"
#include "fovea/models/registry.hpp"

namespace fovea {

class Model {
public:
    Model() = delete;  // a Model comes from load_model / create_model, never empty

    // x (N, C, H, W), already normalised -> logits (N, num_classes), or the pooled features (N, C)
    // for a model without a head (num_classes 0)
    Tensor<float, 2> forward(TensorView<const float, 4> x) const {
        const Context ctx = context();
        return net_->forward_head(ctx, net_->forward_features(ctx, x, {}), false);
    }
    // (N, T, C) tokens: prefix tokens, then the patch grid (Swin: its final map), with both counts
    Features forward_features(TensorView<const float, 4> x, const ForwardHooks& hooks = {}) const {
        return net_->forward_features(context(), x, hooks);
    }
    // features -> logits, or the pooled features with pre_logits
    Tensor<float, 2> forward_head(const Features& features, bool pre_logits = false) const {
        return net_->forward_head(context(), features, pre_logits);
    }
    // timm's forward_intermediates: chosen blocks (ViT, BEiT) or stages (Swin), NCHW or NLC
    Intermediates forward_intermediates(TensorView<const float, 4> x, const IntermediateOptions& options) const {
        return net_->forward_intermediates(context(), x, options);
    }
    // Every block (stage) as an NCHW map: Swin's four maps at strides 4, 8, 16, 32
    std::vector<Tensor<float, 4>> forward_intermediates(TensorView<const float, 4> x) const {
        return forward_intermediates(x, IntermediateOptions{}).maps;
    }

    const std::string& architecture() const { return arch_; }
    const ModelInfo& info() const { return net_->info(); }
    std::int64_t num_classes() const { return info().num_classes; }
    std::int64_t num_features() const { return info().num_features; }
    std::int64_t in_chans() const { return info().in_chans; }
    std::int64_t prefix_tokens() const { return info().prefix_tokens; }
    // The grid of forward_features' patch tokens for an input of h x w pixels.
    std::array<std::int64_t, 2> feature_grid(std::int64_t h, std::int64_t w) const { return net_->feature_grid(h, w); }
    Precision precision() const { return precision_; }
    const PretrainedCfg& pretrained_cfg() const { return data_; }
    // config.json's label_names, ImageNet-1k names for 1000 classes, or empty
    const std::vector<std::string>& label_names() const { return labels_; }
    // Things the caller should know about the weights (NaN or Inf in them), one line each.
    const std::vector<std::string>& warnings() const { return warnings_; }

    // The model template underneath, or nullptr: as<VisionTransformer>(), as<SwinTransformer>(), as<Beit>().
    template <typename M>
    const M* as() const {
        return dynamic_cast<const M*>(net_.get());
    }

private:
    friend Model build_model(const ModelSpec&, std::shared_ptr<const SafeTensorsFile>, const LoadOptions&);
    Model(std::shared_ptr<const detail::Network> net, std::string arch) : net_(std::move(net)), arch_(std::move(arch)) {}

    Context context() const {
        Context c = Context::top();
        if (threads_ > 0 && threads_ < c.threads) c.threads = threads_;
        return c;
    }

    std::shared_ptr<const detail::Network> net_;
    std::string arch_;
    PretrainedCfg data_;
    std::vector<std::string> labels_;
    std::vector<std::string> warnings_;
    Precision precision_ = Precision::f32;
    int threads_ = 0;
};

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

// A model from a ModelSpec and a checkpoint already under timm's names (load_model and
// create_model end here; fuzzers and tools may start here).
inline Model build_model(const ModelSpec& spec, std::shared_ptr<const SafeTensorsFile> file, const LoadOptions& options = {}) {
    auto [family, preset] = detail::find_preset(spec.architecture);
    if (!family) detail::unknown_model(spec.architecture);
    if (options.threads < 0) detail::fail("LoadOptions::threads must be >= 0, got ", options.threads);
    std::vector<std::string> non_finite;
    detail::BuildArgs args{*preset, spec, file, options, {options.precision, options.allow_non_finite ? nullptr : &non_finite}};
    detail::Built built = family->build(args);
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
}

// A checkpoint under timm's names, whatever registered layout it was written in.
inline std::shared_ptr<const SafeTensorsFile> to_timm_names(std::shared_ptr<const SafeTensorsFile> file) {
    return detail::to_timm_names(std::move(file), detail::registered_layouts());
}

// The layout fovea read a checkpoint as: "timm", or a family's other layout ("hf-vit", "swin-original", ...).
inline std::string checkpoint_layout(std::shared_ptr<const SafeTensorsFile> file) {
    std::string name;
    detail::to_timm_names(std::move(file), detail::registered_layouts(), &name);
    return name;
}

// A preset's eval data config (input size, interpolation, crop, mean, std), as timm's default_cfg.
inline const PretrainedCfg& pretrained_cfg(const std::string& name) {
    auto [family, preset] = detail::find_preset(name);
    if (!family) detail::unknown_model(name);
    return preset->data;
}

// The architecture comes from config.json beside the weights, or from the safetensors
// __metadata__ ("architecture", optional "model_args" and "num_classes" as JSON strings).
inline Model load_model(const std::string& path, const LoadOptions& options = {}) {
    const auto paths = detail::resolve_weights(path);
    auto file = detail::to_timm_names(SafeTensorsFile::open(paths.weights), detail::registered_layouts());
    const ModelSpec spec = paths.config.empty() ? detail::spec_from_metadata(*file) : detail::read_model_spec(paths.config);
    if (spec.architecture.empty())
        detail::fail(path, ": cannot tell the architecture (no config.json with 'architecture', no __metadata__ "
                           "'architecture'); name a preset with create_model / --model");
    return build_model(spec, file, options);
}

// An explicit preset. A config.json beside the weights must describe the same architecture (it
// then supplies num_classes, model_args, pretrained_cfg and label_names); without one, the
// checkpoint must be of the preset's family.
inline Model create_model(const std::string& name, const std::string& weights, const LoadOptions& options = {}) {
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
        for (auto& f : detail::Registry::instance().families())
            if (f != family && f->recognizes && f->recognizes(*file) && other.empty()) other = f->name;
        detail::fail(paths.weights, ": holds ", other.empty() ? "no " + family->name : "a " + other, " checkpoint, not the ",
                     family->name, " that '", preset->name, "' is");
    }
    spec.architecture = preset->name;
    return build_model(spec, file, options);
}

}  // namespace fovea

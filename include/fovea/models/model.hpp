#pragma once
// fovea::Model: one handle over any registered family's network, and the loaders that find the
// family in the registry (models/registry.hpp):
//   load_model(path[, options])            a timm hub folder or .safetensors file: architecture from
//                                          config.json (timm's or transformers') or the file's metadata
//   create_model(name, weights[, options]) an explicit preset
// A public header: declarations only. The definitions are in model-inl.hpp, included at the end
// (header-only) or compiled once into fovea::compiled (FOVEA_COMPILED).
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/data/pretrained_cfg.hpp"
#include "fovea/models/network.hpp"
#include "fovea/models/options.hpp"
#include "fovea/version.hpp"

namespace fovea {

struct ModelSpec;
class SafeTensorsFile;

class Model {
public:
    Model() = delete;  // a Model comes from load_model / create_model, never empty

    // x (N, C, H, W), already normalised -> logits (N, num_classes), or the pooled features (N, C)
    // for a model without a head (num_classes 0)
    Tensor<float, 2> forward(TensorView<const float, 4> x) const;
    // (N, T, C) tokens: prefix tokens, then the patch grid (Swin: its final map), with both counts;
    // `trace` sees every module's output and the attention it asks for (models/network.hpp)
    Features forward_features(TensorView<const float, 4> x, const Trace& trace = {}) const;
    // features -> logits, or the pooled features with pre_logits
    Tensor<float, 2> forward_head(const Features& features, bool pre_logits = false) const;
    // timm's forward_intermediates: chosen blocks (ViT, BEiT) or stages (Swin), NCHW or NLC
    Intermediates forward_intermediates(TensorView<const float, 4> x, const IntermediateOptions& options) const;
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
    // The attention blocks by timm's module names ("blocks.3", "layers.2.blocks.5"), the
    // patch-embedding filters [E, in_chans, p, p] and the absolute position embedding [1, T, C]
    // (empty where the family has none): what pictures of the weights read.
    std::vector<std::string> block_names() const { return net_->block_names(); }
    Tensor<float, 4> patch_embed_filters() const { return net_->patch_embed_filters(); }
    TensorView<const float, 3> absolute_pos_embed() const { return net_->absolute_pos_embed(); }
    Precision precision() const { return precision_; }
    const PretrainedCfg& pretrained_cfg() const { return data_; }
    // config.json's label_names, ImageNet-1k names for 1000 classes, or empty
    const std::vector<std::string>& label_names() const { return labels_; }
    // Things the caller should know about the weights (NaN or Inf in them), one line each.
    const std::vector<std::string>& warnings() const { return warnings_; }

    // The model template underneath, or nullptr: as<VisionTransformer>() (ViT, DeiT, DINOv2, CLIP,
    // SigLIP, BEiT, EVA-02), as<SwinTransformer>() (Swin, Swin V2); include the family's header.
    template <typename M>
    const M* as() const {
        return dynamic_cast<const M*>(net_.get());
    }

private:
    friend Model build_model(const ModelSpec&, std::shared_ptr<const SafeTensorsFile>, const LoadOptions&);
    Model(std::shared_ptr<const Network> net, std::string arch) : net_(std::move(net)), arch_(std::move(arch)) {}

    std::shared_ptr<const Network> net_;
    std::string arch_;
    PretrainedCfg data_;
    std::vector<std::string> labels_;
    std::vector<std::string> warnings_;
    Precision precision_ = Precision::f32;
    int threads_ = 0;
};

// The architecture comes from config.json beside the weights, or from the safetensors
// __metadata__ ("architecture", optional "model_args" and "num_classes" as JSON strings).
Model load_model(const std::string& path, const LoadOptions& options = {});

// An explicit preset. A config.json beside the weights must describe the same architecture (it
// then supplies num_classes, model_args, pretrained_cfg and label_names); without one, the
// checkpoint must be of the preset's family.
Model create_model(const std::string& name, const std::string& weights, const LoadOptions& options = {});

// A model from a ModelSpec and a checkpoint already under timm's names (load_model and
// create_model end here; fuzzers and tools may start here).
Model build_model(const ModelSpec& spec, std::shared_ptr<const SafeTensorsFile> file, const LoadOptions& options = {});

// Every preset name, sorted.
std::vector<std::string> model_names();

// A preset's eval data config (input size, interpolation, crop, mean, std), as timm's default_cfg.
const PretrainedCfg& pretrained_cfg(const std::string& name);

// A checkpoint under timm's names, whatever registered layout it was written in.
std::shared_ptr<const SafeTensorsFile> to_timm_names(std::shared_ptr<const SafeTensorsFile> file);

// The layout fovea read a checkpoint as: "timm", or a family's other layout ("hf-vit", "swin-original", ...).
std::string checkpoint_layout(std::shared_ptr<const SafeTensorsFile> file);

}  // namespace fovea

#ifndef FOVEA_COMPILED
#include "fovea/models/model-inl.hpp"
#endif

#pragma once
// What every model family gives the Model handle: one interface over the forward passes, and the
// types they return. Light: tensors and the standard library only (a public header).
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fovea/core/tensor.hpp"
#include "fovea/version.hpp"

namespace fovea {

struct Context;  // core/context.hpp: what a forward pass runs with

// forward_features' output: [N, T, C] tokens, the prefix tokens (class, distillation, registers)
// first, then the patch grid row by row. Swin's final map is its grid, with no prefix tokens.
struct Features {
    Tensor<float, 3> tokens;
    std::int64_t prefix_tokens = 0;
    std::int64_t grid_h = 0, grid_w = 0;

    std::int64_t batch() const { return tokens.shape(0); }
    std::int64_t channels() const { return tokens.shape(2); }
    // The patch tokens as [N, H, W, C] (a view, no copy).
    TensorView<const float, 4> grid() const {
        const auto& s = tokens.shape();
        return {tokens.data() + prefix_tokens * s[2], {s[0], grid_h, grid_w, s[2]}, {s[1] * s[2], grid_w * s[2], s[2], 1}};
    }
    // The prefix tokens as [N, P, C] (a view).
    TensorView<const float, 3> prefix() const {
        const auto& s = tokens.shape();
        return {tokens.data(), {s[0], prefix_tokens, s[2]}, {s[1] * s[2], s[2], 1}};
    }
};

enum class FeatureFormat { NCHW, NLC };

// timm's forward_intermediates(indices, norm, output_fmt, intermediates_only).
struct IntermediateOptions {
    std::vector<int> indices;  // blocks (ViT) or stages (Swin) to take; negative counts from the end
    int last = 0;              // instead of indices: the last n (timm's integer indices); neither: all
    bool norm = false;         // the final norm on each (Swin: on the last stage only, as timm)
    FeatureFormat format = FeatureFormat::NCHW;
    bool intermediates_only = true;  // false: also run the final norm and return the features
};

struct Intermediates {
    std::vector<Tensor<float, 4>> maps;    // NCHW: [N, C, H, W] each
    std::vector<Tensor<float, 3>> tokens;  // NLC: [N, H*W, C] each, patch tokens only (as timm)
    std::vector<Tensor<float, 3>> prefix;  // [N, P, C] each, where the model has prefix tokens
    Features features;                     // unless intermediates_only
};

// Softmax attention of one block, as timm computes it before dropout (issue: pictures): ViT
// [N, heads, T, T]; Swin [N, heads, windows, w*w, w*w] with the windows' places on the map.
struct AttentionMap {
    std::string block;                 // "blocks.11", "layers.2.blocks.5"
    Tensor<float, 5> probs;            // [N, heads, windows, Q, K]; ViT: windows = 1, Q = K = T
    std::int64_t window_h = 0, window_w = 0, shift_h = 0, shift_w = 0;  // Swin windows (0: global attention)
    std::int64_t map_h = 0, map_w = 0;                                  // the token grid attention ran on
    // Swin: for each window and each of its w*w tokens, the token's place on the map (y * map_w + x),
    // -1 for padding; the same for every image of the batch. Empty for global attention.
    std::vector<std::int64_t> token_pos;
};

// One module's output during a forward pass, at timm's module name: "patch_embed", "pos_embed",
// "blocks.3", "layers.2.downsample", "layers.2.blocks.1", "layers.2" (a Swin stage), "features"
// (after the final norm). The tokens are the prefix tokens, then a grid_h x grid_w grid row by row
// (Swin's maps too); a view into the network's buffers, valid during the call only.
struct Traced {
    const std::string& name;
    TensorView<const float, 3> tokens;  // [N, T, C]
    std::int64_t prefix = 0, grid_h = 0, grid_w = 0;
};

// The one observer of a forward pass: forward_intermediates, inspect() (tokens and attention) and
// the stage-by-stage parity tests all read through it. Empty members cost nothing.
struct Trace {
    std::function<void(const Traced&)> activation;  // every named module's output, in order
    std::function<void(AttentionMap&&)> attention;      // the softmax attention of the blocks chosen by:
    std::function<bool(const std::string& block)> wants_attention;  // empty: every block's
    bool takes_attention(const std::string& block) const { return attention && (!wants_attention || wants_attention(block)); }
    void operator()(const std::string& name, TensorView<const float, 3> tokens, std::int64_t prefix, std::int64_t gh,
                    std::int64_t gw) const {
        if (activation) activation(Traced{name, tokens, prefix, gh, gw});
    }
};

// Facts about a loaded model that callers need to shape inputs and read outputs.
struct ModelInfo {
    std::string family;                  // "vit", "swin", "beit", ...
    std::int64_t num_classes = 0;        // 0: no head (forward gives pooled features)
    std::int64_t num_features = 0;       // channels of the pooled features
    std::int64_t in_chans = 3;
    std::int64_t img_h = 0, img_w = 0;   // the configured input size
    std::int64_t patch_size = 0;         // inputs are multiples of this (ViT) or of patch * 2^(stages-1) (Swin padding aside)
    std::int64_t prefix_tokens = 0;
    std::int64_t depth = 0;              // blocks (ViT) or stages (Swin): the range of intermediate indices
    bool class_token = false;            // token 0 is a class token (pictures: attention from it)
};

// A family's network: what a model family implements (models/vision_transformer.hpp,
// swin_transformer.hpp) and registers a builder for (registry.hpp).
class Network {
public:
    virtual ~Network() = default;
    virtual Features forward_features(const Context& ctx, TensorView<const float, 4> x, const Trace& trace) const = 0;
    virtual Tensor<float, 2> forward_head(const Context& ctx, const Features& features, bool pre_logits) const = 0;
    virtual const ModelInfo& info() const = 0;
    // What forward_intermediates' indices count, by their activations' names: the blocks (ViT
    // family) or the stages (Swin: "layers.0" ...).
    virtual std::vector<std::string> intermediate_names() const { return block_names(); }
    // timm's forward_intermediates(norm=True) on intermediate `index`'s rows [N*T, C], in place.
    virtual void intermediate_norm(const Context& ctx, std::size_t index, TensorView<float, 2> rows) const {
        (void)ctx, (void)index, (void)rows;
    }
    // The grid of forward_features' patch tokens for an input of h x w pixels.
    virtual std::array<std::int64_t, 2> feature_grid(std::int64_t h, std::int64_t w) const {
        return {h / info().patch_size, w / info().patch_size};
    }
    // What pictures of a model read (visualize/), so that they need no family's header: the
    // attention blocks by timm's module names, in order; the patch-embedding filters [E, in_chans,
    // p, p] (a copy); the absolute position embedding [1, prefix + grid, C] at the configured size.
    // Empty where the family has none.
    virtual std::vector<std::string> block_names() const {
        std::vector<std::string> names;
        for (std::int64_t i = 0; i < info().depth; ++i) names.push_back("blocks." + std::to_string(i));
        return names;
    }
    virtual Tensor<float, 4> patch_embed_filters() const { return {}; }
    virtual TensorView<const float, 3> absolute_pos_embed() const { return {}; }
};

namespace detail {

// timm's feature_take_indices: which of `count` blocks / stages to take (sorted, validated).
inline std::vector<int> take_indices(int count, const IntermediateOptions& o) {
    std::vector<int> take;
    if (!o.indices.empty() && o.last) fail("forward_intermediates: give indices or last, not both");
    if (o.indices.empty()) {
        const int n = o.last ? o.last : count;
        if (n < 1 || n > count) fail("forward_intermediates: last ", n, " is out of range (1 to ", count, ")");
        for (int i = count - n; i < count; ++i) take.push_back(i);
        return take;
    }
    for (int i : o.indices) {
        const int a = i < 0 ? count + i : i;
        if (a < 0 || a >= count) fail("forward_intermediates: index ", i, " is out of range for ", count, " blocks");
        take.push_back(a);
    }
    return take;
}

}  // namespace detail
}  // namespace fovea

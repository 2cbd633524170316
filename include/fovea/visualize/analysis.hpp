#pragma once
// What the model sees, as numbers: one forward pass that keeps the attention of chosen blocks and
// the tokens of chosen stages (inspect), attention rollout, one query's attention per head, Swin's
// windowed attention put back on its map, PCA (patch features as RGB, a data set's embeddings in
// 2-D), and the ViT paper's pictures of the weights (figure 7: the patch-embedding filters'
// principal components, the position embeddings' cosine similarity). Everything here is computed
// in double; pictures of the results are in visualize/picture.hpp.
// Declarations; the definitions are in analysis-inl.hpp (header-only) or in fovea::compiled.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/models/model.hpp"

namespace fovea {

struct InspectOptions {
    // Blocks whose softmax attention to keep ("blocks.11", "layers.2.blocks.5"; "*": every block).
    std::vector<std::string> attention;
    // Stages whose output tokens to keep: "patch_embed", "blocks.3", "layers.1.blocks.1",
    // "layers.2.downsample", "features" (after the final norm); "*": every stage.
    std::vector<std::string> tokens;
};

// One forward pass and what was kept of it.
struct Inspection {
    Tensor<float, 2> output;               // forward(x): [N, num_classes], or [N, C] without a head
    Tensor<float, 2> pooled;               // forward_head(pre_logits): the image embeddings [N, C]
    std::vector<AttentionMap> attention;   // in the order the blocks ran
    std::vector<std::pair<std::string, Features>> tokens;  // in the order the stages ran

    const AttentionMap& attention_of(const std::string& block) const {
        for (auto& a : attention)
            if (a.block == block) return a;
        detail::fail("inspect: the attention of '", block, "' was not kept");
    }
    const Features& tokens_of(const std::string& stage) const {
        for (auto& t : tokens)
            if (t.first == stage) return t.second;
        detail::fail("inspect: the tokens of '", stage, "' were not kept");
    }
};

// The names of a model's attention blocks, in the order they run (what InspectOptions::attention takes).
std::vector<std::string> attention_blocks(const Model& model);

// "5", "-1" (counting from the end) or a block's name -> the block's name, checked.
std::string attention_block(const Model& model, const std::string& which);

// Runs the model once on x (N, C, H, W), keeping what `what` names. Asking for nothing costs
// nothing over forward(x); each map kept costs its size (ViT-B: 1.9 MB per block and image).
Inspection inspect(const Model& model, TensorView<const float, 4> x, const InspectOptions& what = {});

// Attention rollout (Abnar and Zuidema 2020) through the blocks of `maps`, which must be every block
// in order: per block A = mean over heads of the attention, plus the identity (the residual), rows
// renormalised; the product A_last ... A_first; its row for the class token (token 0), or for a
// model without one the mean of the patch tokens' rows, over the patch tokens: [N, grid_h, grid_w].
Tensor<float, 3> attention_rollout(const std::vector<AttentionMap>& maps, std::int64_t prefix_tokens,
                                   bool class_token);

// One block's attention from token `query` (0: the class token) to the patch tokens, per head:
// [N, heads, grid_h, grid_w]. With query -1, the mean over the patch tokens' rows.
Tensor<float, 4> token_attention(const AttentionMap& m, std::int64_t prefix_tokens, std::int64_t query = 0);

// Swin: how much attention each token receives within its window, per head, on the block's map:
// the mean over the window's real (not padding) queries of their probability on the token,
// [N, heads, map_h, map_w]. Padding positions are left out; every real token is in one window.
Tensor<float, 4> window_attention_received(const AttentionMap& m);

// Principal components of the rows of a matrix.
struct Pca {
    std::vector<double> mean;                 // [D]
    Tensor<double, 2> components;             // [k, D]: unit vectors, by decreasing variance
    std::vector<double> explained_variance;   // [k]: variance along each (divided by n - 1)
    std::vector<double> explained_ratio;      // [k]: its share of the total variance
    Tensor<double, 2> scores;                 // [n, k]: the rows, centred, projected
};

// PCA of x [n, D] to k <= min(n - 1, D) components, by the SVD of the centred rows. Each component's sign
// is chosen so that its score of largest magnitude is positive (the first such row on a tie), as
// scikit-learn's svd_flip: the same data give the same picture on any machine.
Pca pca(TensorView<const float, 2> x, std::int64_t k);

// Patch features [N, H, W, C] (Features::grid(), a Swin stage's map) -> [N, H, W, 3] in [0, 1]: the
// first three principal components of all N*H*W feature vectors together (one basis for every
// image, so colours compare across them, as in DINOv2's pictures), each scaled by its minimum and
// maximum over them.
Tensor<float, 4> pca_rgb(TensorView<const float, 4> grid);

// ViT paper figure 7 (left): the first k principal components of the model's patch-embedding
// filters (Model::patch_embed_filters: the rows of the [E, in_chans * p * p] convolution weight,
// centred), each as a filter: [k, in_chans, p, p].
Tensor<float, 4> patch_embed_components(const Model& model, std::int64_t k);

// ViT paper figure 7 (centre): the cosine similarity of each patch position's embedding with every
// other's, [grid_h, grid_w, grid_h, grid_w] over the grid the model was trained at.
Tensor<float, 4> position_similarity(const Model& model);

}  // namespace fovea

#ifndef FOVEA_COMPILED
#include "fovea/visualize/analysis-inl.hpp"
#endif

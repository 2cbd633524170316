#pragma once
// From files to predictions, the glue every program writes:
//   fovea::Tensor<float, 4> x = fovea::preprocess(model, {"cat.jpg", "dog.png"});  // [N, C, H, W]
//   for (auto& row : fovea::top_k(model, model.forward(x), 5))
//       for (auto& p : row) std::printf("%5.1f%% %s\n", 100 * p.prob, p.label.c_str());
// preprocess is timm's eval transform with the model's pretrained_cfg (channels, size, crop,
// interpolation, mean, std); top_k is a softmax and the k most likely classes with their labels.
// list_images expands folders as timm's and torchvision's ImageFolder do; embed gives the image
// embedding a search index or zero-shot classifier uses.
// A public header: preprocess, list_images and embed are defined in pipeline-inl.hpp (header-only)
// or compiled into fovea::compiled (FOVEA_COMPILED); top_k is here.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "fovea/core/tensor.hpp"
#include "fovea/io/image.hpp"
#include "fovea/models/model.hpp"
#include "fovea/version.hpp"

namespace fovea {

// Image files -> [N, C, H, W]: decoded with the model's channels, resized, cropped and normalised
// as timm's eval transform. An unreadable file is a fovea::Error naming it.
Tensor<float, 4> preprocess(const Model& model, const std::vector<std::string>& paths);
// Decoded images -> [N, C, H, W] (images of the wrong channel count are converted as PIL does).
Tensor<float, 4> preprocess(const Model& model, const std::vector<Image>& images);
// Encoded files in memory -> [N, C, H, W]; names[i] (optional) names bytes[i] in errors.
Tensor<float, 4> preprocess(const Model& model, const std::vector<std::vector<std::uint8_t>>& bytes,
                            const std::vector<std::string>& names = {});
// preprocess(model, {"cat.jpg", "dog.png"}): a list of paths. Without this overload two string
// literals also fit the other vectors' iterator-pair constructors, and the call is ambiguous.
inline Tensor<float, 4> preprocess(const Model& model, std::initializer_list<std::string> paths) {
    return preprocess(model, std::vector<std::string>(paths));
}

// Paths as given, but each folder replaced by the image files under it (recursively; the types
// fovea decodes: .jpg .jpeg .png .bmp .gif .ppm .pgm .pbm .pnm, any case), sorted. A folder
// without images, or one that cannot be listed, is a fovea::Error.
std::vector<std::string> list_images(const std::vector<std::string>& paths);

// The image embedding of each image of x, [N, D], L2-normalised unless asked not to: the head's
// output for CLIP towers (is_clip_tower), where timm stores CLIP's image projection as the head (not for a head of
// 1000 or 11821 classes: an ImageNet fine-tune's classifier), else the pooled pre-logits features
// (SigLIP, DINOv2, classifiers).
Tensor<float, 2> embed(const Model& model, TensorView<const float, 4> x, bool normalize = true);
// A CLIP image tower (OpenAI's, OpenCLIP's, EVA-CLIP's: a preset named *clip*, or transformers' CLIP):
// its head is the image projection.
bool is_clip_tower(const Model& model);

// Zero-shot classification against class text embeddings [K, D] made elsewhere (OpenCLIP or
// transformers: fovea has no text tower), as their recipes compute it from the image embedding
// (embed) and each L2-normalised text embedding:
//   CLIP   (no logit_bias): logits = logit_scale * cos, probabilities softmax over the K classes
//   SigLIP (logit_bias):    logits = logit_scale * cos + logit_bias, probabilities sigmoid, each alone
// logit_scale is exp() of the model's learned parameter (100 for OpenAI's CLIP).
struct ZeroShotHead {
    float logit_scale = 100.0f;
    std::optional<float> logit_bias;
};
struct ZeroShot {
    Tensor<float, 2> logits, probs;  // [N, K]
};
ZeroShot zero_shot(const Model& model, TensorView<const float, 4> x, TensorView<const float, 2> text_embeddings,
                   const ZeroShotHead& head);
// The head a checkpoint stores beside its towers (logit_scale as a log, and SigLIP's logit_bias):
// OpenCLIP's open_clip_model.safetensors, or a transformers CLIPModel / SiglipModel model.safetensors;
// from that file, or a folder holding one; nullopt when there is none.
std::optional<ZeroShotHead> read_open_clip_head(const std::string& path);
// The zero-shot head of a model: OpenCLIP's file in `weights` if any, else for a CLIP tower the
// scale 100 of OpenAI's; a SigLIP tower (sigmoid with a bias) or another family needs it given.
ZeroShotHead zero_shot_head(const Model& model, const std::string& weights);

struct Prediction {
    std::int64_t index = 0;  // class index
    double prob = 0;         // softmax probability (a zero-shot SigLIP's: its sigmoid)
    float logit = 0;
    std::string label;       // the model's label name, or "class <index>"
};

namespace detail {
// The k largest logits of each row, most likely first, with probs' values (softmax of the row's
// logits where probs is null).
inline std::vector<std::vector<Prediction>> rank_rows(TensorView<const float, 2> logits, const TensorView<const float, 2>* probs,
                                                      std::int64_t k, const std::vector<std::string>& names) {
    const std::int64_t K = logits.shape(1);
    if (K < 1) fail("top_k: logits have no classes");
    k = std::max<std::int64_t>(0, std::min(k, K));
    std::vector<std::vector<Prediction>> out;
    std::vector<std::int64_t> idx(static_cast<std::size_t>(K));
    for (std::int64_t r = 0; r < logits.shape(0); ++r) {
        const auto l = [&](std::int64_t c) { return logits(r, c); };
        float mx = l(0);
        for (std::int64_t c = 1; c < K; ++c) mx = std::max(mx, l(c));
        double sum = 0;
        for (std::int64_t c = 0; c < K; ++c) sum += std::exp(static_cast<double>(l(c) - mx));
        std::iota(idx.begin(), idx.end(), 0);
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](std::int64_t a, std::int64_t b) {
            return l(a) > l(b) || (l(a) == l(b) && a < b);
        });
        std::vector<Prediction> row;
        for (std::int64_t i = 0; i < k; ++i) {
            const std::int64_t c = idx[static_cast<std::size_t>(i)];
            const double p = probs ? (*probs)(r, c) : std::exp(static_cast<double>(l(c) - mx)) / sum;
            row.push_back({c, p, l(c),
                           c < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(c)] : "class " + std::to_string(c)});
        }
        out.push_back(std::move(row));
    }
    return out;
}
}  // namespace detail

// The k most likely classes of each row of logits [N, classes], most likely first.
inline std::vector<std::vector<Prediction>> top_k(const Model& model, TensorView<const float, 2> logits, std::int64_t k,
                                                  const std::vector<std::string>& labels = {}) {
    return detail::rank_rows(logits, nullptr, k, labels.empty() ? model.label_names() : labels);
}

// The k most likely classes of a zero-shot result, with its probabilities (SigLIP's are sigmoids,
// not a softmax); labels name the K text embeddings ("class <index>" past their end).
inline std::vector<std::vector<Prediction>> top_k(const ZeroShot& z, std::int64_t k, const std::vector<std::string>& labels = {}) {
    const TensorView<const float, 2> probs = z.probs.view();
    return detail::rank_rows(z.logits.view(), &probs, k, labels);
}

}  // namespace fovea

#ifndef FOVEA_COMPILED
#include "fovea/pipeline-inl.hpp"
#endif

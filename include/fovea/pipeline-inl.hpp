// Definitions of pipeline.hpp: preprocess. Included at the end of pipeline.hpp (header-only), or
// once by the fovea::compiled library (FOVEA_COMPILED).
#pragma once
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "fovea/core/ops.hpp"
#include "fovea/data/transforms.hpp"
#include "fovea/io/safetensors.hpp"
#include "fovea/pipeline.hpp"

#ifdef FOVEA_COMPILED
#define FOVEA_INLINE_
#else
#define FOVEA_INLINE_ inline
#endif

namespace fovea {

namespace detail {
// One image's timm eval transform written into batch element i.
inline void preprocess_into(const Model& model, const Image& img, Tensor<float, 4>& x, std::int64_t i, const std::string& where) {
    const auto& cfg = model.pretrained_cfg();
    try {
        const Image crop = eval_resize_crop(img.channels == cfg.input_size[0] ? img : convert_channels(img, cfg.input_size[0]), cfg);
        to_normalized_chw(crop, cfg, x.data() + i * x.shape(1) * x.shape(2) * x.shape(3));
    } catch (const Error& e) {
        fail(where, ": ", e.what());
    }
}

inline Tensor<float, 4> batch_for(const Model& model, std::size_t n) {
    const auto& s = model.pretrained_cfg().input_size;
    if (n == 0) fail("preprocess: no images");
    if (n > 65536) fail("preprocess: ", n, " images in one batch (at most 65536; run them in batches)");
    return Tensor<float, 4>({static_cast<std::int64_t>(n), s[0], s[1], s[2]});
}
}  // namespace detail

FOVEA_INLINE_ std::vector<std::string> list_images(const std::vector<std::string>& paths) {
    auto is_image = [](const std::filesystem::path& p) {
        std::string ext = p.extension().string();
        for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".pbm", ".pnm"})
            if (ext == e) return true;
        return false;
    };
    std::vector<std::string> out;
    for (const std::string& a : paths) {
        std::error_code ec;
        if (!std::filesystem::is_directory(a, ec)) {
            out.push_back(a);
            continue;
        }
        std::vector<std::string> found;
        std::filesystem::recursive_directory_iterator it(a, std::filesystem::directory_options::skip_permission_denied, ec), end;
        for (; !ec && it != end; it.increment(ec))
            if (it->is_regular_file(ec) && is_image(it->path())) found.push_back(it->path().string());
        if (ec) detail::fail(a, ": cannot list the folder: ", ec.message());
        if (found.empty()) detail::fail(a, ": no image files in the folder (.jpg .jpeg .png .bmp .gif .ppm .pgm .pbm .pnm)");
        std::sort(found.begin(), found.end());
        out.insert(out.end(), found.begin(), found.end());
    }
    return out;
}

FOVEA_INLINE_ bool is_clip_tower(const Model& model) {
    return model.architecture().find("clip") != std::string::npos || model.info().family == "clip";
}

FOVEA_INLINE_ Tensor<float, 2> embed(const Model& model, TensorView<const float, 4> x, bool normalize) {
    const std::int64_t K = model.num_classes();
    const bool projection = is_clip_tower(model) && K > 0 && K != 1000 && K != 11821;
    Tensor<float, 2> e = model.forward_head(model.forward_features(x), !projection);
    if (normalize) detail::l2_normalize_rows(e.data(), e.shape(0), e.shape(1), e.shape(1));
    return e;
}

FOVEA_INLINE_ ZeroShot zero_shot(const Model& model, TensorView<const float, 4> x, TensorView<const float, 2> text,
                                 const ZeroShotHead& head) {
    if (!(head.logit_scale > 0 && std::isfinite(head.logit_scale)))
        detail::fail("zero_shot: logit_scale must be a positive number (exp of the model's parameter), got ", head.logit_scale);
    if (head.logit_bias && !std::isfinite(*head.logit_bias)) detail::fail("zero_shot: logit_bias is not finite");
    const std::int64_t K = text.shape(0), D = text.shape(1);
    if (K < 1) detail::fail("zero_shot: no text embeddings");
    if (!text.is_contiguous()) detail::fail("zero_shot: text embeddings must be contiguous rows");
    std::vector<double> tn(text.data(), text.data() + K * D);  // text rows, normalised in double
    for (std::int64_t k = 0; k < K; ++k)
        if (!std::all_of(&tn[static_cast<std::size_t>(k * D)], &tn[static_cast<std::size_t>(k * D)] + D, [](double v) { return std::isfinite(v); }))
            detail::fail("zero_shot: text embedding ", k, " holds NaN or Inf");
    detail::l2_normalize_rows(tn.data(), K, D, D);
    const Tensor<float, 2> e = embed(model, x, true);
    if (e.shape(1) != D)
        detail::fail("zero_shot: text embeddings are ", D, " wide, the model's image embedding ", e.shape(1),
                     " (were they made by this model's text tower?)");
    const std::int64_t N = e.shape(0);
    ZeroShot z{Tensor<float, 2>({N, K}), Tensor<float, 2>({N, K})};
    for (std::int64_t n = 0; n < N; ++n) {
        std::vector<double> l(static_cast<std::size_t>(K));
        for (std::int64_t k = 0; k < K; ++k) {
            double dot = 0;
            for (std::int64_t d = 0; d < D; ++d) dot += double(e(n, d)) * tn[static_cast<std::size_t>(k * D + d)];
            l[static_cast<std::size_t>(k)] = head.logit_scale * dot + (head.logit_bias ? *head.logit_bias : 0.0);
            z.logits(n, k) = static_cast<float>(l[static_cast<std::size_t>(k)]);
        }
        if (head.logit_bias) {
            for (std::int64_t k = 0; k < K; ++k) z.probs(n, k) = static_cast<float>(1.0 / (1.0 + std::exp(-l[static_cast<std::size_t>(k)])));
        } else {
            const double mx = *std::max_element(l.begin(), l.end());
            double sum = 0;
            for (double v : l) sum += std::exp(v - mx);
            for (std::int64_t k = 0; k < K; ++k) z.probs(n, k) = static_cast<float>(std::exp(l[static_cast<std::size_t>(k)] - mx) / sum);
        }
    }
    return z;
}

FOVEA_INLINE_ std::optional<ZeroShotHead> read_open_clip_head(const std::string& path) {
    namespace fs = std::filesystem;
    // one file: it must hold logit_scale, unless `optional` (a weights file that may be an image tower alone)
    auto from = [](const std::string& file, bool optional) -> std::optional<ZeroShotHead> {
        const auto f = SafeTensorsFile::open(file);
        auto scalar = [&](const char* name) -> std::optional<float> {
            const TensorInfo* t = f->find(name);
            if (!t) return std::nullopt;
            std::int64_t n = 1;
            for (auto d : t->shape) n *= d;
            if (n != 1) detail::fail(file, ": '", name, "' should hold one number, it holds ", n);
            return f->read(*t)[0];
        };
        const auto scale = scalar("logit_scale");
        if (!scale && optional) return std::nullopt;
        if (!scale) detail::fail(file, ": no 'logit_scale' (an OpenCLIP checkpoint stores it beside the towers)");
        ZeroShotHead h;
        h.logit_scale = static_cast<float>(std::exp(static_cast<double>(*scale)));
        h.logit_bias = scalar("logit_bias");
        return h;
    };
    std::error_code ec;
    if (!fs::is_directory(path, ec)) return fs::is_regular_file(path, ec) ? from(path, false) : std::nullopt;
    const fs::path open_clip = fs::path(path) / "open_clip_model.safetensors", weights = fs::path(path) / "model.safetensors";
    if (fs::is_regular_file(open_clip, ec)) return from(open_clip.string(), false);
    if (fs::is_regular_file(weights, ec)) return from(weights.string(), true);  // transformers' CLIPModel / SiglipModel
    return std::nullopt;
}

FOVEA_INLINE_ ZeroShotHead zero_shot_head(const Model& model, const std::string& weights) {
    if (auto h = read_open_clip_head(weights)) return *h;
    const std::string& family = model.info().family;
    if (is_clip_tower(model)) return {};  // OpenAI's CLIP and most OpenCLIP models end training at the clamp, 100
    if (family == "siglip")
        detail::fail("SigLIP's zero-shot head (logit_scale and logit_bias of its text model) is not in ", weights,
                     ": give them, or put OpenCLIP's open_clip_model.safetensors beside the weights");
    detail::fail("a ", family, " model has no known zero-shot logit scale: give it (exp of the model's logit_scale)");
}

FOVEA_INLINE_ Tensor<float, 4> preprocess(const Model& model, const std::vector<std::string>& paths) {
    Tensor<float, 4> x = detail::batch_for(model, paths.size());
    const int channels = static_cast<int>(model.pretrained_cfg().input_size[0]);
    for (std::size_t i = 0; i < paths.size(); ++i)
        detail::preprocess_into(model, load_image(paths[i], channels == 1 ? 1 : 3), x, static_cast<std::int64_t>(i), paths[i]);
    return x;
}

FOVEA_INLINE_ Tensor<float, 4> preprocess(const Model& model, const std::vector<Image>& images) {
    Tensor<float, 4> x = detail::batch_for(model, images.size());
    for (std::size_t i = 0; i < images.size(); ++i)
        detail::preprocess_into(model, images[i], x, static_cast<std::int64_t>(i), "image " + std::to_string(i));
    return x;
}

FOVEA_INLINE_ Tensor<float, 4> preprocess(const Model& model, const std::vector<std::vector<std::uint8_t>>& bytes,
                                          const std::vector<std::string>& names) {
    Tensor<float, 4> x = detail::batch_for(model, bytes.size());
    const int channels = static_cast<int>(model.pretrained_cfg().input_size[0]);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const std::string where = i < names.size() ? names[i] : "image " + std::to_string(i);
        detail::preprocess_into(model, decode_image(bytes[i].data(), bytes[i].size(), channels == 1 ? 1 : 3, where), x,
                                static_cast<std::int64_t>(i), where);
    }
    return x;
}

}  // namespace fovea

#undef FOVEA_INLINE_

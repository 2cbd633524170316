// Definitions of pipeline.hpp: preprocess. Included at the end of pipeline.hpp (header-only), or
// once by the fovea::compiled library (FOVEA_COMPILED).
#pragma once
#include <algorithm>

#include "fovea/data/transforms.hpp"
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

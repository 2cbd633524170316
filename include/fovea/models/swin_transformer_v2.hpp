#pragma once
// Swin Transformer V2 (Liu et al. 2022) as timm's swin_transformer_v2.py registers it: cosine
// window attention with a per-head logit scale clamped at ln 100, a continuous relative position
// bias from a two-layer MLP over log-spaced offsets (scaled by the pre-training window where a
// model was fine-tuned to a larger one: the 12to16 and 12to24 presets), residual post-norm blocks,
// patch merging that normalises after its reduction, and windows up to 24. Checkpoints as timm
// names them, or as Microsoft released them (downsample at the end of each stage, head.weight).
// The network is SwinTransformer with SwinConfig::v2: this family is its presets and layout.
#include "fovea/models/swin_transformer.hpp"

namespace fovea::detail {

inline Family swinv2_family() {
    using J = nlohmann::json;
    auto p = [](const char* name, std::int64_t img, std::int64_t win, std::int64_t dim, std::vector<std::int64_t> depths,
                std::vector<std::int64_t> heads, std::int64_t classes, std::vector<std::int64_t> pretrained = {}) {
        J a = {{"img_size", img}, {"window_size", win}, {"embed_dim", dim}, {"depths", depths}, {"num_heads", heads},
               {"num_classes", classes}};
        if (!pretrained.empty()) a["pretrained_window_sizes"] = pretrained;
        return Preset{name, a, data_cfg(img, img == 384 ? 1.0 : 0.9, false)};
    };
    const std::vector<std::int64_t> t = {2, 2, 6, 2}, sbl = {2, 2, 18, 2}, ht = {3, 6, 12, 24}, hb = {4, 8, 16, 32},
                                    hl = {6, 12, 24, 48}, ft = {12, 12, 12, 6};
    return {"swinv2",
            {p("swinv2_tiny_window8_256", 256, 8, 96, t, ht, 1000), p("swinv2_tiny_window16_256", 256, 16, 96, t, ht, 1000),
             p("swinv2_small_window8_256", 256, 8, 96, sbl, ht, 1000), p("swinv2_small_window16_256", 256, 16, 96, sbl, ht, 1000),
             p("swinv2_base_window8_256", 256, 8, 128, sbl, hb, 1000), p("swinv2_base_window16_256", 256, 16, 128, sbl, hb, 1000),
             p("swinv2_base_window12_192", 192, 12, 128, sbl, hb, 21841),
             p("swinv2_base_window12to16_192to256", 256, 16, 128, sbl, hb, 1000, ft),
             p("swinv2_base_window12to24_192to384", 384, 24, 128, sbl, hb, 1000, ft),
             p("swinv2_large_window12_192", 192, 12, 192, sbl, hl, 21841),
             p("swinv2_large_window12to16_192to256", 256, 16, 192, sbl, hl, 1000, ft),
             p("swinv2_large_window12to24_192to384", 384, 24, 192, sbl, hl, 1000, ft)},
            // Microsoft's release (timm's checkpoint_filter_fn): downsample at the end of each stage, head.weight,
            // the buffers it stored
            {{"swinv2-original",
              [](const SafeTensorsFile& f) {
                  return f.find("layers.0.blocks.0.attn.cpb_mlp.0.weight") &&
                         (f.find("layers.0.downsample.reduction.weight") || f.find("head.weight"));
              },
              {rename(R"(^layers\.(\d+)\.downsample\.(.*)$)", "+1:layers.$1.downsample.$2"),
               rename(R"(^head\.(weight|bias)$)", "head.fc.$1"),
               rename(R"(.*\.(attn_mask|relative_position_index|relative_coords_table)$)", "")},
              std::nullopt}},
            [](const SafeTensorsFile& f) { return f.find("layers.0.blocks.0.attn.cpb_mlp.0.weight") != nullptr; },
            nullptr,  // transformers' Swinv2 config: not read yet
            [](const BuildArgs& a) {
                SwinConfig cfg;
                cfg.v2 = true;
                cfg.apply(a.preset.args, a.preset.name);
                cfg.apply(a.spec.model_args, a.file->path());
                cfg.num_classes = classes_for(a, cfg.num_classes, "head.fc.weight");
                Built b;
                b.data = a.preset.data;
                b.data.input_size = {cfg.in_chans, cfg.img_h, cfg.img_w};
                b.network = SwinTransformer::load(cfg, a.file, a.bind, "swinv2");
                return b;
            }};
}

}  // namespace fovea::detail

namespace fovea {
inline const Registration swinv2_registration{detail::swinv2_family()};
}  // namespace fovea

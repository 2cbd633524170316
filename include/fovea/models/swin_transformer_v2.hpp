#pragma once
// Swin Transformer V2 (Liu et al. 2022) as timm's swin_transformer_v2.py registers it: cosine
// window attention with a per-head logit scale clamped at ln 100, a continuous relative position
// bias from a two-layer MLP over log-spaced offsets (scaled by the pre-training window where a
// model was fine-tuned to a larger one: the 12to16 and 12to24 presets), residual post-norm blocks,
// patch merging that normalises after its reduction, and windows up to 24. Checkpoints as timm
// names them, as Microsoft released them (downsample at the end of each stage, head.weight), or
// as transformers' Swinv2ForImageClassification (its config.json read below).
// The network is SwinTransformer with SwinConfig::v2: this family is its presets and layout.
#include "fovea/models/swin_transformer.hpp"

namespace fovea::detail {

// transformers' Swinv2ForImageClassification config.json: the Swin reader's fields, and the
// pre-training windows.
inline bool swinv2_from_transformers(const nlohmann::json& j, const std::string& where, ModelSpec& s) {
    if (!hf_swin_spec(j, where, s, "swinv2", "swinv2_tiny_window8_256", 256, 8)) return false;
    const auto pretrained = hf_value(j, "pretrained_window_sizes", std::vector<std::int64_t>{}, where);
    s.model_args["pretrained_window_sizes"] =
        pretrained.empty() ? std::vector<std::int64_t>(s.model_args["depths"].size(), 0) : pretrained;
    return true;
}

// transformers' names: q, k, v apart (k without bias; q and v keep theirs as q_bias, v_bias),
// stage-end downsample, the buffers dropped.
inline CheckpointLayout swinv2_transformers_layout() {
    const std::string b = R"(^swinv2\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.)";
    auto r = [&](const std::string& from, const char* to) { return RenameRule{std::regex(b + from), to}; };
    return {"hf-swinv2", [](const SafeTensorsFile& f) { return f.find("swinv2.embeddings.patch_embeddings.projection.weight") != nullptr; },
            {rename(R"(^swinv2\.embeddings\.patch_embeddings\.projection\.(weight|bias)$)", "patch_embed.proj.$1"),
             rename(R"(^swinv2\.embeddings\.norm\.(weight|bias)$)", "patch_embed.norm.$1"),
             r(R"(layernorm_before\.(weight|bias)$)", "layers.$1.blocks.$2.norm1.$3"),
             r(R"(layernorm_after\.(weight|bias)$)", "layers.$1.blocks.$2.norm2.$3"),
             r(R"(attention\.self\.query\.bias$)", "layers.$1.blocks.$2.attn.q_bias"),
             r(R"(attention\.self\.value\.bias$)", "layers.$1.blocks.$2.attn.v_bias"),
             r(R"(attention\.self\.logit_scale$)", "layers.$1.blocks.$2.attn.logit_scale"),
             r(R"(attention\.self\.continuous_position_bias_mlp\.(0|2)\.(weight|bias)$)", "layers.$1.blocks.$2.attn.cpb_mlp.$3.$4"),
             r(R"(attention\.output\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.attn.proj.$3"),
             r(R"(intermediate\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.fc1.$3"),
             r(R"(output\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.fc2.$3"),
             rename(R"(^swinv2\..*\.(relative_position_index|relative_coords_table)$)", ""),
             rename(R"(^swinv2\.encoder\.layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)$)", "+1:layers.$1.downsample.$2.$3"),
             rename(R"(^swinv2\.layernorm\.(weight|bias)$)", "norm.$1"),
             rename(R"(^classifier\.(weight|bias)$)", "head.fc.$1")},
            QkvFusion{std::regex(R"(^(.*?)\.attention\.self\.(query|key|value)\.(weight)$)"),
                      {rename(R"(^swinv2\.encoder\.layers\.(\d+)\.blocks\.(\d+)$)", "layers.$1.blocks.$2")}},
            nullptr};
}

inline Family swinv2_family() {
    using J = nlohmann::json;
    auto p = [](const char* name, std::int64_t img, std::int64_t win, std::int64_t dim, std::vector<std::int64_t> depths,
                std::vector<std::int64_t> heads, std::vector<std::int64_t> pretrained = {}) {
        // the head's size is read off the checkpoint (1000, or 21841 for the _192 ImageNet-22k weights)
        J a = {{"img_size", img}, {"window_size", win}, {"embed_dim", dim}, {"depths", depths}, {"num_heads", heads}};
        if (!pretrained.empty()) a["pretrained_window_sizes"] = pretrained;
        return Preset{name, a, data_cfg(img, img == 384 ? 1.0 : 0.9, false)};
    };
    const std::vector<std::int64_t> t = {2, 2, 6, 2}, sbl = {2, 2, 18, 2}, ht = {3, 6, 12, 24}, hb = {4, 8, 16, 32},
                                    hl = {6, 12, 24, 48}, ft = {12, 12, 12, 6};
    return {"swinv2",
            {p("swinv2_tiny_window8_256", 256, 8, 96, t, ht), p("swinv2_tiny_window16_256", 256, 16, 96, t, ht),
             p("swinv2_small_window8_256", 256, 8, 96, sbl, ht), p("swinv2_small_window16_256", 256, 16, 96, sbl, ht),
             p("swinv2_base_window8_256", 256, 8, 128, sbl, hb), p("swinv2_base_window16_256", 256, 16, 128, sbl, hb),
             p("swinv2_base_window12_192", 192, 12, 128, sbl, hb),
             p("swinv2_base_window12to16_192to256", 256, 16, 128, sbl, hb, ft),
             p("swinv2_base_window12to24_192to384", 384, 24, 128, sbl, hb, ft),
             p("swinv2_large_window12_192", 192, 12, 192, sbl, hl),
             p("swinv2_large_window12to16_192to256", 256, 16, 192, sbl, hl, ft),
             p("swinv2_large_window12to24_192to384", 384, 24, 192, sbl, hl, ft)},
            // Microsoft's release (timm's checkpoint_filter_fn): downsample at the end of each stage, head.weight,
            // the buffers it stored; and transformers'
            {swinv2_transformers_layout(),
             {"swinv2-original",
              [](const SafeTensorsFile& f) {
                  return f.find("layers.0.blocks.0.attn.cpb_mlp.0.weight") &&
                         (f.find("layers.0.downsample.reduction.weight") || f.find("head.weight"));
              },
              {rename(R"(^layers\.(\d+)\.downsample\.(.*)$)", "+1:layers.$1.downsample.$2"),
               rename(R"(^head\.(weight|bias)$)", "head.fc.$1"),
               rename(R"(.*\.(attn_mask|relative_position_index|relative_coords_table)$)", "")},
              std::nullopt, nullptr}},
            [](const SafeTensorsFile& f) { return f.find("layers.0.blocks.0.attn.cpb_mlp.0.weight") != nullptr; },
            swinv2_from_transformers,
            [](const BuildArgs& a) { return build_swin(a, "swinv2", true); }};
}

}  // namespace fovea::detail

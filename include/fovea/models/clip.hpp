#pragma once
// CLIP image towers as timm registers them (vision_transformer.py's *_clip_* entries): Vision
// Transformers with a LayerNorm before the blocks (norm_pre), LayerNorm eps 1e-5, and for OpenAI's
// and MetaCLIP's weights QuickGELU (the _quickgelu_ presets, as timm runs them). The image
// embedding is the head: timm stores CLIP's projection as head.weight (with a zero head.bias), so
// num_classes is the embedding width (512, 768, ...). Each preset's data config is its default
// tag's (OpenAI's mean and std but where the default tag is a fine-tune that uses 0.5).
// The network is VisionTransformer: this family is its presets, and transformers' CLIPModel /
// CLIPVisionModel(WithProjection) read as its image tower (config and layout below; the text tower
// a CLIPModel checkpoint also holds is left unread, its logit_scale serves zero-shot classification).
#include "fovea/models/vision_transformer.hpp"

namespace fovea::detail {

// transformers' CLIP configs: CLIPModel's (model_type "clip", the image tower under vision_config)
// or an image tower's own ("clip_vision_model"). The head (visual_projection) is read off the weights.
inline bool clip_from_transformers(const nlohmann::json& j, const std::string& where, ModelSpec& s) {
    const auto v = hf_clip_style_spec(j, where, s, "clip", "clip_vision_model", "vit_base_patch16_clip_224", 32, 1e-5f);
    if (!v) return false;
    const auto act = hf_value(*v, "hidden_act", std::string("quick_gelu"), where);
    if (act != "quick_gelu" && act != "gelu") fail(where, ": hidden_act '", act.substr(0, 50), "' is not supported (quick_gelu, gelu)");
    s.model_args["act_layer"] = act;
    return true;
}

// transformers' CLIP names: the encoder as hf_clip_style_rules; the class and position embeddings
// reshaped to timm's [1, 1, C] and [1, T, C]; pre_layrnorm as norm_pre; visual_projection as the
// head, with timm's zero bias.
inline CheckpointLayout clip_transformers_layout() {
    auto rules = hf_clip_style_rules();
    for (auto r : {rename(R"(^vision_model\.embeddings\.patch_embedding\.weight$)", "patch_embed.proj.weight"),
                   rename(R"(^vision_model\.embeddings\.class_embedding$)", ""),
                   rename(R"(^vision_model\.pre_layrnorm\.(weight|bias)$)", "norm_pre.$1"),
                   rename(R"(^visual_projection\.weight$)", "head.weight")})
        rules.push_back(r);
    return {"hf-clip",
            [](const SafeTensorsFile& f) { return f.find("vision_model.embeddings.patch_embedding.weight") && f.find("vision_model.pre_layrnorm.weight"); },
            rules, hf_clip_style_qkv(), [](const SafeTensorsFile& f) {
                std::vector<SafeTensorsFile::Derived> out;
                derive_tensor(f, "vision_model.embeddings.class_embedding", "cls_token", 3, out);
                derive_tensor(f, "vision_model.embeddings.position_embedding.weight", "pos_embed", 3, out);
                if (const TensorInfo* h = f.find("visual_projection.weight"); h && !h->shape.empty())
                    out.push_back({"head.bias", {h->shape[0]}, std::vector<float>(static_cast<std::size_t>(h->shape[0]), 0.0f)});
                return out;
            }};
}

inline Family clip_family() {
    using J = nlohmann::json;
    // name, timm's kwargs beyond pre_norm and eps, default tag's input size, crop_pct, OpenAI mean/std or 0.5
    auto p = [](const char* name, J args, std::int64_t img, double crop_pct, bool openai_mean) {
        args["pre_norm"] = true;
        args["norm_eps"] = 1e-5;  // timm: norm_layer=partial(LayerNorm, eps=1e-5)
        Preset preset = vit_preset(name, std::move(args), img, crop_pct, !openai_mean);
        if (openai_mean) {
            preset.data.mean.assign(kOpenaiClipMean.begin(), kOpenaiClipMean.end());
            preset.data.std.assign(kOpenaiClipStd.begin(), kOpenaiClipStd.end());
        }
        return preset;
    };
    return {"clip",
            {
                p("vit_base_patch16_clip_224", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}}, 224, 0.95, true),
                p("vit_base_patch16_clip_384", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}}, 384, 1.0, true),
                p("vit_base_patch16_clip_quickgelu_224", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"act_layer", "quick_gelu"}, {"num_classes", 512}}, 224, 1.0, true),
                p("vit_base_patch16_plus_clip_240", {{"patch_size", 16}, {"embed_dim", 896}, {"depth", 12}, {"num_heads", 14}, {"num_classes", 640}}, 240, 1.0, true),
                p("vit_base_patch32_clip_224", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}}, 224, 0.9, true),
                p("vit_base_patch32_clip_256", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"num_classes", 512}}, 256, 1.0, true),
                p("vit_base_patch32_clip_384", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}}, 384, 1.0, true),
                p("vit_base_patch32_clip_448", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}}, 448, 1.0, true),
                p("vit_base_patch32_clip_quickgelu_224", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"act_layer", "quick_gelu"}, {"num_classes", 512}}, 224, 0.9, true),
                p("vit_betwixt_patch32_clip_224", {{"patch_size", 32}, {"embed_dim", 640}, {"depth", 12}, {"num_heads", 10}, {"num_classes", 512}}, 224, 0.9, true),
                p("vit_giant_patch14_clip_224", {{"patch_size", 14}, {"embed_dim", 1408}, {"mlp_ratio", 4.363636363636363}, {"depth", 40}, {"num_heads", 16}, {"num_classes", 1024}}, 224, 1.0, true),
                p("vit_gigantic_patch14_clip_224", {{"patch_size", 14}, {"embed_dim", 1664}, {"mlp_ratio", 4.923076923076923}, {"depth", 48}, {"num_heads", 16}, {"num_classes", 1280}}, 224, 1.0, true),
                p("vit_gigantic_patch14_clip_378", {{"patch_size", 14}, {"embed_dim", 1664}, {"mlp_ratio", 4.923076923076923}, {"depth", 48}, {"num_heads", 16}, {"num_classes", 1280}}, 378, 1.0, true),
                p("vit_gigantic_patch14_clip_quickgelu_224", {{"patch_size", 14}, {"embed_dim", 1664}, {"mlp_ratio", 4.923076923076923}, {"depth", 48}, {"num_heads", 16}, {"act_layer", "quick_gelu"}, {"num_classes", 1280}}, 224, 1.0, true),
                p("vit_huge_patch14_clip_224", {{"patch_size", 14}, {"embed_dim", 1280}, {"depth", 32}, {"num_heads", 16}}, 224, 1.0, true),
                p("vit_huge_patch14_clip_336", {{"patch_size", 14}, {"embed_dim", 1280}, {"depth", 32}, {"num_heads", 16}}, 336, 1.0, true),
                p("vit_huge_patch14_clip_378", {{"patch_size", 14}, {"embed_dim", 1280}, {"depth", 32}, {"num_heads", 16}, {"num_classes", 1024}}, 378, 1.0, true),
                p("vit_huge_patch14_clip_quickgelu_224", {{"patch_size", 14}, {"embed_dim", 1280}, {"depth", 32}, {"num_heads", 16}, {"act_layer", "quick_gelu"}, {"num_classes", 1024}}, 224, 1.0, true),
                p("vit_huge_patch14_clip_quickgelu_378", {{"patch_size", 14}, {"embed_dim", 1280}, {"depth", 32}, {"num_heads", 16}, {"act_layer", "quick_gelu"}, {"num_classes", 1024}}, 378, 1.0, true),
                p("vit_large_patch14_clip_224", {{"patch_size", 14}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}}, 224, 1.0, false),
                p("vit_large_patch14_clip_336", {{"patch_size", 14}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}}, 336, 1.0, false),
                p("vit_large_patch14_clip_quickgelu_224", {{"patch_size", 14}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"act_layer", "quick_gelu"}, {"num_classes", 768}}, 224, 1.0, true),
                p("vit_large_patch14_clip_quickgelu_336", {{"patch_size", 14}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"act_layer", "quick_gelu"}, {"num_classes", 768}}, 336, 1.0, true),
                p("vit_medium_patch16_clip_224", {{"embed_dim", 512}, {"depth", 12}, {"num_heads", 8}, {"num_classes", 512}}, 224, 0.9, true),
                p("vit_medium_patch32_clip_224", {{"patch_size", 32}, {"embed_dim", 512}, {"depth", 12}, {"num_heads", 8}, {"num_classes", 512}}, 224, 0.9, true),
                p("vit_xsmall_patch16_clip_224", {{"embed_dim", 256}, {"depth", 10}, {"num_heads", 4}, {"num_classes", 512}}, 224, 0.9, true),
            },
            {clip_transformers_layout()},
            nullptr,  // its checkpoints are ViT checkpoints: the vit family names them
            clip_from_transformers,
            [](const BuildArgs& a) { return build_vit(a, "clip"); }};
}

}  // namespace fovea::detail

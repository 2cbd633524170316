#pragma once
// SigLIP and SigLIP 2 image towers as timm registers them (vision_transformer.py's *_siglip_*
// entries): Vision Transformers without a class token, pooled by attention over the patch tokens
// with a learned latent query (global_pool "map": layers/attention_pool.hpp) or by their mean
// (the _gap_ presets); GELU's tanh form where timm's SigLIP 2 entries ask for it. No head: the
// pooled features are the image embedding (num_classes 0, as every default tag). Data config:
// mean and std 0.5, the default tag's size and crop.
// The network is VisionTransformer: this family is its presets.
#include "fovea/models/vision_transformer.hpp"

namespace fovea::detail {

inline Family siglip_family() {
    using J = nlohmann::json;
    // name, timm's kwargs, default tag's input size and crop_pct
    auto p = [](const char* name, J args, std::int64_t img, double crop_pct) {
        args["num_classes"] = 0;
        return vit_preset(name, std::move(args), img, crop_pct, true);
    };
    return {"siglip",
            {
                p("vit_base_patch16_siglip_224", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "map"}}, 224, 0.9),
                p("vit_base_patch16_siglip_256", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "map"}}, 256, 0.9),
                p("vit_base_patch16_siglip_384", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "map"}}, 384, 0.9),
                p("vit_base_patch16_siglip_512", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "map"}}, 512, 0.9),
                p("vit_base_patch16_siglip_gap_224", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 224, 0.9),
                p("vit_base_patch16_siglip_gap_256", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 256, 0.9),
                p("vit_base_patch16_siglip_gap_384", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 384, 0.9),
                p("vit_base_patch16_siglip_gap_512", {{"patch_size", 16}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 512, 0.9),
                p("vit_base_patch32_siglip_256", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 256, 0.9),
                p("vit_base_patch32_siglip_gap_256", {{"patch_size", 32}, {"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 256, 0.9),
                p("vit_giantopt_patch16_siglip_256", {{"patch_size", 16}, {"embed_dim", 1536}, {"depth", 40}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 256, 0.9),
                p("vit_giantopt_patch16_siglip_384", {{"patch_size", 16}, {"embed_dim", 1536}, {"depth", 40}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 384, 0.9),
                p("vit_giantopt_patch16_siglip_gap_256", {{"patch_size", 16}, {"embed_dim", 1536}, {"depth", 40}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 256, 0.9),
                p("vit_giantopt_patch16_siglip_gap_384", {{"patch_size", 16}, {"embed_dim", 1536}, {"depth", 40}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 384, 0.9),
                p("vit_large_patch16_siglip_256", {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "map"}}, 256, 0.9),
                p("vit_large_patch16_siglip_384", {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "map"}}, 384, 0.9),
                p("vit_large_patch16_siglip_512", {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 512, 0.9),
                p("vit_large_patch16_siglip_gap_256", {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 256, 0.9),
                p("vit_large_patch16_siglip_gap_384", {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 384, 0.9),
                p("vit_large_patch16_siglip_gap_512", {{"patch_size", 16}, {"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 512, 0.9),
                p("vit_so400m_patch14_siglip_224", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "map"}}, 224, 0.9),
                p("vit_so400m_patch14_siglip_378", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "map"}}, 378, 0.9),
                p("vit_so400m_patch14_siglip_384", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "map"}}, 384, 0.9),
                p("vit_so400m_patch14_siglip_gap_224", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 224, 0.9),
                p("vit_so400m_patch14_siglip_gap_378", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 378, 0.9),
                p("vit_so400m_patch14_siglip_gap_384", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 384, 1.0),
                p("vit_so400m_patch14_siglip_gap_448", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 448, 1.0),
                p("vit_so400m_patch14_siglip_gap_896", {{"patch_size", 14}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}}, 896, 1.0),
                p("vit_so400m_patch16_siglip_256", {{"patch_size", 16}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 256, 0.9),
                p("vit_so400m_patch16_siglip_384", {{"patch_size", 16}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 384, 0.9),
                p("vit_so400m_patch16_siglip_512", {{"patch_size", 16}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "map"}, {"act_layer", "gelu_tanh"}}, 512, 0.9),
                p("vit_so400m_patch16_siglip_gap_256", {{"patch_size", 16}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 256, 0.9),
                p("vit_so400m_patch16_siglip_gap_384", {{"patch_size", 16}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 384, 0.9),
                p("vit_so400m_patch16_siglip_gap_512", {{"patch_size", 16}, {"embed_dim", 1152}, {"depth", 27}, {"num_heads", 16}, {"mlp_ratio", 3.7362}, {"class_token", false}, {"global_pool", "avg"}, {"fc_norm", false}, {"act_layer", "gelu_tanh"}}, 512, 0.9),
            },
            {},
            nullptr,  // its checkpoints are ViT checkpoints: the vit family names them
            nullptr,
            [](const BuildArgs& a) { return build_vit(a, "siglip"); }};
}

}  // namespace fovea::detail

namespace fovea {
inline const Registration siglip_registration{detail::siglip_family()};
}  // namespace fovea

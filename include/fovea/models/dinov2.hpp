#pragma once
// DINOv2 (Oquab et al. 2023) as timm registers it: Vision Transformers with patch 14, LayerScale
// and no head (forward gives the class token's features), trained at 518 x 518; any input whose
// sides are multiples of 14 works, pos_embed resampled as timm's dynamic_img_size does. The
// register variants (Darcet et al. 2023) add 4 register tokens; giant uses a packed SwiGLU MLP.
// The network is VisionTransformer: this family is its presets.
#include "fovea/models/vision_transformer.hpp"

namespace fovea::detail {

inline Family dinov2_family() {
    using J = nlohmann::json;
    auto dinov2 = [](const char* name, std::int64_t dim, std::int64_t depth, std::int64_t heads, J extra = J::object()) {
        J a = {{"patch_size", 14}, {"embed_dim", dim}, {"depth", depth}, {"num_heads", heads}, {"init_values", 1e-5},
               {"num_classes", 0}};
        a.update(extra);
        return vit_preset(name, a, 518, 1.0, false);
    };
    const J reg = {{"reg_tokens", 4}, {"no_embed_class", true}};
    const J giant = {{"mlp_ratio", 2.66667 * 2}, {"mlp_layer", "swiglu_packed"}};
    J giant_reg = giant;
    giant_reg.update(reg);
    return {"dinov2",
            {dinov2("vit_small_patch14_dinov2", 384, 12, 6), dinov2("vit_base_patch14_dinov2", 768, 12, 12),
             dinov2("vit_large_patch14_dinov2", 1024, 24, 16), dinov2("vit_giant_patch14_dinov2", 1536, 40, 24, giant),
             dinov2("vit_small_patch14_reg4_dinov2", 384, 12, 6, reg), dinov2("vit_base_patch14_reg4_dinov2", 768, 12, 12, reg),
             dinov2("vit_large_patch14_reg4_dinov2", 1024, 24, 16, reg),
             dinov2("vit_giant_patch14_reg4_dinov2", 1536, 40, 24, giant_reg)},
            {},
            nullptr,  // its checkpoints are ViT checkpoints: the vit family names them
            nullptr,
            [](const BuildArgs& a) { return build_vit(a, "dinov2"); }};
}

}  // namespace fovea::detail

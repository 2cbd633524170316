#pragma once
// SigLIP and SigLIP 2 image towers as timm registers them (vision_transformer.py's *_siglip_*
// entries): Vision Transformers without a class token, pooled by attention over the patch tokens
// with a learned latent query (global_pool "map": layers/attention_pool.hpp) or by their mean
// (the _gap_ presets); GELU's tanh form where timm's SigLIP 2 entries ask for it. No head: the
// pooled features are the image embedding (num_classes 0, as every default tag). Data config:
// mean and std 0.5, the default tag's size and crop.
// The network is VisionTransformer: this family is its presets, and transformers' SiglipModel /
// SiglipVisionModel read as its image tower (config and layout below; a SiglipModel's text tower is
// left unread, its logit_scale and logit_bias serve zero-shot classification).
#include "fovea/models/vision_transformer.hpp"

namespace fovea::detail {

// transformers' SigLIP configs: SiglipModel's (model_type "siglip", vision_config) or the tower's own.
inline bool siglip_from_transformers(const nlohmann::json& j, const std::string& where, ModelSpec& s) {
    const auto v = hf_clip_style_spec(j, where, s, "siglip", "siglip_vision_model", "vit_base_patch16_siglip_224", 16, 1e-6f);
    if (!v) return false;
    const auto act = hf_value(*v, "hidden_act", std::string("gelu_pytorch_tanh"), where);
    if (act != "gelu_pytorch_tanh" && act != "gelu") fail(where, ": hidden_act '", act.substr(0, 50), "' is not supported (gelu_pytorch_tanh, gelu)");
    if (!hf_value(*v, "vision_use_head", true, where)) fail(where, ": a SigLIP tower without its attention-pooling head is not supported");
    s.model_args["act_layer"] = act == "gelu" ? "gelu" : "gelu_tanh";
    return true;
}

// transformers' SigLIP names: the encoder as hf_clip_style_rules; the position table reshaped to
// [1, L, C]; the pooling head's probe as attn_pool.latent, its nn.MultiheadAttention in_proj split
// into attn_pool.q and attn_pool.kv, out_proj, layernorm and mlp under attn_pool.
inline CheckpointLayout siglip_transformers_layout() {
    auto rules = hf_clip_style_rules();
    for (auto r : {rename(R"(^vision_model\.embeddings\.patch_embedding\.(weight|bias)$)", "patch_embed.proj.$1"),
                   rename(R"(^vision_model\.head\.probe$)", "attn_pool.latent"),
                   rename(R"(^vision_model\.head\.attention\.in_proj_(weight|bias)$)", ""),
                   rename(R"(^vision_model\.head\.attention\.out_proj\.(weight|bias)$)", "attn_pool.proj.$1"),
                   rename(R"(^vision_model\.head\.layernorm\.(weight|bias)$)", "attn_pool.norm.$1"),
                   rename(R"(^vision_model\.head\.mlp\.(fc1|fc2)\.(weight|bias)$)", "attn_pool.mlp.$1.$2")})
        rules.push_back(r);
    return {"hf-siglip",
            [](const SafeTensorsFile& f) { return f.find("vision_model.embeddings.patch_embedding.weight") && f.find("vision_model.head.probe"); },
            rules, hf_clip_style_qkv(), [](const SafeTensorsFile& f) {
                std::vector<SafeTensorsFile::Derived> out;
                derive_tensor(f, "vision_model.embeddings.position_embedding.weight", "pos_embed", 3, out);
                const TensorInfo* w = f.find("vision_model.head.attention.in_proj_weight");
                if (!w || w->shape.size() != 2 || w->shape[0] % 3) fail(f.path(), ": the pooling head's in_proj_weight must be [3C, C]");
                const std::int64_t C = w->shape[0] / 3;
                derive_tensor(f, "vision_model.head.attention.in_proj_weight", "attn_pool.q.weight", 2, out, 0, C);
                derive_tensor(f, "vision_model.head.attention.in_proj_weight", "attn_pool.kv.weight", 2, out, C, 2 * C);
                derive_tensor(f, "vision_model.head.attention.in_proj_bias", "attn_pool.q.bias", 1, out, 0, C);
                derive_tensor(f, "vision_model.head.attention.in_proj_bias", "attn_pool.kv.bias", 1, out, C, 2 * C);
                return out;
            }};
}

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
            {siglip_transformers_layout()},
            nullptr,  // its checkpoints are ViT checkpoints: the vit family names them
            siglip_from_transformers,
            [](const BuildArgs& a) { return build_vit(a, "siglip"); }};
}

}  // namespace fovea::detail

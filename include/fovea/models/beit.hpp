#pragma once
// BEiT and BEiT v2 as timm's beit.py: a ViT whose blocks each learn a relative position bias (over
// the class token and the patch grid, so inputs have the configured size), with q and v biases but
// no k bias, LayerScale stored as gamma_1 / gamma_2, no absolute position embedding in the
// presets, and mean pooling through fc_norm.
// The network is VisionTransformer: this family is its presets and the translation of beit.py's
// kwargs (model_args in a config.json) to the trunk's options.
#include <set>

#include "fovea/models/vision_transformer.hpp"

namespace fovea::detail {

// beit.py's Beit(...) kwargs -> VitConfig's keys; the shared relative position bias is refused.
inline nlohmann::json beit_to_vit_args(const nlohmann::json& beit, const std::string& where) {
    using J = nlohmann::json;
    auto flag = [&](const char* key, bool fallback) {
        if (!beit.contains(key) || beit[key].is_null()) return fallback;
        if (!beit[key].is_boolean()) fail(where, ": model_args '", key, "' must be true or false");
        return beit[key].get<bool>();
    };
    if (flag("use_shared_rel_pos_bias", false)) fail(where, ": model_args 'use_shared_rel_pos_bias' is not supported by fovea");
    const std::set<std::string> handled = {"qkv_bias", "use_abs_pos_emb", "use_rel_pos_bias", "use_shared_rel_pos_bias",
                                           "swiglu_mlp", "scale_mlp", "global_pool", "init_values", "head_init_scale"};
    J a = J::object();
    for (auto& [k, v] : beit.items())  // the kwargs beit.py shares with vision_transformer.py pass as they are
        if (!handled.count(k)) a[k] = v;
    a["qkv_bias"] = false;
    a["qv_bias"] = flag("qkv_bias", true);
    a["abs_pos"] = flag("use_abs_pos_emb", true);
    a["rel_pos_bias"] = flag("use_rel_pos_bias", false);
    a["mlp_layer"] = flag("swiglu_mlp", false) ? "swiglu" : "mlp";
    a["mlp_norm"] = flag("scale_mlp", false);
    // timm: 'avg' is the mean of the patch tokens through fc_norm, '' a row per token, anything else x[:, 0]
    const J pool = beit.value("global_pool", J("avg"));
    if (!pool.is_string()) fail(where, ": model_args 'global_pool' must be a string");
    const std::string p = pool.get<std::string>();
    a["global_pool"] = p == "avg" || p.empty() ? p : "token";
    a["fc_norm"] = p == "avg";
    if (beit.contains("init_values")) {
        a["init_values"] = beit["init_values"];
        a["gamma_keys"] = true;
    }
    return a;
}

inline Family beit_family() {
    using J = nlohmann::json;
    // BEiT v1 presets normalise as Inception (0.5, 0.5), v2 as ImageNet
    auto beit = [](const char* name, std::int64_t dim, std::int64_t depth, std::int64_t heads, double init, std::int64_t img,
                   bool inception = true) {
        J a = {{"patch_size", 16}, {"embed_dim", dim}, {"depth", depth}, {"num_heads", heads}, {"mlp_ratio", 4},
               {"use_abs_pos_emb", false}, {"use_rel_pos_bias", true}, {"init_values", init}, {"img_size", img}};
        return Preset{name, a, data_cfg(img, img == 224 ? 0.9 : 1.0, inception)};
    };
    return {"beit",
            {beit("beit_base_patch16_224", 768, 12, 12, 0.1, 224), beit("beit_base_patch16_384", 768, 12, 12, 0.1, 384),
             beit("beit_large_patch16_224", 1024, 24, 16, 1e-5, 224), beit("beit_large_patch16_384", 1024, 24, 16, 1e-5, 384),
             beit("beit_large_patch16_512", 1024, 24, 16, 1e-5, 512), beit("beitv2_base_patch16_224", 768, 12, 12, 1e-5, 224, false),
             beit("beitv2_large_patch16_224", 1024, 24, 16, 1e-5, 224, false)},
            {},
            [](const SafeTensorsFile& f) { return f.find("blocks.0.attn.relative_position_bias_table") || f.find("blocks.0.gamma_1"); },
            nullptr,
            [](const BuildArgs& a) { return build_vit_translated(a, "beit", beit_to_vit_args); }};
}

}  // namespace fovea::detail

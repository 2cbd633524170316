#pragma once
// EVA-02 (Fang et al. 2023) and its EVA-CLIP image towers as timm's eva.py registers them: Vision
// Transformers with patch 14 (16 for EVA-CLIP base), a 2-D
// rotary embedding of q and k (layers/rope.hpp; the grid scaled to the 16 x 16 of pre-training),
// a SwiGLU MLP (packed for tiny and small; base and large keep fc1_g / fc1_x and a LayerNorm inside
// the MLP, timm's scale_mlp), q and v biases with none on k, separate q / k / v projections for base
// and large, mean pooling with fc_norm. The _224 presets are the MIM-pretrained backbones (no head);
// _336 and _448 are the ImageNet-1k fine-tunes. The _clip_ presets are EVA-CLIP's image towers: a
// LayerNorm of the attention's output before its projection (scale_attn_inner), the class token's
// features, and the CLIP projection as the head. OpenAI CLIP's mean and std.
// The network is VisionTransformer: this family is its presets and the translation of eva.py's
// kwargs (model_args in a config.json) to the trunk's options.
#include <set>

#include "fovea/models/vision_transformer.hpp"

namespace fovea::detail {

// eva.py's Eva(...) kwargs -> VitConfig's keys. What eva.py can do and fovea does not (post-norm
// blocks, inner attention norm, other rotary types, attention pooling) is refused by name.
inline nlohmann::json eva_to_vit_args(const nlohmann::json& eva, const std::string& where) {
    using J = nlohmann::json;
    J a = J::object();
    auto flag = [&](const char* key, bool fallback) {
        if (!eva.contains(key) || eva[key].is_null()) return fallback;
        if (!eva[key].is_boolean()) fail(where, ": model_args '", key, "' must be true or false");
        return eva[key].get<bool>();
    };
    auto refuse_unless = [&](const char* key, const J& allowed) {
        if (eva.contains(key) && !eva[key].is_null() && eva[key] != allowed)
            fail(where, ": model_args '", key, "' = ", ArgReader::brief(eva[key]), " is not supported by fovea (EVA-02: ",
                 allowed.dump(), ")");
    };
    refuse_unless("use_abs_pos_emb", true);
    refuse_unless("use_post_norm", false);
    refuse_unless("attn_type", "eva");
    refuse_unless("rope_type", "cat");
    refuse_unless("rope_grid_offset", 0.0);
    refuse_unless("rope_grid_indexing", "ij");
    refuse_unless("rope_rotate_half", false);
    refuse_unless("swiglu_align_to", 0);
    refuse_unless("dynamic_img_pad", false);
    refuse_unless("use_pre_transformer_norm", false);
    for (const char* k : {"attn_pool_num_heads", "attn_pool_mlp_ratio"}) refuse_unless(k, nullptr);
    const std::set<std::string> handled = {
        "qkv_bias", "qkv_fused", "swiglu_mlp", "scale_mlp", "use_rot_pos_emb", "ref_feat_shape", "rope_temperature",
        "num_reg_tokens", "use_fc_norm", "use_post_transformer_norm", "init_values", "use_abs_pos_emb", "use_post_norm",
        "scale_attn_inner", "attn_type", "rope_type", "rope_grid_offset", "rope_grid_indexing", "rope_rotate_half",
        "swiglu_align_to", "dynamic_img_pad", "use_pre_transformer_norm", "attn_pool_num_heads", "attn_pool_mlp_ratio",
        "head_init_scale"};
    for (auto& [k, v] : eva.items())  // the kwargs eva.py shares with vision_transformer.py pass as they are
        if (!handled.count(k)) a[k] = v;

    const bool qkv_bias = flag("qkv_bias", true);
    a["qkv_bias"] = false;
    a["qv_bias"] = qkv_bias;
    a["qkv_fused"] = flag("qkv_fused", true);
    a["attn_norm"] = flag("scale_attn_inner", false);
    const bool swiglu = flag("swiglu_mlp", false), scale_mlp = flag("scale_mlp", false);
    a["mlp_norm"] = scale_mlp;
    if (swiglu) {
        a["mlp_layer"] = scale_mlp ? "swiglu" : "swiglu_packed";
        if (!scale_mlp) {  // GluMlp of 2 * int(dim * mlp_ratio), not int(dim * 2 * mlp_ratio)
            const J dim = eva.value("embed_dim", J(768)), ratio = eva.value("mlp_ratio", J(4.0));
            if (!dim.is_number_integer() || !ratio.is_number()) fail(where, ": model_args 'embed_dim' / 'mlp_ratio' have the wrong type");
            const double h = static_cast<double>(dim.get<std::int64_t>()) * ratio.get<double>();
            if (!(h >= 1 && h < (1 << 20))) fail(where, ": model_args 'mlp_ratio' gives an MLP width out of range");
            a["mlp_hidden"] = 2 * static_cast<std::int64_t>(h);
        }
    }
    a["rope"] = flag("use_rot_pos_emb", false);
    if (eva.contains("ref_feat_shape") && !eva["ref_feat_shape"].is_null()) a["rope_ref"] = eva["ref_feat_shape"];
    if (eva.contains("rope_temperature")) a["rope_temperature"] = eva["rope_temperature"];
    if (eva.contains("num_reg_tokens")) a["reg_tokens"] = eva["num_reg_tokens"];
    if (eva.contains("init_values")) {
        a["init_values"] = eva["init_values"];
        a["gamma_keys"] = true;
    }
    // fc_norm: explicit, or on for mean pooling; the final norm: explicit, or where fc_norm is off
    const std::string pool = eva.value("global_pool", J("avg")).is_string() ? eva.value("global_pool", J("avg")).get<std::string>() : "";
    if (pool == "map") fail(where, ": model_args 'global_pool' = \"map\" (EVA's attention pooling) is not supported by fovea");
    const bool fc_norm = flag("use_fc_norm", pool == "avg");
    a["global_pool"] = pool;
    a["fc_norm"] = fc_norm;
    if (flag("use_post_transformer_norm", !fc_norm) == fc_norm)
        fail(where, ": EVA with both or neither of the final norm and fc_norm is not supported by fovea");
    return a;
}

inline Family eva_family() {
    using J = nlohmann::json;
    // name, eva.py's kwargs beyond what every EVA-02 passes, input size, crop_pct (the head's size is
    // read off the checkpoint: none for the MIM backbones, 1000 for the fine-tunes)
    auto p = [](const char* name, J args, std::int64_t img, double crop_pct) {
        J a = {{"img_size", img},         {"patch_size", 14}, {"mlp_ratio", 4.0 * 2 / 3}, {"swiglu_mlp", true},
               {"use_rot_pos_emb", true}, {"ref_feat_shape", {16, 16}}};
        a.update(args);
        Preset preset{name, std::move(a), data_cfg(img, crop_pct, false)};
        preset.data.mean.assign(kOpenaiClipMean.begin(), kOpenaiClipMean.end());
        preset.data.std.assign(kOpenaiClipStd.begin(), kOpenaiClipStd.end());
        return preset;
    };
    const J ti = {{"embed_dim", 192}, {"depth", 12}, {"num_heads", 3}};
    const J s = {{"embed_dim", 384}, {"depth", 12}, {"num_heads", 6}};
    const J b = {{"embed_dim", 768}, {"depth", 12}, {"num_heads", 12}, {"qkv_fused", false}, {"scale_mlp", true}};
    const J l = {{"embed_dim", 1024}, {"depth", 24}, {"num_heads", 16}, {"qkv_fused", false}, {"scale_mlp", true}};
    const J clip = {{"scale_attn_inner", true}, {"global_pool", "token"}};
    J clip16 = clip;
    clip16["patch_size"] = 16;
    auto with = [](J a, const J& more) { a.update(more); return a; };
    return {"eva",
            {p("eva02_tiny_patch14_224", ti, 224, 0.9), p("eva02_small_patch14_224", s, 224, 0.9),
             p("eva02_base_patch14_224", b, 224, 0.9), p("eva02_large_patch14_224", l, 224, 0.9),
             p("eva02_tiny_patch14_336", ti, 336, 1.0), p("eva02_small_patch14_336", s, 336, 1.0),
             p("eva02_base_patch14_448", b, 448, 1.0), p("eva02_large_patch14_448", l, 448, 1.0),
             p("eva02_base_patch16_clip_224", with(b, clip16), 224, 0.9), p("eva02_large_patch14_clip_224", with(l, clip), 224, 0.9),
             p("eva02_large_patch14_clip_336", with(l, clip), 336, 1.0)},
            {},
            // q_bias / q_proj beside a pos_embed: eva.py's names (BEiT has relative position tables instead)
            [](const SafeTensorsFile& f) {
                return f.find("pos_embed") && (f.find("blocks.0.attn.q_proj.weight") || f.find("blocks.0.attn.q_bias")) &&
                       !f.find("blocks.0.attn.relative_position_bias_table");
            },
            nullptr,  // transformers has no EVA-02
            [](const BuildArgs& a) { return build_vit_translated(a, "eva", eva_to_vit_args); }};
}

}  // namespace fovea::detail

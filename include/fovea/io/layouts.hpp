#pragma once
// Checkpoint layouts other than timm >= 0.9, detected from the tensor names and presented under
// timm's names, so the models bind them unchanged:
//   hf-vit / hf-deit  transformers ViTForImageClassification, DeiTForImageClassification(WithTeacher)
//   hf-swin           transformers SwinForImageClassification
//   swin-original     Microsoft's release and timm <= 0.6: downsample at the end of each stage,
//                     head.weight, stored attn_mask / relative_position_index buffers
// transformers' separate query / key / value projections are fused into timm's qkv at load.
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "fovea/io/safetensors.hpp"

namespace fovea {

enum class Layout { Timm, HfVit, HfDeit, HfSwin, SwinOriginal };

inline const char* layout_name(Layout l) {
    switch (l) {
        case Layout::HfVit: return "hf-vit";
        case Layout::HfDeit: return "hf-deit";
        case Layout::HfSwin: return "hf-swin";
        case Layout::SwinOriginal: return "swin-original";
        default: return "timm";
    }
}

inline Layout detect_layout(const SafeTensorsFile& f) {
    if (f.find("vit.embeddings.patch_embeddings.projection.weight")) return Layout::HfVit;  // transformers 4 and 5
    if (f.find("deit.embeddings.patch_embeddings.projection.weight")) return Layout::HfDeit;
    if (f.find("swin.embeddings.patch_embeddings.projection.weight")) return Layout::HfSwin;
    const bool swin = f.find("layers.0.blocks.0.attn.relative_position_bias_table") != nullptr;
    if (swin && (f.find("layers.0.downsample.reduction.weight") || f.find("head.weight"))) return Layout::SwinOriginal;
    return Layout::Timm;
}

namespace detail {

struct Rule {
    std::regex from;
    std::string to;  // regex replacement; "" drops the tensor; "+1:" prefix: add one to the first number
};

inline std::vector<Rule> layout_rules(Layout l) {
    auto r = [](const char* from, const char* to) { return Rule{std::regex(from), to}; };
    switch (l) {
        case Layout::HfVit:
        case Layout::HfDeit:
            return {
                r(R"(^(vit|deit)\.embeddings\.cls_token$)", "cls_token"),
                r(R"(^deit\.embeddings\.distillation_token$)", "dist_token"),
                r(R"(^(vit|deit)\.embeddings\.position_embeddings$)", "pos_embed"),
                r(R"(^(vit|deit)\.embeddings\.patch_embeddings\.projection\.(weight|bias)$)", "patch_embed.proj.$2"),
                r(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.layernorm_before\.(weight|bias)$)", "blocks.$2.norm1.$3"),
                r(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.layernorm_after\.(weight|bias)$)", "blocks.$2.norm2.$3"),
                r(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$)", "blocks.$2.attn.proj.$3"),
                r(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)$)", "blocks.$2.mlp.fc1.$3"),
                r(R"(^(vit|deit)\.encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)$)", "blocks.$2.mlp.fc2.$3"),
                // transformers >= 5 writes these names (the hub keeps the ones above)
                r(R"(^(vit|deit)\.layers\.(\d+)\.layernorm_before\.(weight|bias)$)", "blocks.$2.norm1.$3"),
                r(R"(^(vit|deit)\.layers\.(\d+)\.layernorm_after\.(weight|bias)$)", "blocks.$2.norm2.$3"),
                r(R"(^(vit|deit)\.layers\.(\d+)\.attention\.o_proj\.(weight|bias)$)", "blocks.$2.attn.proj.$3"),
                r(R"(^(vit|deit)\.layers\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$)", "blocks.$2.mlp.$3.$4"),
                r(R"(^(vit|deit)\.layernorm\.(weight|bias)$)", "norm.$2"),
                r(R"(^(classifier|cls_classifier)\.(weight|bias)$)", "head.$2"),
                r(R"(^distillation_classifier\.(weight|bias)$)", "head_dist.$1"),
                r(R"(^vit\.pooler\..*)", ""),  // ViTModel's pooler: not part of classification
            };
        case Layout::HfSwin:
            return {
                r(R"(^swin\.embeddings\.patch_embeddings\.projection\.(weight|bias)$)", "patch_embed.proj.$1"),
                r(R"(^swin\.embeddings\.norm\.(weight|bias)$)", "patch_embed.norm.$1"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_before\.(weight|bias)$)", "layers.$1.blocks.$2.norm1.$3"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_after\.(weight|bias)$)", "layers.$1.blocks.$2.norm2.$3"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.self\.relative_position_bias_table$)",
                  "layers.$1.blocks.$2.attn.relative_position_bias_table"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.self\.relative_position_index$)", ""),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.output\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.attn.proj.$3"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.intermediate\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.fc1.$3"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.output\.dense\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.fc2.$3"),
                // transformers >= 5 writes these names (the hub keeps the ones above)
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.relative_position_bias\.relative_position_bias_table$)",
                  "layers.$1.blocks.$2.attn.relative_position_bias_table"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.o_proj\.(weight|bias)$)", "layers.$1.blocks.$2.attn.proj.$3"),
                r(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$)", "layers.$1.blocks.$2.mlp.$3.$4"),
                r(R"(^swin\..*\.relative_position_index$)", ""),
                r(R"(^swin\.encoder\.layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)$)", "+1:layers.$1.downsample.$2.$3"),
                r(R"(^swin\.layernorm\.(weight|bias)$)", "norm.$1"),
                r(R"(^classifier\.(weight|bias)$)", "head.fc.$1"),
            };
        case Layout::SwinOriginal:
            return {
                r(R"(^layers\.(\d+)\.downsample\.(.*)$)", "+1:layers.$1.downsample.$2"),
                r(R"(^head\.(weight|bias)$)", "head.fc.$1"),
                r(R"(.*\.(attn_mask|relative_position_index)$)", ""),
            };
        default:
            return {};
    }
}

// transformers' q / k / v of one attention, fused as timm's qkv: rows q, then k, then v.
inline const std::regex& qkv_pattern() {
    static const std::regex p(
        R"(^(.*?)\.(attention\.attention|attention\.self|attention)\.(query|key|value|q_proj|k_proj|v_proj)\.(weight|bias)$)");
    return p;
}

inline std::string timm_attn_prefix(Layout l, const std::string& hf_prefix) {
    // "vit.encoder.layer.3" -> "blocks.3"; "swin.encoder.layers.1.blocks.0" -> "layers.1.blocks.0"
    std::smatch m;
    if (l == Layout::HfSwin) {
        static const std::regex s(R"(^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)$)");
        if (std::regex_match(hf_prefix, m, s)) return "layers." + m[1].str() + ".blocks." + m[2].str();
    } else {
        static const std::regex v(R"(^(vit|deit)\.(?:encoder\.layer|layers)\.(\d+)$)");
        if (std::regex_match(hf_prefix, m, v)) return "blocks." + m[2].str();
    }
    return hf_prefix;
}

}  // namespace detail

// The checkpoint under timm's names (the same object when it already uses them).
inline std::shared_ptr<const SafeTensorsFile> to_timm_names(std::shared_ptr<const SafeTensorsFile> f) {
    const Layout layout = detect_layout(*f);
    if (layout == Layout::Timm) return f;
    const auto rules = detail::layout_rules(layout);
    std::map<std::string, std::string> renames;
    std::vector<std::string> dropped;
    std::map<std::string, std::array<const TensorInfo*, 3>> parts;  // timm qkv name -> q, k, v
    for (auto& [name, t] : f->tensors()) {
        std::smatch m;
        if (layout != Layout::SwinOriginal && std::regex_match(name, m, detail::qkv_pattern())) {
            const int which = m[3].str()[0] == 'q' ? 0 : m[3].str()[0] == 'k' ? 1 : 2;
            parts[detail::timm_attn_prefix(layout, m[1].str()) + ".attn.qkv." + m[4].str()][which] = &t;
            dropped.push_back(name);
            continue;
        }
        for (auto& rule : rules) {
            if (!std::regex_match(name, rule.from)) continue;
            std::string to = std::regex_replace(name, rule.from, rule.to);
            if (rule.to.empty()) {
                dropped.push_back(name);
            } else {
                if (to.rfind("+1:", 0) == 0) {  // stage-end downsample -> start of the next stage
                    to = to.substr(3);
                    std::smatch n;
                    std::regex_search(to, n, std::regex(R"(\d+)"));
                    to = n.prefix().str() + std::to_string(std::stoll(n[0].str()) + 1) + n.suffix().str();
                }
                renames[name] = to;
            }
            break;
        }
    }
    std::vector<SafeTensorsFile::Derived> derived;
    for (auto& [name, p] : parts) {
        if (!p[0] || !p[1] || !p[2])
            detail::fail(f->path(), ": '", name, "' needs query, key and value; one of them is missing");
        const auto& s = p[0]->shape;
        for (auto* t : p) {
            if (t->shape != s) detail::fail(f->path(), ": query, key and value for '", name, "' differ in shape");
            if (!detail::is_float(t->dtype)) detail::fail(f->path(), ": '", t->name, "' is not a floating-point tensor");
        }
        if (s.empty() || s.size() > 2) detail::fail(f->path(), ": query/key/value for '", name, "' must be rank 1 or 2");
        SafeTensorsFile::Derived d;
        d.name = name;
        d.shape = s;
        d.shape[0] *= 3;
        std::int64_t n = 1;
        for (auto v : s) n *= v;
        for (auto* t : p) d.values.insert(d.values.end(), f->f32(*t), f->f32(*t) + n);
        derived.push_back(std::move(d));
    }
    return f->relabelled(renames, std::move(derived), dropped);
}

}  // namespace fovea

#pragma once
// Checkpoint layouts other than timm's, renamed to timm's names so the models bind them unchanged.
// The families describe their layouts as data (a detection test and rename rules, in their own
// headers); this file only applies them:
//   - each tensor takes the first rule whose regex matches its whole name; the replacement may use
//     $1..$9; an empty replacement drops the tensor (a buffer fovea recomputes); a "+1:" prefix adds
//     one to the first number of the result (a stage-end downsample moved to the next stage);
//   - separate query / key / value projections (transformers) are fused into timm's qkv, rows q,
//     then k, then v.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "fovea/io/safetensors.hpp"

namespace fovea::detail {

struct RenameRule {
    std::regex from;
    std::string to;
};

inline RenameRule rename(const char* from, const char* to) { return {std::regex(from), to}; }

struct QkvFusion {
    // groups: 1 the attention's prefix, 2 the projection (its first letter q / k / v), 3 weight|bias
    std::regex pattern;
    std::vector<RenameRule> prefix;  // the prefix to timm's, e.g. vit.encoder.layer.3 -> blocks.3
};

struct CheckpointLayout {
    std::string name;  // "hf-vit", "swin-original", ...
    std::function<bool(const SafeTensorsFile&)> detect;
    std::vector<RenameRule> rules;
    std::optional<QkvFusion> fuse_qkv;
    // Tensors made from the file's (a reshaped embedding, a bias the layout does not store); their
    // sources are dropped by `rules`.
    std::function<std::vector<SafeTensorsFile::Derived>(const SafeTensorsFile&)> derive;
};

// A layout's derived tensor: `from` with leading 1s up to `rank` (transformers' [C] class embedding
// and [T, C] position table are timm's [1, 1, C] and [1, T, C]); rows [row0, row0 + rows) only when
// rows > 0 (a slice of a fused projection). Nothing when the file has no `from`.
inline void derive_tensor(const SafeTensorsFile& f, const std::string& from, const std::string& to, std::size_t rank,
                          std::vector<SafeTensorsFile::Derived>& out, std::int64_t row0 = 0, std::int64_t rows = 0) {
    const TensorInfo* t = f.find(from);
    if (!t) return;
    if (t->shape.empty() || t->shape.size() > rank) fail(f.path(), ": '", from, "' must be of rank 1 to ", rank);
    std::vector<std::int64_t> shape(rank - t->shape.size(), 1);
    shape.insert(shape.end(), t->shape.begin(), t->shape.end());
    std::vector<float> v = f.read(*t);
    if (rows > 0) {
        const std::int64_t n = t->shape[0], per = n ? static_cast<std::int64_t>(v.size()) / n : 0;
        if (row0 < 0 || row0 + rows > n) fail(f.path(), ": '", from, "' has ", n, " rows, not ", row0 + rows);
        v = std::vector<float>(v.begin() + row0 * per, v.begin() + (row0 + rows) * per);
        shape[rank - t->shape.size()] = rows;
    }
    out.push_back({to, std::move(shape), std::move(v)});
}

// The first rule that matches `name`, applied; nullopt when none does.
inline std::optional<std::string> apply_rules(const std::vector<RenameRule>& rules, const std::string& name) {
    for (auto& rule : rules) {
        if (!std::regex_match(name, rule.from)) continue;
        std::string to = std::regex_replace(name, rule.from, rule.to);
        if (to.rfind("+1:", 0) == 0) {
            to = to.substr(3);
            std::smatch n;
            if (std::regex_search(to, n, std::regex(R"(\d+)")) && n[0].length() < 10)
                to = n.prefix().str() + std::to_string(std::stoll(n[0].str()) + 1) + n.suffix().str();
        }
        return to;
    }
    return std::nullopt;
}

// The checkpoint under timm's names (the same object when no layout detects it). Returns the
// layout's name through `layout` ("timm" when none applied).
inline std::shared_ptr<const SafeTensorsFile> to_timm_names(std::shared_ptr<const SafeTensorsFile> f,
                                                            const std::vector<const CheckpointLayout*>& layouts,
                                                            std::string* layout = nullptr) {
    const CheckpointLayout* l = nullptr;
    for (auto* c : layouts)
        if (c->detect(*f)) {
            l = c;
            break;
        }
    if (layout) *layout = l ? l->name : "timm";
    if (!l) return f;
    std::map<std::string, std::string> renames;
    std::vector<std::string> dropped;
    std::map<std::string, std::array<const TensorInfo*, 3>> parts;  // timm qkv name -> q, k, v
    for (auto& [name, t] : f->tensors()) {
        std::smatch m;
        if (l->fuse_qkv && std::regex_match(name, m, l->fuse_qkv->pattern)) {
            const char p = m[2].str().empty() ? 'q' : m[2].str()[0];
            const std::size_t which = p == 'q' ? 0 : p == 'k' ? 1 : 2;
            const std::string prefix = apply_rules(l->fuse_qkv->prefix, m[1].str()).value_or(m[1].str());
            parts[prefix + ".attn.qkv." + m[3].str()][which] = &t;
            dropped.push_back(name);
            continue;
        }
        if (auto to = apply_rules(l->rules, name)) {
            if (to->empty()) dropped.push_back(name);
            else renames[name] = *to;
        }
    }
    std::vector<SafeTensorsFile::Derived> derived = l->derive ? l->derive(*f) : std::vector<SafeTensorsFile::Derived>{};
    for (auto& [name, p] : parts) {
        if (!p[0] || !p[1] || !p[2]) fail(f->path(), ": '", name, "' needs query, key and value; one of them is missing");
        const auto& s = p[0]->shape;
        for (auto* t : p) {
            if (t->shape != s) fail(f->path(), ": query, key and value for '", name, "' differ in shape");
            if (!is_float(t->dtype)) fail(f->path(), ": '", t->name, "' is not a floating-point tensor");
        }
        if (s.empty() || s.size() > 2) fail(f->path(), ": query/key/value for '", name, "' must be rank 1 or 2");
        SafeTensorsFile::Derived d;
        d.name = name;
        d.shape = s;
        d.shape[0] *= 3;
        for (auto* t : p) {
            const std::vector<float> v = f->read(*t);
            d.values.insert(d.values.end(), v.begin(), v.end());
        }
        derived.push_back(std::move(d));
    }
    return f->relabelled(renames, std::move(derived), dropped);
}

}  // namespace fovea::detail

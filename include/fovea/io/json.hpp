#pragma once
// JSON from files and headers, bounded: the text's size is checked before it is read and the
// nesting depth before it is parsed (deep nesting would otherwise exhaust the stack in nlohmann's
// recursive copies, comparisons and dumps). Every failure names the file.
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fovea/core/error.hpp"

namespace fovea::detail {

inline constexpr int kMaxJsonDepth = 64;                            // config.json and safetensors headers nest 4 levels
inline constexpr std::int64_t kMaxJsonFileBytes = 64ll * 1024 * 1024;  // a config with 100k label names is ~5 MB

// The deepest nesting of arrays and objects in a JSON text (strings skipped), in one pass: checked
// before parsing, as nlohmann recurses that deep in copies, comparisons and dumps. (A parser
// callback could count instead, but nlohmann's callback parser rescans an object's members as each
// one ends: quadratic in the object's size.)
inline int json_depth(std::string_view text) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

// text -> JSON, at most max_depth levels of arrays / objects.
inline nlohmann::json parse_json(std::string_view text, const std::string& where, int max_depth = kMaxJsonDepth) {
    if (json_depth(text) > max_depth) fail(where, ": JSON nested deeper than ", max_depth, " levels");
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        fail(where, ": not valid JSON (", e.what(), ")");
    }
}

inline nlohmann::json read_json_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail(path, ": cannot open file");
    if (!S_ISREG(st.st_mode)) fail(path, ": not a regular file");
    if (st.st_size > kMaxJsonFileBytes) fail(path, ": ", st.st_size, " bytes, over the ", kMaxJsonFileBytes >> 20, " MB limit for a JSON file");
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open file");
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    f.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (f.gcount() != static_cast<std::streamsize>(text.size())) fail(path, ": cannot read file");
    return parse_json(text, path);
}

}  // namespace fovea::detail

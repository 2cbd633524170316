#pragma once
// JSON from files and headers, bounded: the text's size is checked before it is read and the
// nesting depth while it is parsed (deep nesting would otherwise exhaust the stack in nlohmann's
// recursive copies, comparisons and dumps). Every failure names the file.
#include <sys/stat.h>

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

struct JsonTooDeep {};

// text -> JSON, at most max_depth levels of arrays / objects; `callback` (optional) sees every event
// as nlohmann's parser_callback_t does.
inline nlohmann::json parse_json(std::string_view text, const std::string& where, int max_depth = kMaxJsonDepth,
                                 const nlohmann::json::parser_callback_t& callback = nullptr) {
    nlohmann::json::parser_callback_t bounded = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
        if (depth > max_depth) throw JsonTooDeep{};
        return callback ? callback(depth, ev, j) : true;
    };
    try {
        return nlohmann::json::parse(text.begin(), text.end(), bounded);
    } catch (const JsonTooDeep&) {
        fail(where, ": JSON nested deeper than ", max_depth, " levels");
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

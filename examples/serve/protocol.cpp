#include "protocol.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

namespace serve {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 16;           // a request nests 5 levels; nested "data" adds the tensor's rank
constexpr std::int64_t kMaxImages = 4096;  // per request (the body limit bounds the bytes)
constexpr std::int64_t kMaxSide = 8192;    // pixels, as fovea's own input limit

[[noreturn]] void bad(const std::string& message) { throw HttpError(400, message); }

json parse_json(std::string_view text) {
    // Depth is checked as the parser descends, so a deeply nested body is refused before it is built.
    const json::parser_callback_t depth_check = [](int depth, json::parse_event_t event, json&) {
        if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth >= kMaxDepth)
            bad("request JSON nests deeper than " + std::to_string(kMaxDepth) + " levels");
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), depth_check);
    } catch (const json::exception& e) {
        bad(std::string("malformed JSON: ") + e.what());
    }
}

const json* member(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

std::int64_t as_int(const json& v, const std::string& what) {
    if (!v.is_number_integer() && !v.is_number_unsigned()) bad(what + " must be an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        bad(what + " is out of range");
    return v.get<std::int64_t>();
}

std::string shape_text(const std::vector<std::int64_t>& s) {
    std::string t = "[";
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
}

// Row-major "data", flat or nested, into out; every leaf must satisfy take(leaf).
template <typename Take>
void flatten(const json& v, Take&& take) {
    if (v.is_array()) {
        for (const json& e : v) flatten(e, take);
    } else {
        take(v);
    }
}

std::vector<std::int64_t> read_shape(const json& input, const std::string& name) {
    const json* s = member(input, "shape");
    if (!s || !s->is_array()) bad("input '" + name + "': \"shape\" must be an array of integers");
    std::vector<std::int64_t> shape;
    for (const json& d : *s) {
        shape.push_back(as_int(d, "input '" + name + "': shape"));
        if (shape.back() < 0) bad("input '" + name + "': negative dimension in shape " + shape_text(shape));
    }
    return shape;
}

struct BinaryCursor {
    std::string_view rest;
    std::string_view take(std::int64_t n, const std::string& what) {
        if (n < 0 || static_cast<std::uint64_t>(n) > rest.size())
            bad(what + ": binary_data_size " + std::to_string(n) + " exceeds the " + std::to_string(rest.size()) +
                " bytes left in the body");
        std::string_view out = rest.substr(0, static_cast<std::size_t>(n));
        rest.remove_prefix(static_cast<std::size_t>(n));
        return out;
    }
};

void read_fp32(InferRequest& r, const json& input, const std::vector<std::int64_t>& shape, const ModelShape& m,
               const json* binary_size, BinaryCursor& binary) {
    const std::string& name = r.input_name;
    if (shape.size() != 4)
        bad("input '" + name + "': FP32 input must be [N, " + std::to_string(m.in_chans) + ", H, W], got " + shape_text(shape));
    if (shape[0] < 1 || shape[0] > kMaxImages) bad("input '" + name + "': batch of " + std::to_string(shape[0]) + " images");
    if (shape[1] != m.in_chans)
        bad("input '" + name + "': expected " + std::to_string(m.in_chans) + " channels, got shape " + shape_text(shape));
    for (int d : {2, 3})
        if (shape[static_cast<std::size_t>(d)] < 1 || shape[static_cast<std::size_t>(d)] > kMaxSide)
            bad("input '" + name + "': image side out of range in shape " + shape_text(shape));
    const std::int64_t count = shape[0] * shape[1] * shape[2] * shape[3];
    r.pixels = fovea::Tensor<float, 4>({shape[0], shape[1], shape[2], shape[3]});
    float* out = r.pixels.data();
    if (binary_size) {
        const std::int64_t n = as_int(*binary_size, "input '" + name + "': binary_data_size");
        if (n != count * 4)
            bad("input '" + name + "': binary_data_size " + std::to_string(n) + " is not " + std::to_string(count * 4) +
                " (FP32 " + shape_text(shape) + ")");
        const std::string_view bytes = binary.take(n, "input '" + name + "'");
        std::memcpy(out, bytes.data(), bytes.size());  // little-endian, as the protocol says (and x86/ARM are)
    } else {
        const json* data = member(input, "data");
        if (!data) bad("input '" + name + "': no \"data\" and no binary_data_size");
        std::int64_t i = 0;
        flatten(*data, [&](const json& v) {
            if (!v.is_number()) bad("input '" + name + "': FP32 data must be numbers");
            if (i >= count) bad("input '" + name + "': more than " + std::to_string(count) + " values for shape " + shape_text(shape));
            out[i++] = v.get<float>();
        });
        if (i != count)
            bad("input '" + name + "': " + std::to_string(i) + " values for shape " + shape_text(shape) + " (" +
                std::to_string(count) + " expected)");
    }
    for (std::int64_t i = 0; i < count; ++i)
        if (!std::isfinite(out[i])) bad("input '" + name + "': NaN or Inf at element " + std::to_string(i));
}

void read_bytes(InferRequest& r, const json& input, const std::vector<std::int64_t>& shape, const json* binary_size,
                BinaryCursor& binary) {
    const std::string& name = r.input_name;
    if (shape.size() != 1 && !(shape.size() == 2 && shape[1] == 1))
        bad("input '" + name + "': BYTES input must be [N] encoded images, got " + shape_text(shape));
    if (shape[0] < 1 || shape[0] > kMaxImages) bad("input '" + name + "': batch of " + std::to_string(shape[0]) + " images");
    if (binary_size) {
        const std::int64_t n = as_int(*binary_size, "input '" + name + "': binary_data_size");
        std::string_view bytes = binary.take(n, "input '" + name + "'");
        while (!bytes.empty()) {  // each element: a 4-byte little-endian length, then its bytes
            if (bytes.size() < 4) bad("input '" + name + "': truncated BYTES element length");
            std::uint32_t len = 0;
            for (int b = 3; b >= 0; --b) len = (len << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(b)]);
            bytes.remove_prefix(4);
            if (len > bytes.size()) bad("input '" + name + "': BYTES element of " + std::to_string(len) + " bytes is truncated");
            r.images.emplace_back(bytes.begin(), bytes.begin() + len);
            bytes.remove_prefix(len);
        }
    } else {
        const json* data = member(input, "data");
        if (!data) bad("input '" + name + "': no \"data\" and no binary_data_size");
        flatten(*data, [&](const json& v) {
            if (!v.is_string()) bad("input '" + name + "': BYTES data in JSON must be base64 strings");
            if (static_cast<std::int64_t>(r.images.size()) >= shape[0]) bad("input '" + name + "': more elements than shape " + shape_text(shape));
            try {
                r.images.push_back(base64_decode(v.get_ref<const std::string&>()));
            } catch (const HttpError& e) {
                bad("input '" + name + "' element " + std::to_string(r.images.size()) + ": " + e.what());
            }
        });
    }
    if (static_cast<std::int64_t>(r.images.size()) != shape[0])
        bad("input '" + name + "': " + std::to_string(r.images.size()) + " elements for shape " + shape_text(shape));
}

}  // namespace

std::string error_json(const std::string& message) {
    // Messages may quote request bytes: dump() replaces invalid UTF-8 rather than failing.
    return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::uint8_t> base64_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) throw HttpError(400, "invalid base64 length");
    std::vector<std::uint8_t> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = value(c);
        if (v < 0) throw HttpError(400, "invalid base64 character");
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

InferRequest parse_infer_request(std::string_view body, std::int64_t header_length, const ModelShape& m) {
    if (header_length > static_cast<std::int64_t>(body.size()))
        bad("Inference-Header-Content-Length " + std::to_string(header_length) + " exceeds the body's " +
            std::to_string(body.size()) + " bytes");
    const std::size_t json_len = header_length < 0 ? body.size() : static_cast<std::size_t>(header_length);
    const json req = parse_json(body.substr(0, json_len));
    BinaryCursor binary{body.substr(json_len)};
    if (!req.is_object()) bad("the request must be a JSON object");

    InferRequest r;
    if (const json* id = member(req, "id")) {
        if (!id->is_string()) bad("\"id\" must be a string");
        r.id = id->get<std::string>();
        r.has_id = true;
    }
    bool binary_all = false;
    if (const json* p = member(req, "parameters")) {
        if (!p->is_object()) bad("\"parameters\" must be an object");
        if (const json* b = member(*p, "binary_data_output")) {
            if (!b->is_boolean()) bad("\"binary_data_output\" must be true or false");
            binary_all = b->get<bool>();
        }
    }
    const json* inputs = member(req, "inputs");
    if (!inputs || !inputs->is_array() || inputs->size() != 1)
        bad("\"inputs\" must hold one tensor: FP32 [N, C, H, W] pixels or BYTES [N] image files");
    const json& input = (*inputs)[0];
    if (!input.is_object()) bad("an input must be an object");
    const json* name = member(input, "name");
    const json* datatype = member(input, "datatype");
    if (!name || !name->is_string()) bad("the input has no \"name\"");
    r.input_name = name->get<std::string>();
    if (!datatype || !datatype->is_string()) bad("input '" + r.input_name + "' has no \"datatype\"");
    const std::vector<std::int64_t> shape = read_shape(input, r.input_name);
    const json* binary_size = nullptr;
    if (const json* p = member(input, "parameters")) {
        if (!p->is_object()) bad("input '" + r.input_name + "': \"parameters\" must be an object");
        binary_size = member(*p, "binary_data_size");
        if (binary_size && member(input, "data")) bad("input '" + r.input_name + "': both \"data\" and binary_data_size");
    }
    const std::string dt = datatype->get<std::string>();
    if (dt == "FP32")
        read_fp32(r, input, shape, m, binary_size, binary);
    else if (dt == "BYTES")
        read_bytes(r, input, shape, binary_size, binary);
    else
        bad("input '" + r.input_name + "': datatype " + dt + " (this model takes FP32 [N, " + std::to_string(m.in_chans) +
            ", H, W] or BYTES [N])");
    if (!binary.rest.empty())
        bad(std::to_string(binary.rest.size()) + " bytes after the JSON header are not claimed by any binary_data_size");

    if (const json* outs = member(req, "outputs")) {
        if (!outs->is_array() || outs->empty() || outs->size() > 3) bad("\"outputs\" must list 1 to 3 outputs");
        for (const json& o : *outs) {
            if (!o.is_object()) bad("an output must be an object");
            const json* oname = member(o, "name");
            if (!oname || !oname->is_string()) bad("an output has no \"name\"");
            RequestedOutput ro;
            ro.name = oname->get<std::string>();
            if (ro.name == "logits") ro.kind = OutputKind::logits;
            else if (ro.name == "probabilities") ro.kind = OutputKind::probabilities;
            else if (ro.name == "embeddings") ro.kind = OutputKind::embeddings;
            else bad("unknown output '" + ro.name + "' (logits, probabilities, embeddings)");
            for (const auto& prev : r.outputs)
                if (prev.name == ro.name) bad("output '" + ro.name + "' requested twice");
            ro.binary = binary_all;
            if (const json* p = member(o, "parameters")) {
                if (!p->is_object()) bad("output '" + ro.name + "': \"parameters\" must be an object");
                if (const json* b = member(*p, "binary_data")) {
                    if (!b->is_boolean()) bad("output '" + ro.name + "': binary_data must be true or false");
                    ro.binary = b->get<bool>();
                }
                if (const json* k = member(*p, "classification")) {
                    ro.classification = as_int(*k, "output '" + ro.name + "': classification");
                    if (ro.classification < 1) bad("output '" + ro.name + "': classification must be at least 1");
                    if (ro.kind == OutputKind::embeddings) bad("classification applies to logits or probabilities");
                }
            }
            r.outputs.push_back(ro);
        }
    } else {
        RequestedOutput ro;
        ro.name = "logits";
        ro.binary = binary_all;
        r.outputs.push_back(ro);
    }
    for (const auto& o : r.outputs)
        if (o.kind != OutputKind::embeddings && m.num_classes == 0)
            bad("this model has no classifier head: ask for \"embeddings\"");
    return r;
}

namespace {

std::string score_text(double score) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", score);
    return buf;
}

}  // namespace

ResponseBody format_infer_response(const std::string& model_name, const InferRequest& request, const InferResult& result,
                                   const fovea::Model& model) {
    json resp = {{"model_name", model_name}, {"model_version", "1"}};
    if (request.has_id) resp["id"] = request.id;
    json outputs = json::array();
    std::string binary;
    const std::int64_t n = result.logits.shape(0);
    for (const RequestedOutput& o : request.outputs) {
        const fovea::Tensor<float, 2>& src = o.kind == OutputKind::embeddings ? result.embeddings : result.logits;
        const std::int64_t cols = src.shape(1);
        fovea::Tensor<float, 2> values({n, cols});
        if (o.kind == OutputKind::probabilities) {
            // fovea::top_k's own softmax, every class of each row
            const auto all = fovea::top_k(model, src, cols);
            for (std::int64_t r = 0; r < n; ++r)
                for (const auto& p : all[static_cast<std::size_t>(r)]) values(r, p.index) = static_cast<float>(p.prob);
        } else {
            std::memcpy(values.data(), src.data(), static_cast<std::size_t>(n * cols) * sizeof(float));
        }
        json out = {{"name", o.name}};
        if (o.classification > 0) {
            const std::int64_t k = std::min(o.classification, cols);
            const auto best = fovea::top_k(model, src, k);
            std::vector<std::string> strings;
            for (const auto& row : best)
                for (const auto& p : row) {
                    const double score = o.kind == OutputKind::probabilities ? p.prob : static_cast<double>(p.logit);
                    std::string s = score_text(score) + ":" + std::to_string(p.index);
                    if (static_cast<std::size_t>(p.index) < model.label_names().size()) s += ":" + p.label;
                    strings.push_back(std::move(s));
                }
            out["datatype"] = "BYTES";
            out["shape"] = {n, k};
            if (o.binary) {
                std::size_t size = 0;
                for (const auto& s : strings) {
                    const auto len = static_cast<std::uint32_t>(s.size());
                    for (int b = 0; b < 4; ++b) binary.push_back(static_cast<char>((len >> (8 * b)) & 0xFF));
                    binary += s;
                    size += 4 + s.size();
                }
                out["parameters"] = {{"binary_data_size", size}};
            } else {
                out["data"] = strings;
            }
        } else {
            out["datatype"] = "FP32";
            out["shape"] = {n, cols};
            if (o.binary) {
                const std::size_t size = static_cast<std::size_t>(n * cols) * sizeof(float);
                binary.append(reinterpret_cast<const char*>(values.data()), size);
                out["parameters"] = {{"binary_data_size", size}};
            } else {
                out["data"] = std::vector<float>(values.data(), values.data() + n * cols);
            }
        }
        outputs.push_back(std::move(out));
    }
    resp["outputs"] = std::move(outputs);
    ResponseBody rb;
    rb.body = resp.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!binary.empty() || std::any_of(request.outputs.begin(), request.outputs.end(), [](auto& o) { return o.binary; })) {
        rb.header_length = static_cast<std::int64_t>(rb.body.size());
        rb.body += binary;
    }
    return rb;
}

}  // namespace serve

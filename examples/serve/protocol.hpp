#pragma once
// The Open Inference Protocol's inference request and response (KServe v2 / Triton REST), with
// Triton's binary tensor data and classification extensions. No network here: bytes in, a parsed
// request out; numbers in, a response body out.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fovea/fovea.hpp>

namespace serve {

// A request the server refuses: the HTTP status and the message of its {"error": ...} body.
struct HttpError : std::runtime_error {
    int status;
    HttpError(int s, const std::string& message) : std::runtime_error(message), status(s) {}
};

// The outputs a model offers.
enum class OutputKind { logits, probabilities, embeddings };

struct RequestedOutput {
    OutputKind kind = OutputKind::logits;
    std::string name;
    bool binary = false;
    std::int64_t classification = 0;  // > 0: the top K as "score:index:label" strings
};

struct InferRequest {
    std::string id;
    bool has_id = false;
    // Exactly one of: a preprocessed FP32 batch [N, C, H, W], or encoded image files (BYTES [N]).
    fovea::Tensor<float, 4> pixels{{0, 0, 0, 0}};
    std::vector<std::vector<std::uint8_t>> images;
    std::string input_name;
    std::vector<RequestedOutput> outputs;  // never empty: logits by default

    std::int64_t batch() const { return images.empty() ? pixels.shape(0) : static_cast<std::int64_t>(images.size()); }
};

// What the model needs to check a request against.
struct ModelShape {
    std::int64_t in_chans = 3, height = 224, width = 224, num_classes = 0, num_features = 0;
};

// Parses an infer request body. header_length: Inference-Header-Content-Length (-1: absent, the
// whole body is JSON); after the JSON come the binary tensors in input order. Throws HttpError(400).
InferRequest parse_infer_request(std::string_view body, std::int64_t header_length, const ModelShape& shape);

// One request's results: rows of the batch it ran in.
struct InferResult {
    fovea::Tensor<float, 2> logits{{0, 0}};      // [N, classes] (the pooled features for a model without a head)
    fovea::Tensor<float, 2> embeddings{{0, 0}};  // [N, C] when asked for
};

struct ResponseBody {
    std::string body;
    std::int64_t header_length = -1;  // >= 0: binary outputs follow a JSON header of this length
};

ResponseBody format_infer_response(const std::string& model_name, const InferRequest& request, const InferResult& result,
                                   const fovea::Model& model);

// {"error": message}
std::string error_json(const std::string& message);

std::vector<std::uint8_t> base64_decode(std::string_view text);

}  // namespace serve

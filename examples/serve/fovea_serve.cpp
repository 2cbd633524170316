// fovea-serve: models over HTTP, speaking the Open Inference Protocol (KServe v2 / Triton REST)
// with Triton's binary tensor data and classification extensions.
//   fovea-serve --model-repository DIR [--host 127.0.0.1] [--port 8000] [--threads N]
//               [--max-batch-size 8] [--max-queue-delay-us 2000] [--max-queue 256]
//               [--precision f32|bf16|int8] [--api-key-file FILE] [--max-body-mb 64]
//               [--max-connections 512] [--workers 2] [--model NAME=PATH ...]
// HTTP is Boost.Beast over Asio: every connection is asynchronous, so an idle or slow client holds
// a socket and a timer, never a thread (a thread-per-connection server such as cpp-httplib's is
// exhausted by as many idle keep-alive clients as it has threads). Two I/O threads accept, read
// and write; `--workers` threads parse requests and decode images; each model has one batching
// thread feeding fovea's pool (`--threads`).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <fovea/fovea.hpp>

#include "batcher.hpp"
#include "protocol.hpp"

#ifndef FOVEA_DEFAULT_REPOSITORY
#define FOVEA_DEFAULT_REPOSITORY ""
#endif

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Limits that are not flags: a header block, and how long a peer may take for each part.
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr auto kHeaderTimeout = std::chrono::seconds(10);  // also how long an idle keep-alive connection stays
constexpr auto kBodyTimeout = std::chrono::seconds(60);
constexpr auto kWriteTimeout = std::chrono::seconds(60);

struct Options {
    std::string repository, host = "127.0.0.1", api_key_file, precision = "f32";
    int port = 8000, threads = 0, workers = 2;
    std::int64_t max_batch_size = 8, max_queue_delay_us = 2000, max_queue = 256, max_body_mb = 64, max_connections = 512;
    std::vector<std::pair<std::string, std::string>> models;  // --model NAME=PATH
};

[[noreturn]] void usage_error(const std::string& message) { throw std::invalid_argument(message); }

// --------------------------------------------------------------------------------------------
// Metrics, in Prometheus' text format.

constexpr double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
constexpr std::size_t kNumBuckets = sizeof kBuckets / sizeof kBuckets[0];

struct ModelMetrics {
    std::map<int, std::uint64_t> requests;  // by status code
    std::uint64_t buckets[kNumBuckets + 1] = {};
    double duration_sum = 0;
    std::uint64_t duration_count = 0;
};

// --------------------------------------------------------------------------------------------

struct ServedModel {
    std::string name, path;
    std::unique_ptr<fovea::Model> model;
    serve::ModelShape shape;
    std::unique_ptr<serve::Batcher> batcher;
};

struct Response {
    http::status status = http::status::ok;
    std::string body, content_type = "application/json";
    std::int64_t header_length = -1;
    std::string allow;
};

Response json_response(http::status status, const json& body) {
    return {status, body.dump(), "application/json", -1, {}};
}
Response error_response(int status, const std::string& message) {
    return {static_cast<http::status>(status), serve::error_json(message), "application/json", -1, {}};
}

class Server;

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket&& socket, Server& server);
    ~Session();
    void start();
    void reject_busy();

private:
    void read_header();
    void on_header(beast::error_code ec);
    void read_body();
    void on_body(beast::error_code ec);
    void dispatch();
    void send(Response r);
    void on_written(beast::error_code ec, bool close);
    void close();

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Server& server_;
    std::string peer_, method_, target_, model_;
    Clock::time_point started_;
    bool keep_alive_ = false, counted_ = false;
    std::shared_ptr<http::response<http::string_body>> response_;
};

class Server {
public:
    Server(Options opt) : opt_(std::move(opt)), acceptor_(ioc_), signals_(ioc_, SIGINT, SIGTERM), work_(static_cast<std::size_t>(opt_.workers)) {}

    int run();

    // state read by sessions
    asio::io_context& ioc() { return ioc_; }
    const Options& options() const { return opt_; }
    std::atomic<std::int64_t> connections{0}, in_flight{0};
    std::atomic<Clock::rep> last_request{0};  // when the newest request's header arrived
    bool shutting_down() const { return shutting_down_.load(); }

    bool authorized(const http::request<http::string_body>& req) const {
        if (api_key_.empty()) return true;
        const auto it = req.find(http::field::authorization);
        if (it == req.end()) return false;
        const std::string_view v(it->value().data(), it->value().size());
        const std::string expected = "Bearer " + api_key_;
        if (v.size() != expected.size()) return false;
        unsigned char diff = 0;  // the same time whatever the first wrong byte
        for (std::size_t i = 0; i < v.size(); ++i) diff |= static_cast<unsigned char>(v[i] ^ expected[i]);
        return diff == 0;
    }

    // Routes one request; infer answers later through `reply` (on any thread).
    void handle(const http::request<http::string_body>& req, std::string& model_label, std::function<void(Response)> reply);

    void record(const std::string& model, int status, double seconds) {
        if (model.empty()) return;
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ModelMetrics& m = metrics_[model];
        ++m.requests[status];
        std::size_t b = 0;
        while (b < kNumBuckets && seconds > kBuckets[b]) ++b;
        ++m.buckets[b];
        m.duration_sum += seconds;
        ++m.duration_count;
    }

private:
    void accept();
    void load_models();
    void begin_shutdown();
    void drain();
    Response metadata(const ServedModel& m) const;
    std::string metrics_text();
    void infer(ServedModel& m, std::shared_ptr<std::string> body, std::int64_t header_length, std::function<void(Response)> reply);

    Options opt_;
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    asio::thread_pool work_;
    std::optional<asio::steady_timer> drain_timer_;
    Clock::time_point shutdown_started_;
    std::map<std::string, ServedModel> models_;
    std::string api_key_;
    std::atomic<bool> ready_{false}, shutting_down_{false};
    std::atomic<int> exit_code_{0};
    std::mutex metrics_mu_;
    std::map<std::string, ModelMetrics> metrics_;
};

// --------------------------------------------------------------------------------------------
// Session: one connection, one request at a time (HTTP/1.1 keep-alive, no pipelining overlap).

Session::Session(tcp::socket&& socket, Server& server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    ++server_.connections;
}

Session::~Session() { --server_.connections; }

void Session::start() { read_header(); }

void Session::reject_busy() {
    auto self = shared_from_this();
    response_ = std::make_shared<http::response<http::string_body>>(http::status::service_unavailable, 11);
    response_->set(http::field::content_type, "application/json");
    response_->set(http::field::connection, "close");
    response_->body() = serve::error_json("too many open connections");
    response_->prepare_payload();
    stream_.expires_after(std::chrono::seconds(5));
    http::async_write(stream_, *response_, [self](beast::error_code, std::size_t) { self->close(); });
}

void Session::read_header() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(static_cast<std::uint64_t>(server_.options().max_body_mb) * 1024 * 1024);
    stream_.expires_after(kHeaderTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
    if (ec) {  // closed, timed out, or a malformed request line or header
        if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::connection_reset &&
            ec != asio::error::operation_aborted && ec != asio::error::eof) {
            keep_alive_ = false;
            method_ = "-";
            target_ = "-";
            started_ = Clock::now();
            if (ec == http::error::body_limit)  // Content-Length beyond the limit: refused before the body is read
                return send(error_response(413, "body exceeds --max-body-mb " + std::to_string(server_.options().max_body_mb)));
            const int status = ec == http::error::header_limit ? 431 : 400;
            send(error_response(status, "bad request: " + ec.message()));
            return;
        }
        return close();
    }
    started_ = Clock::now();
    server_.last_request = started_.time_since_epoch().count();
    ++server_.in_flight;
    counted_ = true;
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    target_ = std::string(req.target());
    keep_alive_ = req.keep_alive();
    // The body limit is known from Content-Length before a byte of the body is read.
    const auto length = parser_->content_length();
    if (length && *length > static_cast<std::uint64_t>(server_.options().max_body_mb) * 1024 * 1024) {
        keep_alive_ = false;
        return send(error_response(413, "body of " + std::to_string(*length) + " bytes exceeds --max-body-mb " +
                                            std::to_string(server_.options().max_body_mb)));
    }
    if (req[http::field::expect] == "100-continue") {
        auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
        stream_.expires_after(kWriteTimeout);
        http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code e, std::size_t) {
            if (e) return self->close();
            self->read_body();
        });
        return;
    }
    read_body();
}

void Session::read_body() {
    stream_.expires_after(kBodyTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
}

void Session::on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) {
        keep_alive_ = false;
        return send(error_response(413, "body exceeds --max-body-mb " + std::to_string(server_.options().max_body_mb)));
    }
    if (ec) return close();  // the client went away mid-body, or was too slow
    dispatch();
}

void Session::dispatch() {
    auto self = shared_from_this();
    auto executor = stream_.get_executor();
    server_.handle(parser_->get(), model_, [self, executor](Response r) {
        asio::post(executor, [self, r = std::move(r)]() mutable { self->send(std::move(r)); });
    });
}

void Session::send(Response r) {
    if (server_.shutting_down()) keep_alive_ = false;
    response_ = std::make_shared<http::response<http::string_body>>(r.status, 11);
    response_->set(http::field::server, "fovea-serve/" FOVEA_VERSION_STRING);
    response_->set(http::field::content_type, r.content_type);
    if (r.header_length >= 0) response_->set("Inference-Header-Content-Length", std::to_string(r.header_length));
    if (!r.allow.empty()) response_->set(http::field::allow, r.allow);
    response_->keep_alive(keep_alive_);
    response_->body() = std::move(r.body);
    response_->prepare_payload();
    const int status = static_cast<int>(r.status);
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    server_.record(model_, status, seconds);
    std::fprintf(stderr, "fovea-serve: %s \"%s %s\" %d %zu B %.1f ms\n", peer_.c_str(), method_.c_str(), target_.c_str(), status,
                 response_->body().size(), seconds * 1e3);
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *response_, [self = shared_from_this(), close = !keep_alive_](beast::error_code ec, std::size_t) {
        self->on_written(ec, close);
    });
}

void Session::on_written(beast::error_code ec, bool close_after) {
    if (counted_) {
        counted_ = false;
        --server_.in_flight;
    }
    response_.reset();
    model_.clear();
    if (ec || close_after) return close();
    read_header();
}

void Session::close() {
    if (counted_) {
        counted_ = false;
        --server_.in_flight;
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
}

// --------------------------------------------------------------------------------------------

std::vector<std::string> split_path(std::string_view target) {
    const auto q = target.find('?');
    if (q != std::string_view::npos) target = target.substr(0, q);
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= target.size()) {
        const auto j = target.find('/', i);
        const auto part = target.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
        if (!part.empty()) parts.emplace_back(part);
        if (j == std::string_view::npos) break;
        i = j + 1;
    }
    return parts;
}

void Server::handle(const http::request<http::string_body>& req, std::string& model_label, std::function<void(Response)> reply) {
    const auto parts = split_path(std::string_view(req.target().data(), req.target().size()));
    const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;
    auto method_not_allowed = [&](const char* allow) {
        Response r = error_response(405, "method " + std::string(req.method_string()) + " not allowed here");
        r.allow = allow;
        reply(std::move(r));
    };
    // Health stays open for probes; everything else needs the key when one is set.
    if (parts.size() == 3 && parts[0] == "v2" && parts[1] == "health" && (parts[2] == "live" || parts[2] == "ready")) {
        if (!get) return method_not_allowed("GET");
        if (parts[2] == "live") return reply(json_response(http::status::ok, {{"live", true}}));
        const bool ready = ready_ && !shutting_down_;
        return reply(json_response(ready ? http::status::ok : http::status::service_unavailable, {{"ready", ready}}));
    }
    if (!authorized(req)) {
        Response r = error_response(401, "missing or wrong API key (Authorization: Bearer KEY)");
        return reply(std::move(r));
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
        if (!get) return method_not_allowed("GET");
        return reply({http::status::ok, metrics_text(), "text/plain; version=0.0.4", -1, {}});
    }
    if (parts.size() == 1 && parts[0] == "v2") {
        if (!get) return method_not_allowed("GET");
        return reply(json_response(http::status::ok, {{"name", "fovea"},
                                                      {"version", FOVEA_VERSION_STRING},
                                                      {"extensions", {"binary_tensor_data", "classification"}}}));
    }
    if (parts.size() >= 3 && parts[0] == "v2" && parts[1] == "models") {
        // /v2/models/NAME[/versions/V][/ready|/infer]: names are looked up among the loaded models only
        std::size_t rest = 3;
        if (parts.size() >= 5 && parts[3] == "versions") {
            if (parts[4] != "1") return reply(error_response(404, "model '" + parts[2] + "' has only version 1"));
            rest = 5;
        }
        const std::string action = parts.size() == rest ? "" : parts.size() == rest + 1 ? parts[rest] : "?";
        if (action != "" && action != "ready" && action != "infer") return reply(error_response(404, "no such path"));
        if (!ready_) return reply(error_response(503, "models are loading"));
        const auto it = models_.find(parts[2]);
        if (it == models_.end()) return reply(error_response(404, "unknown model '" + parts[2] + "'"));
        ServedModel& m = it->second;
        model_label = m.name;
        if (action == "") {
            if (!get) return method_not_allowed("GET");
            return reply(metadata(m));
        }
        if (action == "ready") {
            if (!get) return method_not_allowed("GET");
            const bool ready = !shutting_down_;
            return reply(json_response(ready ? http::status::ok : http::status::service_unavailable, {{"name", m.name}, {"ready", ready}}));
        }
        if (!post) return method_not_allowed("POST");
        if (shutting_down_) return reply(error_response(503, "shutting down"));
        std::int64_t header_length = -1;
        const auto h = req.find("Inference-Header-Content-Length");
        if (h != req.end()) {
            const auto v = fovea::detail::parse_integer(std::string(h->value()), 0, static_cast<long long>(req.body().size()));
            if (!v) return reply(error_response(400, "Inference-Header-Content-Length must be a whole number from 0 to the body's size"));
            header_length = *v;
        }
        // The body moves to a worker: parsing and decoding stay off the I/O threads.
        auto body = std::make_shared<std::string>(req.body());
        return infer(m, std::move(body), header_length, std::move(reply));
    }
    reply(error_response(404, "no such path"));
}

void Server::infer(ServedModel& m, std::shared_ptr<std::string> body, std::int64_t header_length, std::function<void(Response)> reply) {
    asio::post(work_, [this, &m, body, header_length, reply = std::move(reply)]() mutable {
        auto request = std::make_shared<serve::InferRequest>();
        fovea::Tensor<float, 4> x({0, 0, 0, 0});
        try {
            *request = serve::parse_infer_request(*body, header_length, m.shape);
            body.reset();
            if (request->batch() > opt_.max_batch_size)
                throw serve::HttpError(400, "batch of " + std::to_string(request->batch()) + " exceeds --max-batch-size " +
                                                std::to_string(opt_.max_batch_size));
            if (!request->images.empty()) {
                std::vector<std::string> names;
                for (std::size_t i = 0; i < request->images.size(); ++i) names.push_back("image " + std::to_string(i));
                x = fovea::preprocess(*m.model, request->images, names);
                request->images.clear();
            } else {
                x = std::move(request->pixels);
            }
        } catch (const serve::HttpError& e) {
            return reply(error_response(e.status, e.what()));
        } catch (const fovea::Error& e) {
            return reply(error_response(400, e.what()));
        } catch (const std::bad_alloc&) {
            return reply(error_response(503, "out of memory"));
        }
        bool embeddings = false;
        for (const auto& o : request->outputs) embeddings = embeddings || o.kind == serve::OutputKind::embeddings;
        const bool queued = m.batcher->submit(std::move(x), embeddings, [this, &m, request, reply](serve::InferResult&& result, int status,
                                                                                                     const std::string& error) {
            if (status) return reply(error_response(status, error));
            // Formatting leaves the batching thread free for the next batch.
            asio::post(work_, [&m, request, reply, result = std::move(result)]() {
                try {
                    serve::ResponseBody rb = serve::format_infer_response(m.name, *request, result, *m.model);
                    Response r{http::status::ok, std::move(rb.body), rb.header_length >= 0 ? "application/octet-stream" : "application/json",
                               rb.header_length, {}};
                    reply(std::move(r));
                } catch (const std::exception& e) {
                    reply(error_response(500, e.what()));
                }
            });
        });
        if (!queued) reply(error_response(503, "queue of model '" + m.name + "' is full (--max-queue " + std::to_string(opt_.max_queue) + ")"));
    });
}

Response Server::metadata(const ServedModel& m) const {
    const auto& s = m.shape;
    json inputs = json::array({{{"name", "input"}, {"datatype", "FP32"}, {"shape", {-1, s.in_chans, s.height, s.width}}},
                               {{"name", "image"}, {"datatype", "BYTES"}, {"shape", {-1}}}});
    json outputs = json::array();
    if (s.num_classes > 0) {
        outputs.push_back({{"name", "logits"}, {"datatype", "FP32"}, {"shape", {-1, s.num_classes}}});
        outputs.push_back({{"name", "probabilities"}, {"datatype", "FP32"}, {"shape", {-1, s.num_classes}}});
    }
    outputs.push_back({{"name", "embeddings"}, {"datatype", "FP32"}, {"shape", {-1, s.num_features}}});
    return json_response(http::status::ok, {{"name", m.name},
                                            {"versions", {"1"}},
                                            {"platform", "fovea"},
                                            {"inputs", inputs},
                                            {"outputs", outputs},
                                            {"parameters",
                                             {{"architecture", m.model->architecture()},
                                              {"max_batch_size", opt_.max_batch_size},
                                              {"one_input_of", {"input", "image"}}}}});
}

std::string Server::metrics_text() {
    std::ostringstream o;
    o << "# HELP fovea_requests_total Inference and model requests by model and HTTP status.\n# TYPE fovea_requests_total counter\n";
    std::lock_guard<std::mutex> lock(metrics_mu_);
    for (const auto& [name, m] : metrics_)
        for (const auto& [code, n] : m.requests) o << "fovea_requests_total{model=\"" << name << "\",code=\"" << code << "\"} " << n << "\n";
    o << "# HELP fovea_inferences_total Images run.\n# TYPE fovea_inferences_total counter\n";
    for (const auto& [name, m] : models_) o << "fovea_inferences_total{model=\"" << name << "\"} " << m.batcher->images() << "\n";
    o << "# HELP fovea_batches_total Forward calls (batches).\n# TYPE fovea_batches_total counter\n";
    for (const auto& [name, m] : models_) o << "fovea_batches_total{model=\"" << name << "\"} " << m.batcher->batches() << "\n";
    o << "# HELP fovea_queue_size Requests waiting for a batch.\n# TYPE fovea_queue_size gauge\n";
    for (const auto& [name, m] : models_) o << "fovea_queue_size{model=\"" << name << "\"} " << m.batcher->queue_size() << "\n";
    o << "# HELP fovea_request_duration_seconds Time from a request's header to its response.\n"
         "# TYPE fovea_request_duration_seconds histogram\n";
    for (const auto& [name, m] : metrics_) {
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= kNumBuckets; ++b) {
            cumulative += m.buckets[b];
            o << "fovea_request_duration_seconds_bucket{model=\"" << name << "\",le=\"";
            if (b < kNumBuckets) o << kBuckets[b]; else o << "+Inf";
            o << "\"} " << cumulative << "\n";
        }
        o << "fovea_request_duration_seconds_sum{model=\"" << name << "\"} " << m.duration_sum << "\n";
        o << "fovea_request_duration_seconds_count{model=\"" << name << "\"} " << m.duration_count << "\n";
    }
    o << "# HELP fovea_open_connections Open HTTP connections.\n# TYPE fovea_open_connections gauge\nfovea_open_connections "
      << connections.load() << "\n";
    return o.str();
}

void Server::accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
            if (!acceptor_.is_open()) return;  // shutting down
        } else {
            auto s = std::make_shared<Session>(std::move(socket), *this);
            if (connections.load() > opt_.max_connections) s->reject_busy();
            else s->start();
        }
        accept();
    });
}

void Server::load_models() {
    fovea::LoadOptions lo;
    lo.precision = opt_.precision == "bf16" ? fovea::Precision::bf16 : opt_.precision == "int8" ? fovea::Precision::int8 : fovea::Precision::f32;
    serve::BatchOptions bo;
    bo.max_batch_size = opt_.max_batch_size;
    bo.max_queue_delay = std::chrono::microseconds(opt_.max_queue_delay_us);
    bo.max_queue = static_cast<std::size_t>(opt_.max_queue);
    for (auto& [name, m] : models_) {
        try {
            m.model = std::make_unique<fovea::Model>(fovea::load_model(m.path, lo));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: model '%s' (%s): %s\n", name.c_str(), m.path.c_str(), e.what());
            exit_code_ = 1;
            asio::post(ioc_, [this] { ioc_.stop(); });
            return;
        }
        const auto& cfg = m.model->pretrained_cfg();
        m.shape = {m.model->in_chans(), cfg.input_size[1], cfg.input_size[2], m.model->num_classes(), m.model->num_features()};
        m.batcher = std::make_unique<serve::Batcher>(*m.model, bo);
        std::fprintf(stderr, "fovea-serve: model '%s' loaded: %s, %lld classes, input %lldx%lld (%s)\n", name.c_str(),
                     m.model->architecture().c_str(), static_cast<long long>(m.shape.num_classes), static_cast<long long>(m.shape.height),
                     static_cast<long long>(m.shape.width), opt_.precision.c_str());
    }
    ready_ = true;
    std::fprintf(stderr, "fovea-serve: ready\n");
}

void Server::begin_shutdown() {
    if (shutting_down_.exchange(true)) return;
    std::fprintf(stderr, "fovea-serve: stopping: no new connections; finishing %lld request(s)\n",
                 static_cast<long long>(in_flight.load()));
    beast::error_code ec;
    acceptor_.close(ec);
    shutdown_started_ = Clock::now();
    drain_timer_.emplace(ioc_);
    drain();
}

// Every accepted request answered (in_flight counts from a header read to its response written),
// then the idle keep-alive connections are dropped by stopping the loop. Not at the first quiet
// moment: a client may have just sent a request on a kept-alive connection, and closing it then
// would lose that request. Requests that arrive while stopping get 503 with Connection: close, so
// once no request has come for kQuiet, no client is still using a connection it could lose.
void Server::drain() {
    constexpr auto kQuiet = std::chrono::milliseconds(300);
    const auto last = Clock::time_point(Clock::duration(last_request.load()));
    if (in_flight.load() == 0 && Clock::now() - last >= kQuiet && Clock::now() - shutdown_started_ >= kQuiet) {
        std::fprintf(stderr, "fovea-serve: stopped\n");
        ioc_.stop();
        return;
    }
    drain_timer_->expires_after(std::chrono::milliseconds(10));
    drain_timer_->async_wait([this](beast::error_code) { drain(); });
}

int Server::run() {
    if (!opt_.api_key_file.empty()) {
        std::ifstream f(opt_.api_key_file);
        if (!f) usage_error("--api-key-file " + opt_.api_key_file + ": cannot read");
        std::getline(f, api_key_);
        while (!api_key_.empty() && std::isspace(static_cast<unsigned char>(api_key_.back()))) api_key_.pop_back();
        if (api_key_.empty()) usage_error("--api-key-file " + opt_.api_key_file + ": the first line is empty");
    }
    if (opt_.threads > 0) fovea::set_num_threads(opt_.threads);
    // The model list: the repository's folders, then --model NAME=PATH; with neither, the bundled models.
    auto add = [&](const std::string& name, const std::string& path) {
        if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos ||
            name[0] == '.')
            usage_error("model name '" + name + "': use letters, digits, '_', '-' and '.'");
        if (models_.count(name)) usage_error("model '" + name + "' given twice");
        models_[name] = ServedModel{name, path, nullptr, {}, nullptr};
    };
    if (opt_.repository.empty() && opt_.models.empty()) opt_.repository = FOVEA_DEFAULT_REPOSITORY;  // the bundled models
    if (!opt_.repository.empty()) {
        std::error_code ec;
        if (!std::filesystem::is_directory(opt_.repository, ec)) usage_error("--model-repository " + opt_.repository + ": not a folder");
        for (const auto& e : std::filesystem::directory_iterator(opt_.repository, ec))
            if (e.is_directory() && e.path().filename().string()[0] != '.') add(e.path().filename().string(), e.path().string());
        if (ec) usage_error("--model-repository " + opt_.repository + ": " + ec.message());
    }
    for (const auto& [name, path] : opt_.models) add(name, path);
    if (models_.empty()) usage_error("no models to serve (--model-repository DIR or --model NAME=PATH)");

    beast::error_code ec;
    const auto address = asio::ip::make_address(opt_.host, ec);
    if (ec) usage_error("--host " + opt_.host + ": not an IP address");
    const tcp::endpoint ep(address, static_cast<unsigned short>(opt_.port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) usage_error("cannot listen on " + opt_.host + ":" + std::to_string(opt_.port) + ": " + ec.message());
    std::fprintf(stderr, "fovea-serve: listening on %s:%d (%zu model(s), fovea %s, %d thread(s))\n", opt_.host.c_str(),
                 acceptor_.local_endpoint().port(), models_.size(), FOVEA_VERSION_STRING, fovea::num_threads());
    signals_.async_wait([this](beast::error_code e, int) {
        if (!e) begin_shutdown();
    });
    accept();
    // Live at once, ready once every model is loaded.
    std::thread loader([this] { load_models(); });
    std::thread io2([this] { ioc_.run(); });
    ioc_.run();
    io2.join();
    loader.join();
    work_.join();
    return exit_code_;
}

Options parse_options(int argc, char** argv) {
    Options o;
    auto value = [&](int& i) -> std::string {
        if (i + 1 >= argc) usage_error(std::string(argv[i]) + " needs a value");
        return argv[++i];
    };
    auto integer = [&](int& i, std::int64_t lo, std::int64_t hi) {
        const std::string flag = argv[i];
        const auto v = fovea::detail::parse_integer(value(i), lo, hi);
        if (!v) usage_error(flag + ": a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
        return static_cast<std::int64_t>(*v);
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model-repository") o.repository = value(i);
        else if (a == "--model") {
            const std::string v = value(i);
            const auto eq = v.find('=');
            if (eq == std::string::npos) usage_error("--model takes NAME=PATH");
            o.models.emplace_back(v.substr(0, eq), v.substr(eq + 1));
        } else if (a == "--host") o.host = value(i);
        else if (a == "--port") o.port = static_cast<int>(integer(i, 0, 65535));
        else if (a == "--threads") o.threads = static_cast<int>(integer(i, 1, 1024));
        else if (a == "--workers") o.workers = static_cast<int>(integer(i, 1, 256));
        else if (a == "--max-batch-size") o.max_batch_size = integer(i, 1, 4096);
        else if (a == "--max-queue-delay-us") o.max_queue_delay_us = integer(i, 0, 10'000'000);
        else if (a == "--max-queue") o.max_queue = integer(i, 1, 1'000'000);
        else if (a == "--max-body-mb") o.max_body_mb = integer(i, 1, 4096);
        else if (a == "--max-connections") o.max_connections = integer(i, 1, 100'000);
        else if (a == "--api-key-file") o.api_key_file = value(i);
        else if (a == "--precision") {
            o.precision = value(i);
            if (o.precision != "f32" && o.precision != "bf16" && o.precision != "int8") usage_error("--precision: f32, bf16 or int8");
        } else if (a == "--help" || a == "-h") {
            std::printf(
                "usage: fovea-serve [--model-repository DIR] [--model NAME=PATH ...] [--host 127.0.0.1] [--port 8000]\n"
                "                   [--threads N] [--workers 2] [--max-batch-size 8] [--max-queue-delay-us 2000]\n"
                "                   [--max-queue 256] [--precision f32|bf16|int8] [--api-key-file FILE]\n"
                "                   [--max-body-mb 64] [--max-connections 512]\n"
                "Serves each sub-folder of DIR (a timm folder: model.safetensors + config.json) under its folder's name\n"
                "over the Open Inference Protocol (KServe v2 REST). With no models given, the bundled Fashion-MNIST ones.\n");
            std::exit(0);
        } else {
            usage_error("unknown option " + a + " (--help)");
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);  // a peer that closes early is a write error, not a signal
    try {
        Server server(parse_options(argc, argv));
        return server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

#pragma once
// Dynamic batching, as Triton's dynamic batcher: requests for one model that arrive within
// max_queue_delay of the first run as one forward call of at most max_batch_size images. Only
// requests of one input size share a call. Each request's rows are the rows it would get alone:
// fovea computes every image of a batch independently (tested bit for bit).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fovea/fovea.hpp>

#include "protocol.hpp"

namespace serve {

struct BatchOptions {
    std::int64_t max_batch_size = 8;                     // images per forward call
    std::chrono::microseconds max_queue_delay{2000};     // how long the first request waits for company
    std::size_t max_queue = 256;                         // requests waiting; more are refused (503)
};

class Batcher {
public:
    // ok: the result; else error_status (400: the request's own input, 500: the model) and message.
    using Done = std::function<void(InferResult&& result, int error_status, const std::string& error)>;

    Batcher(const fovea::Model& model, BatchOptions options) : model_(model), opt_(options) {
        worker_ = std::thread([this] { run(); });
    }
    ~Batcher() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        worker_.join();
    }
    Batcher(const Batcher&) = delete;
    Batcher& operator=(const Batcher&) = delete;

    // Queues x [n, C, H, W] (n <= max_batch_size); false when the queue is full.
    bool submit(fovea::Tensor<float, 4>&& x, bool embeddings, Done done) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (queue_.size() >= opt_.max_queue) return false;
            queue_.push_back(Job{std::move(x), embeddings, std::move(done), std::chrono::steady_clock::now()});
        }
        cv_.notify_one();
        return true;
    }

    std::size_t queue_size() const {
        std::lock_guard<std::mutex> lock(mu_);
        return queue_.size();
    }
    std::uint64_t batches() const { return batches_.load(); }
    std::uint64_t images() const { return images_.load(); }

private:
    struct Job {
        fovea::Tensor<float, 4> x;
        bool embeddings;
        Done done;
        std::chrono::steady_clock::time_point arrived;
    };

    static bool same_size(const Job& a, const Job& b) {
        return a.x.shape(2) == b.x.shape(2) && a.x.shape(3) == b.x.shape(3);
    }

    void run() {
        for (;;) {
            std::vector<Job> batch;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping, and nothing left to run
                // Wait for company until the first request has waited max_queue_delay, or the batch is full.
                const auto deadline = queue_.front().arrived + opt_.max_queue_delay;
                while (!stop_ && images_of_first_size() < opt_.max_batch_size &&
                       cv_.wait_until(lock, deadline) != std::cv_status::timeout) {
                }
                std::int64_t n = 0;
                for (auto it = queue_.begin(); it != queue_.end();) {
                    if ((batch.empty() || same_size(batch.front(), *it)) && n + it->x.shape(0) <= opt_.max_batch_size) {
                        n += it->x.shape(0);
                        batch.push_back(std::move(*it));
                        it = queue_.erase(it);
                    } else {
                        ++it;
                    }
                }
            }
            execute(batch);
        }
    }

    // images queued of the first request's size (under mu_)
    std::int64_t images_of_first_size() const {
        std::int64_t n = 0;
        for (const Job& j : queue_)
            if (same_size(queue_.front(), j)) n += j.x.shape(0);
        return n;
    }

    void execute(std::vector<Job>& batch) {
        const auto& s = batch.front().x.shape();
        std::int64_t n = 0;
        bool embeddings = false;
        for (const Job& j : batch) n += j.x.shape(0), embeddings = embeddings || j.embeddings;
        fovea::Tensor<float, 4> x({n, s[1], s[2], s[3]});
        const std::int64_t image = s[1] * s[2] * s[3];
        std::int64_t row = 0;
        for (const Job& j : batch) {
            std::memcpy(x.data() + row * image, j.x.data(), static_cast<std::size_t>(j.x.size()) * sizeof(float));
            row += j.x.shape(0);
        }
        InferResult all;
        try {
            run_model(x, embeddings, all);
        } catch (const std::exception&) {
            // One request's input (a size this model cannot take) must not fail the others: run each alone.
            for (Job& j : batch) {
                InferResult r;
                try {
                    run_model(j.x, j.embeddings, r);
                    ++batches_;
                    images_ += static_cast<std::uint64_t>(j.x.shape(0));
                    j.done(std::move(r), 0, {});
                } catch (const fovea::Error& e) {
                    j.done({}, 400, e.what());
                } catch (const std::exception& e) {
                    j.done({}, 500, e.what());
                }
            }
            return;
        }
        ++batches_;
        images_ += static_cast<std::uint64_t>(n);
        row = 0;
        for (Job& j : batch) {
            InferResult r;
            r.logits = rows(all.logits, row, j.x.shape(0));
            if (j.embeddings) r.embeddings = rows(all.embeddings, row, j.x.shape(0));
            row += j.x.shape(0);
            j.done(std::move(r), 0, {});
        }
    }

    // Model::forward's own path (features, then the head), the pre-logits taken from the same features.
    void run_model(const fovea::Tensor<float, 4>& x, bool embeddings, InferResult& out) const {
        const fovea::Features f = model_.forward_features(x);
        out.logits = model_.forward_head(f, false);
        if (embeddings) out.embeddings = model_.forward_head(f, true);
    }

    static fovea::Tensor<float, 2> rows(const fovea::Tensor<float, 2>& t, std::int64_t first, std::int64_t count) {
        fovea::Tensor<float, 2> out({count, t.shape(1)});
        std::memcpy(out.data(), t.data() + first * t.shape(1), static_cast<std::size_t>(count * t.shape(1)) * sizeof(float));
        return out;
    }

    const fovea::Model& model_;
    BatchOptions opt_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    bool stop_ = false;
    std::atomic<std::uint64_t> batches_{0}, images_{0};
    std::thread worker_;
};

}  // namespace serve

#pragma once
// One process-wide pool of std::threads that runs the parallel loops of every forward pass.
// A loop is cut into chunks that each write their own outputs, so which thread runs a chunk
// never changes a result: outputs are bit-identical for any thread count.
// The pool serves one loop at a time; a loop that finds it busy (another caller's forward, or a
// loop nested inside a chunk) runs its chunks on the calling thread, so threads are never
// oversubscribed and concurrent forward calls stay correct.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace fovea {
namespace detail {

class ThreadPool {
public:
    static ThreadPool& instance() {
        static ThreadPool pool;
        return pool;
    }

    // Total threads working on a loop, the caller included.
    int size() {
        std::lock_guard<std::mutex> busy(busy_);
        return static_cast<int>(workers_.size()) + 1;
    }

    void resize(int n) {
        if (n <= 0) n = std::max(1u, std::thread::hardware_concurrency());
        std::lock_guard<std::mutex> busy(busy_);
        stop_workers();
        for (int i = 1; i < n; ++i) workers_.emplace_back([this] { work(); });
    }

    // fn(chunk) for chunk in [0, chunks), chunks claimed in any order by any thread.
    template <class F>
    void run(std::int64_t chunks, F&& fn) {
        if (chunks <= 0) return;
        if (chunks == 1) return fn(std::int64_t{0});
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (!busy.owns_lock() || workers_.empty()) {
            for (std::int64_t c = 0; c < chunks; ++c) fn(c);
            return;
        }
        Job job;
        job.call = [](void* f, std::int64_t c) { (*static_cast<std::remove_reference_t<F>*>(f))(c); };
        job.fn = &fn;
        job.chunks = chunks;
        {
            std::lock_guard<std::mutex> lk(m_);
            job_ = &job;
            ++generation_;
        }
        cv_.notify_all();
        job.drain();
        while (job.done.load(std::memory_order_acquire) < chunks) std::this_thread::yield();
        {
            std::lock_guard<std::mutex> lk(m_);
            job_ = nullptr;
        }
        // job lives on this stack: wait for every worker that picked it up to let go
        while (job.users.load(std::memory_order_acquire) > 0) std::this_thread::yield();
    }

    ~ThreadPool() {
        std::lock_guard<std::mutex> busy(busy_);
        stop_workers();
    }

private:
    struct Job {
        void (*call)(void*, std::int64_t) = nullptr;
        void* fn = nullptr;
        std::int64_t chunks = 0;
        std::atomic<std::int64_t> next{0}, done{0};
        std::atomic<int> users{0};

        void drain() {
            for (std::int64_t c; (c = next.fetch_add(1)) < chunks;) {
                call(fn, c);
                done.fetch_add(1, std::memory_order_release);
            }
        }
    };

    ThreadPool() { resize(0); }

    void work() {
        std::uint64_t seen = 0;
        for (;;) {
            Job* job = nullptr;
            // Spin briefly first: a forward pass starts a new loop every few hundred microseconds.
            for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_relaxed) == seen; ++spin)
                std::this_thread::yield();
            {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [&] { return generation_ != seen || stop_; });
                if (stop_) return;
                seen = generation_;
                job = job_;
                if (!job) continue;
                job->users.fetch_add(1);
            }
            job->drain();
            job->users.fetch_sub(1, std::memory_order_release);
        }
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
        stop_ = false;
    }

    std::mutex busy_;  // held by the caller whose loop the pool is running
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<std::thread> workers_;
    Job* job_ = nullptr;
    std::atomic<std::uint64_t> generation_{0};
    bool stop_ = false;
};

// The busiest part's share of `units` whole units over a perfect 1/parts share (1.0: even).
inline double split_imbalance(std::int64_t units, std::int64_t parts) {
    return static_cast<double>((units + parts - 1) / parts * parts) / static_cast<double>(units);
}

// Splits [0, n) into at most `parts` contiguous ranges of whole `grain`s and runs fn(begin, end, part).
template <class F>
void parallel_ranges(std::int64_t n, std::int64_t grain, std::int64_t parts, F&& fn) {
    const std::int64_t units = (n + grain - 1) / grain;
    parts = std::max<std::int64_t>(1, std::min(parts, units));
    ThreadPool::instance().run(parts, [&](std::int64_t p) {
        const std::int64_t b = units * p / parts * grain, e = std::min(n, units * (p + 1) / parts * grain);
        fn(b, e, p);
    });
}

}  // namespace detail

// Threads used by forward passes: n > 0, or 0 for every core. Process-wide.
inline void set_num_threads(int n) { detail::ThreadPool::instance().resize(n); }
inline int num_threads() { return detail::ThreadPool::instance().size(); }

}  // namespace fovea

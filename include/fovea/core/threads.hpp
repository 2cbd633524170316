#pragma once
// One process-wide pool of std::threads that runs the parallel loops of forward passes.
//
// A loop is cut into chunks that each write their own outputs, so which thread runs a chunk never
// changes a result: outputs are bit-identical for any thread count. Several callers may run loops
// at once (threads sharing one model): every loop is listed while it runs and a free worker joins
// the listed loop that has the fewest threads on it, so concurrent callers share the workers
// about evenly. A loop started inside a chunk runs on its own thread (no oversubscription).
// Idle workers spin for a few tens of microseconds (a forward pass starts its next loop within
// that) and then sleep, so an idle pool takes no CPU from the program.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

namespace fovea {
namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
}

class ThreadPool {
public:
    static ThreadPool& instance() {
        static ThreadPool pool;
        return pool;
    }

    // Threads that work on one loop, the caller included. Lock-free: callable from anywhere.
    int size() const noexcept { return size_.load(std::memory_order_relaxed); }
    static int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

    // n threads (the caller counts as one), at most the machine's hardware threads; n <= 0: all.
    // Where the system refuses a thread (a process or memory limit), the pool keeps those it got.
    // Returns the size set. Not from inside a chunk.
    int resize(int n) {
        const int hw = hardware_threads();
        n = n <= 0 ? hw : std::min(n, hw);
        if (in_chunk()) return size();
        std::lock_guard<std::mutex> resizing(resize_);
        stop_workers();
        int made = 1;
        for (; made < n; ++made) {
            try {
                workers_.emplace_back([this] { work(); });
            } catch (const std::system_error&) {
                break;
            }
        }
        size_.store(made, std::memory_order_relaxed);
        return made;
    }

    // True on a thread that is running a chunk of some loop.
    static bool& in_chunk() {
        thread_local bool flag = false;
        return flag;
    }

    // fn(chunk) for chunk in [0, chunks), chunks claimed in any order by any thread. The first
    // exception a chunk throws is rethrown here once every chunk has finished.
    template <class F>
    void run(std::int64_t chunks, F&& fn) {
        if (chunks <= 0) return;
        if (chunks == 1 || in_chunk() || size() == 1) {
            for (std::int64_t c = 0; c < chunks; ++c) fn(c);
            return;
        }
        Job job;
        job.call = [](void* f, std::int64_t c) { (*static_cast<std::remove_reference_t<F>*>(f))(c); };
        job.fn = &fn;
        job.chunks = chunks;
        job.users.store(1, std::memory_order_relaxed);  // the caller
        {
            std::lock_guard<std::mutex> lk(m_);
            active_.push_back(&job);
            generation_.fetch_add(1, std::memory_order_release);
            if (sleepers_ > 0) cv_.notify_all();
        }
        job.drain();
        job.users.fetch_sub(1, std::memory_order_release);
        while (job.done.load(std::memory_order_acquire) < chunks) cpu_relax();
        {
            std::lock_guard<std::mutex> lk(m_);
            active_.erase(std::find(active_.begin(), active_.end(), &job));
        }
        // job lives on this stack: wait for every worker that joined it to let go
        while (job.users.load(std::memory_order_acquire) > 0) cpu_relax();
        if (job.error) std::rethrow_exception(job.error);
    }

    ~ThreadPool() {
        std::lock_guard<std::mutex> resizing(resize_);
        stop_workers();
    }

private:
    struct Job {
        void (*call)(void*, std::int64_t) = nullptr;
        void* fn = nullptr;
        std::int64_t chunks = 0;
        std::atomic<std::int64_t> next{0}, done{0};
        std::atomic<int> users{0};
        std::atomic<bool> failed{false};
        std::exception_ptr error;  // written by the first chunk that throws, read after done

        bool has_work() const { return next.load(std::memory_order_relaxed) < chunks; }
        void drain() {
            in_chunk() = true;
            for (std::int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
                try {
                    call(fn, c);
                } catch (...) {
                    if (!failed.exchange(true)) error = std::current_exception();
                }
                done.fetch_add(1, std::memory_order_release);
            }
            in_chunk() = false;
        }
    };

    ThreadPool() { resize(0); }

    // The listed loop with work left and the fewest threads on it, joined; nullptr if none.
    Job* take() {
        std::lock_guard<std::mutex> lk(m_);
        Job* best = nullptr;
        for (Job* j : active_)
            if (j->has_work() && (!best || j->users.load(std::memory_order_relaxed) < best->users.load(std::memory_order_relaxed)))
                best = j;
        if (best) best->users.fetch_add(1, std::memory_order_relaxed);
        return best;
    }

    void work() {
        std::uint64_t seen = generation_.load(std::memory_order_acquire);
        for (;;) {
            if (Job* job = take()) {
                job->drain();
                job->users.fetch_sub(1, std::memory_order_release);
                continue;
            }
            // Nothing listed: watch for a new loop for a moment, then sleep.
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
            bool woke = false;
            for (int i = 0; !woke; ++i) {
                woke = generation_.load(std::memory_order_acquire) != seen;
                if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
                cpu_relax();
            }
            std::unique_lock<std::mutex> lk(m_);
            if (!woke) {
                ++sleepers_;
                cv_.wait(lk, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
                --sleepers_;
            }
            if (stop_) return;
            seen = generation_.load(std::memory_order_relaxed);
        }
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
            cv_.notify_all();
        }
        for (auto& t : workers_) t.join();
        workers_.clear();
        stop_ = false;
        size_.store(1, std::memory_order_relaxed);
    }

    static constexpr int kSpinMicros = 50;

    std::mutex resize_;  // one resize at a time
    std::mutex m_;       // guards active_, sleepers_, stop_
    std::condition_variable cv_;
    std::vector<std::thread> workers_;
    std::vector<Job*> active_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> size_{1};
    int sleepers_ = 0;
    bool stop_ = false;
};

// The busiest part's share of `units` whole units over a perfect 1/parts share (1.0: even).
inline double split_imbalance(std::int64_t units, std::int64_t parts) {
    return static_cast<double>((units + parts - 1) / parts * parts) / static_cast<double>(units);
}

// A grid of rows x cols parts (rows * cols <= parts) over a rows_units x col_units block of work
// (a GEMM's row tiles x column panels) that leaves the busiest part the fewest units. Fewer row
// groups win ties: each extra one streams the weights of its columns once more. ViT-B's proj at 16
// threads (17 row tiles x 24 panels): 2 x 8 gives the busiest part 27 units against 25.5 even, where
// panels alone (1 x 16) give it 34.
struct GridSplit {
    std::int64_t rows = 1, cols = 1;
};
inline GridSplit grid_split(std::int64_t row_units, std::int64_t col_units, std::int64_t parts) {
    GridSplit best;
    std::int64_t best_load = -1;
    for (std::int64_t r = 1; r <= std::min(parts, row_units); ++r) {
        const std::int64_t c = std::max<std::int64_t>(1, std::min(parts / r, col_units));
        const std::int64_t load = (row_units + r - 1) / r * ((col_units + c - 1) / c);
        if (best_load < 0 || load < best_load) {
            best = {r, c};
            best_load = load;
        }
    }
    return best;
}

}  // namespace detail

// Threads used by forward passes: n > 0 (at most the machine's hardware threads), or 0 for all of
// them. Process-wide. Returns the number set.
inline int set_num_threads(int n) { return detail::ThreadPool::instance().resize(n); }
inline int num_threads() { return detail::ThreadPool::instance().size(); }

}  // namespace fovea

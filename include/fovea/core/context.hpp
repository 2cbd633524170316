#pragma once
// The execution context passed down a forward pass (as ncnn's Option): how many parts a parallel
// loop may be cut into, the scratch arena of the thread running the code, and optional hooks that
// cost nothing when absent. Layers take it instead of flags; a chunk of a parallel loop gets a
// context of its own (one thread, the arena of the thread that runs it).
#include <atomic>
#include <chrono>
#include <cstdint>

#include "fovea/core/threads.hpp"
#include "fovea/core/workspace.hpp"

namespace fovea {

// Counters a benchmark can ask for (Context::counters); nothing is counted without them.
// Phases of a forward pass whose wall time is counted (everything else: patch embedding, residual
// adds, pooling, the head's glue, is the rest of the pass).
enum class Phase { Linear, Attention, LayerNorm, kCount };
inline constexpr const char* kPhaseNames[] = {"linear", "attention", "layernorm"};

struct Counters {
    std::atomic<std::int64_t> gemm_flops{0};  // 2 per multiply-add through the GEMM seam, padding excluded
    // Wall time (ns) of each phase on the thread that called forward: Linear layers (fp32, bf16 or
    // int8, activation conversion and epilogue included), the attention core between qkv and proj,
    // LayerNorms. A phase inside another is the outer one's, so the sum is at most the pass.
    std::atomic<std::int64_t> phase_ns[static_cast<int>(Phase::kCount)] = {};
};

namespace detail {
inline std::atomic<Counters*>& installed_counters() {
    static std::atomic<Counters*> c{nullptr};
    return c;
}
}  // namespace detail

// Counts into *c in every forward pass from now on (nullptr: stop). For benchmarks.
inline void set_counters(Counters* c) { detail::installed_counters().store(c, std::memory_order_relaxed); }

// What a forward pass runs with. Any `threads` works, also more than the pool has (its loops are
// then cut into that many parts, run by the threads there are): results do not depend on it.
struct Context {
    int threads = 1;               // parts a parallel loop may be cut into
    Arena* arena = nullptr;        // scratch of the thread running this code
    Counters* counters = nullptr;  // null: nothing counted

    // A forward pass on the calling thread: the pool (shared with other callers running at the
    // same time), this thread's arena.
    static Context top() {
        const int parts = detail::ThreadPool::in_chunk() ? 1 : num_threads();
        return {parts, &thread_arena(), detail::installed_counters().load(std::memory_order_relaxed)};
    }
    // The context of a chunk of a parallel loop, on whichever thread runs it.
    Context chunk() const { return {1, &thread_arena(), counters}; }
};

// Splits [0, n) into at most `parts` contiguous ranges of whole `grain`s (parts is capped by
// ctx.threads' loop: pass ctx.threads or a multiple of it) and runs fn(begin, end, sub) on the pool,
// sub being the running thread's context.
template <class F>
void parallel_for(const Context& ctx, std::int64_t n, std::int64_t grain, std::int64_t parts, F&& fn) {
    if (n <= 0) return;
    const std::int64_t units = (n + grain - 1) / grain;
    parts = ctx.threads <= 1 ? 1 : std::max<std::int64_t>(1, std::min(parts, units));
    if (parts == 1) {
        Context sub = ctx;
        sub.threads = 1;
        return fn(std::int64_t{0}, n, sub);
    }
    detail::ThreadPool::instance().run(parts, [&](std::int64_t p) {
        const std::int64_t b = units * p / parts * grain, e = std::min(n, units * (p + 1) / parts * grain);
        Context sub = ctx.chunk();
        fn(b, e, sub);
    });
}

// Counts the enclosing scope's wall time (or up to stop()) into ctx.counters' phase, when
// counting, on the calling thread (not in a pool chunk), and when no other phase is open on it.
class PhaseTimer {
public:
    PhaseTimer(const Context& ctx, Phase p)
        : c_(ctx.counters && !open() && !detail::ThreadPool::in_chunk() ? ctx.counters : nullptr), p_(p) {
        if (!c_) return;
        open() = true;
        t0_ = std::chrono::steady_clock::now();
    }
    ~PhaseTimer() { stop(); }
    void stop() {
        if (!c_) return;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count();
        c_->phase_ns[static_cast<int>(p_)].fetch_add(ns, std::memory_order_relaxed);
        open() = false;
        c_ = nullptr;
    }
    PhaseTimer(const PhaseTimer&) = delete;
    PhaseTimer& operator=(const PhaseTimer&) = delete;

private:
    static bool& open() {
        static thread_local bool o = false;
        return o;
    }
    Counters* c_;
    Phase p_;
    std::chrono::steady_clock::time_point t0_{};
};

}  // namespace fovea

#pragma once
// Scratch memory for forward passes: a bump arena per thread with scoped buffers.
//   auto scope = arena.scope();              // everything allocated below is given back at '}'
//   float* qkv = arena.alloc<float>(rows * 3 * C);
// Blocks are kept once grown and merged into one when the arena is empty again, so a thread's
// steady state is one block sized to its largest pass; buffers never move while in use.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#if defined(__MINGW32__)
#include <pthread.h>  // winpthreads, which MinGW's std::thread runs on
#endif

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"  // aligned_malloc

namespace fovea {

class Arena {
public:
    static constexpr std::size_t kAlign = 64;

    // Restores the arena to where it was when the scope began.
    class Scope {
    public:
        explicit Scope(Arena& a) : a_(&a), block_(a.block_), used_(a.used_) {}
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
        ~Scope() {
            a_->block_ = block_;
            a_->used_ = used_;
            if (block_ == 0 && used_ == 0) a_->merge();
        }

    private:
        Arena* a_;
        std::size_t block_, used_;
    };

    [[nodiscard]] Scope scope() { return Scope(*this); }

    // n elements of T, 64-byte aligned, uninitialised.
    template <typename T>
    T* alloc(std::int64_t n) {
        if (n < 0) detail::fail("internal: negative scratch size");
        const auto count = static_cast<std::size_t>(n);
        if (count > (std::size_t{1} << 40) / sizeof(T)) throw std::bad_alloc();
        const std::size_t bytes = (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;
        while (block_ < blocks_.size() && used_ + bytes > blocks_[block_].size) {
            ++block_;
            used_ = 0;
        }
        if (block_ == blocks_.size()) {
            std::size_t total = 0;
            for (auto& b : blocks_) total += b.size;
            blocks_.push_back(Block::make(std::max(bytes, total)));
            used_ = 0;
        }
        T* p = reinterpret_cast<T*>(blocks_[block_].data.get() + used_);
        used_ += bytes;
        return p;
    }

    std::size_t capacity() const {
        std::size_t total = 0;
        for (auto& b : blocks_) total += b.size;
        return total;
    }

private:
    struct Block {
        std::unique_ptr<std::byte[], detail::AlignedFree> data;
        std::size_t size = 0;
        static Block make(std::size_t bytes) {
            bytes = std::max<std::size_t>(bytes, 64 * 1024);
            void* p = detail::aligned_malloc((bytes + kAlign - 1) / kAlign * kAlign);
            if (!p) throw std::bad_alloc();
            return {std::unique_ptr<std::byte[], detail::AlignedFree>(static_cast<std::byte*>(p)), bytes};
        }
    };

    // Several blocks and nothing in use: one block of their total size from now on.
    void merge() {
        if (blocks_.size() <= 1) return;
        const std::size_t total = capacity();
        blocks_.clear();
        blocks_.push_back(Block::make(total));
    }

    std::vector<Block> blocks_;
    std::size_t block_ = 0, used_ = 0;
};

// The calling thread's arena, kept until the thread exits (pool workers have theirs).
inline Arena& thread_arena() {
#if defined(__MINGW32__)
    // MinGW GCC's emulated thread_local can be freed before its destructor runs at thread exit
    // (which then frees garbage): the arena is owned through a thread key whose destructor is
    // handed the pointer itself.
    static const pthread_key_t key = [] {
        pthread_key_t k{};
        if (pthread_key_create(&k, [](void* a) { delete static_cast<Arena*>(a); }) != 0) throw std::bad_alloc();
        return k;
    }();
    auto* arena = static_cast<Arena*>(pthread_getspecific(key));
    if (!arena) {
        auto owned = std::make_unique<Arena>();
        if (pthread_setspecific(key, owned.get()) != 0) throw std::bad_alloc();
        arena = owned.release();
    }
    return *arena;
#else
    thread_local Arena arena;
    return arena;
#endif
}

}  // namespace fovea

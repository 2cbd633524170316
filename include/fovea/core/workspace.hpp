#pragma once
// Scratch buffers for one forward pass. Every thread that calls forward has its own Workspace
// (thread_workspace), so a loaded model can be shared by threads; buffers grow to the largest
// request and are then reused by every later pass on that thread, whatever the model.
#include <array>
#include <cstdint>
#include <memory>

#include "fovea/core/tensor.hpp"

namespace fovea {

enum class Slot { Norm, Qkv, AttnOut, Hidden, Cols, Shortcut, Count };

class Workspace {
public:
    float* get(Slot s, std::int64_t n) {
        auto& b = bufs_[static_cast<int>(s)];
        if (b.size < n) {
            b.data = detail::aligned_array<float>(static_cast<std::size_t>(n));
            b.size = n;
        }
        return b.data.get();
    }

private:
    struct Buf {
        std::unique_ptr<float[], detail::AlignedFree> data;
        std::int64_t size = 0;
    };
    std::array<Buf, static_cast<int>(Slot::Count)> bufs_;
};

// The calling thread's workspace, kept until the thread exits. A model's top-level forward takes
// it; layers below only receive it.
inline Workspace& thread_workspace() {
    thread_local Workspace ws;
    return ws;
}

}  // namespace fovea

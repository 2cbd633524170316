#pragma once
// TensorView: non-owning pointer + shape + strides (in elements), any element type.
// Tensor: owning, 64-byte aligned, contiguous row-major storage.
// Both reshape without copying (contiguous only) and slice along their first dimension, so layers
// and models pass views at their boundaries; rank-2 tensors give their rows as std::span.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

#if defined(_WIN32)
#include <malloc.h>  // _aligned_malloc
#endif

#include "fovea/core/error.hpp"

namespace fovea {

namespace detail {
// A layer's argument of the wrong shape: a programming error inside fovea or in a caller of a
// layer, reported as the layer, the argument and both shapes.
template <typename Shape, typename... Expected>
void check_shape(const char* layer, const char* arg, const Shape& got, Expected... expected) {
    const std::array<std::int64_t, sizeof...(Expected)> want{static_cast<std::int64_t>(expected)...};
    for (std::size_t i = 0; i < want.size(); ++i)
        if (want[i] >= 0 && want[i] != got[i]) fail(layer, ": ", arg, " is ", dims_str(got), ", expected ", dims_str(want), " (-1: any)");
}

template <std::size_t Rank>
std::int64_t shape_size(const std::array<std::int64_t, Rank>& shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}
}  // namespace detail

template <typename T, std::size_t Rank>
class TensorView {
public:
    using Shape = std::array<std::int64_t, Rank>;
    using value_type = std::remove_const_t<T>;

    TensorView() = default;
    TensorView(T* data, const Shape& shape) : data_(data), shape_(shape) {
        std::int64_t s = 1;
        for (std::size_t i = Rank; i-- > 0;) {
            strides_[i] = s;
            s *= shape_[i];
        }
    }
    TensorView(T* data, const Shape& shape, const Shape& strides) : data_(data), shape_(shape), strides_(strides) {}

    // A mutable view converts to a const one, never the other way.
    operator TensorView<const T, Rank>() const { return {data_, shape_, strides_}; }

    T* data() const { return data_; }
    const Shape& shape() const { return shape_; }
    std::int64_t shape(std::size_t i) const { return shape_[i]; }
    const Shape& strides() const { return strides_; }
    std::int64_t stride(std::size_t i) const { return strides_[i]; }
    std::int64_t size() const { return detail::shape_size(shape_); }
    bool empty() const { return data_ == nullptr; }
    bool is_contiguous() const { return TensorView(data_, shape_).strides_ == strides_; }

    template <typename... I>
    T& operator()(I... idx) const {
        static_assert(sizeof...(I) == Rank, "index count must equal rank");
        const std::array<std::int64_t, Rank> ix{static_cast<std::int64_t>(idx)...};
        std::int64_t off = 0;
        for (std::size_t i = 0; i < Rank; ++i) off += ix[i] * strides_[i];
        return data_[off];
    }

    // The same elements under another shape of the same size (contiguous views only).
    template <std::size_t R2>
    TensorView<T, R2> reshape(const std::array<std::int64_t, R2>& shape) const {
        if (!is_contiguous() || detail::shape_size(shape) != size())
            detail::fail("reshape: cannot view ", detail::dims_str(shape_), " as ", detail::dims_str(shape));
        return TensorView<T, R2>(data_, shape);
    }

    // Element i of the first dimension: a view of rank Rank - 1.
    TensorView<T, Rank - 1> operator[](std::int64_t i) const requires(Rank > 1) {
        std::array<std::int64_t, Rank - 1> s{}, st{};
        for (std::size_t k = 1; k < Rank; ++k) s[k - 1] = shape_[k], st[k - 1] = strides_[k];
        return TensorView<T, Rank - 1>(data_ + i * strides_[0], s, st);
    }
    // Elements [begin, end) of the first dimension.
    TensorView slice(std::int64_t begin, std::int64_t end) const {
        Shape s = shape_;
        s[0] = end - begin;
        return TensorView(data_ + begin * strides_[0], s, strides_);
    }
    // Row i of a contiguous rank-2 view.
    std::span<T> row(std::int64_t i) const requires(Rank == 2) {
        return {data_ + i * strides_[0], static_cast<std::size_t>(shape_[1])};
    }

private:
    T* data_ = nullptr;
    Shape shape_{};
    Shape strides_{};
};

namespace detail {
inline constexpr std::size_t kAlign = 64;

// kAlign-aligned memory, `bytes` a multiple of kAlign. Windows' C runtime has no aligned_alloc:
// its _aligned_malloc blocks go back through _aligned_free, never free.
inline void* aligned_malloc(std::size_t bytes) {
#if defined(_WIN32)
    return _aligned_malloc(bytes, kAlign);
#else
    return std::aligned_alloc(kAlign, bytes);
#endif
}
struct AlignedFree {
    void operator()(void* p) const {
#if defined(_WIN32)
        _aligned_free(p);
#else
        std::free(p);
#endif
    }
};

template <typename T>
std::unique_ptr<T[], AlignedFree> aligned_array(std::size_t n) {
    if (n > (std::size_t{1} << 44) / sizeof(T)) throw std::bad_alloc();
    std::size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    if (bytes == 0) bytes = kAlign;
    void* p = aligned_malloc(bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(p));
}
}  // namespace detail

template <typename T, std::size_t Rank>
class Tensor {
public:
    using Shape = std::array<std::int64_t, Rank>;

    Tensor() = default;
    explicit Tensor(const Shape& shape) : shape_(shape) {
        for (auto d : shape_)
            if (d < 0) detail::fail("negative tensor dimension in ", detail::dims_str(shape_));
        data_ = detail::aligned_array<T>(static_cast<std::size_t>(size()));
    }
    Tensor(const Tensor& o) : Tensor(o.shape_) {
        std::memcpy(data_.get(), o.data(), static_cast<std::size_t>(o.size()) * sizeof(T));
    }
    Tensor& operator=(const Tensor& o) {
        if (this != &o) *this = Tensor(o);
        return *this;
    }
    Tensor(Tensor&&) noexcept = default;
    Tensor& operator=(Tensor&&) noexcept = default;

    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    const Shape& shape() const { return shape_; }
    std::int64_t shape(std::size_t i) const { return shape_[i]; }
    std::int64_t size() const { return detail::shape_size(shape_); }
    bool empty() const { return !data_; }
    TensorView<T, Rank> view() { return {data(), shape_}; }
    TensorView<const T, Rank> view() const { return {data(), shape_}; }
    operator TensorView<T, Rank>() { return view(); }
    operator TensorView<const T, Rank>() const { return view(); }

    template <typename... I>
    T& operator()(I... idx) { return view()(idx...); }
    template <typename... I>
    const T& operator()(I... idx) const { return view()(idx...); }

    // This tensor's storage under another shape of the same size; this tensor is left empty.
    template <std::size_t R2>
    Tensor<T, R2> reshape(const std::array<std::int64_t, R2>& shape) && {
        if (detail::shape_size(shape) != size())
            detail::fail("reshape: cannot view ", detail::dims_str(shape_), " as ", detail::dims_str(shape));
        Tensor<T, R2> out;
        out.data_ = std::move(data_);
        out.shape_ = shape;
        shape_ = Shape{};
        return out;
    }
    // Row i of a rank-2 tensor (logits, features) as a span.
    std::span<T> row(std::int64_t i) requires(Rank == 2) { return view().row(i); }
    std::span<const T> row(std::int64_t i) const requires(Rank == 2) { return view().row(i); }

private:
    template <typename, std::size_t>
    friend class Tensor;
    std::unique_ptr<T[], detail::AlignedFree> data_;
    Shape shape_{};
};

}  // namespace fovea

#pragma once
// TensorView: non-owning pointer + shape + strides (in elements).
// Tensor: owning, 64-byte aligned, contiguous row-major storage.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "fovea/core/error.hpp"

namespace fovea {

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
    TensorView(T* data, const Shape& shape, const Shape& strides)
        : data_(data), shape_(shape), strides_(strides) {}

    // A mutable view converts to a const one, never the other way.
    operator TensorView<const T, Rank>() const { return {data_, shape_, strides_}; }

    T* data() const { return data_; }
    const Shape& shape() const { return shape_; }
    std::int64_t shape(std::size_t i) const { return shape_[i]; }
    const Shape& strides() const { return strides_; }
    std::int64_t stride(std::size_t i) const { return strides_[i]; }
    std::int64_t size() const {
        std::int64_t n = 1;
        for (auto d : shape_) n *= d;
        return n;
    }
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

private:
    T* data_ = nullptr;
    Shape shape_{};
    Shape strides_{};
};

namespace detail {
struct AlignedFree {
    void operator()(void* p) const { std::free(p); }
};
inline constexpr std::size_t kAlign = 64;

template <typename T>
std::unique_ptr<T[], AlignedFree> aligned_array(std::size_t n) {
    std::size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    if (bytes == 0) bytes = kAlign;
    void* p = std::aligned_alloc(kAlign, bytes);
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
    Tensor(const Tensor& o) : Tensor(o.shape_) { std::memcpy(data_.get(), o.data(), o.size() * sizeof(T)); }
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
    std::int64_t size() const {
        std::int64_t n = 1;
        for (auto d : shape_) n *= d;
        return n;
    }
    TensorView<T, Rank> view() { return {data(), shape_}; }
    TensorView<const T, Rank> view() const { return {data(), shape_}; }
    operator TensorView<T, Rank>() { return view(); }
    operator TensorView<const T, Rank>() const { return view(); }

    template <typename... I>
    T& operator()(I... idx) { return view()(idx...); }
    template <typename... I>
    const T& operator()(I... idx) const { return view()(idx...); }

private:
    std::unique_ptr<T[], detail::AlignedFree> data_;
    Shape shape_{};
};

}  // namespace fovea

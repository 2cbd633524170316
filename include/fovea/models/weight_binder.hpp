#pragma once
// The model side of loading: layers ask for their parameters by timm's names and shapes, and the
// binder checks each against the file (naming the file and the tensor), converts it, keeps what the
// model keeps, reports NaN / Inf, and at the end rejects tensors nobody asked for. io/safetensors.hpp
// only reads the file.
#include <algorithm>
#include <cmath>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/precision.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/io/safetensors.hpp"

namespace fovea {

// Binds model parameters by name and shape. Every check names the file and the tensor;
// finish() rejects tensors the model did not ask for.
struct BindOptions {
    Precision precision = Precision::f32;            // what the layers pack their weights as
    std::vector<std::string>* non_finite = nullptr;  // names of tensors holding NaN or Inf, if given
};

class WeightBinder {
public:
    using Options = BindOptions;
    explicit WeightBinder(std::shared_ptr<const SafeTensorsFile> file, Options o = {}) : file_(std::move(file)), opt_(o) {}

    Precision precision() const { return opt_.precision; }

    // A tensor the model keeps as stored (a bias, a norm, an embedding): checked, read, kept.
    template <std::size_t R>
    TensorView<const float, R> get(const std::string& name, const std::array<std::int64_t, R>& shape) {
        const std::vector<float> v = read_checked(name, shape);
        auto buf = detail::aligned_array<float>(std::max<std::size_t>(v.size(), 1));
        std::copy(v.begin(), v.end(), buf.get());
        kept_->push_back(std::move(buf));
        return TensorView<const float, R>(kept_->back().get(), shape);
    }

    // A tensor the model converts at load (a weight it packs): checked and read into a buffer the
    // binder holds until release() (or until the binder goes), so loading holds one such tensor
    // beyond what the model keeps.
    template <std::size_t R>
    TensorView<const float, R> borrow(const std::string& name, const std::array<std::int64_t, R>& shape) {
        std::vector<float> v = read_checked(name, shape);
        const float* p = v.data();
        borrowed_.push_back(std::move(v));
        return TensorView<const float, R>(p, shape);
    }
    // A tensor the model computes at load (a fused bias, a gathered position table), kept with
    // its parameters.
    template <std::size_t R>
    TensorView<const float, R> keep(const std::vector<float>& values, const std::array<std::int64_t, R>& shape) {
        std::int64_t n = 1;
        for (auto d : shape) n *= d;
        if (n != static_cast<std::int64_t>(values.size())) detail::fail("internal: kept tensor of the wrong size");
        auto buf = detail::aligned_array<float>(values.size());
        std::copy(values.begin(), values.end(), buf.get());
        kept_->push_back(std::move(buf));
        return TensorView<const float, R>(kept_->back().get(), shape);
    }

    bool has(const std::string& name) const { return file_->find(name) != nullptr; }
    // Frees a borrowed tensor's buffer.
    template <std::size_t R>
    void release(const TensorView<const float, R>& t) {
        borrowed_.remove_if([&](const std::vector<float>& v) { return v.data() == t.data(); });
    }
    // Owner of every tensor get() returned: the model holds it.
    std::shared_ptr<const void> kept() const { return kept_; }
    // Stored buffers that fovea recomputes (for example relative_position_index).
    void ignore(const std::string& name) { used_.insert(name); }

    void finish() const {
        std::vector<std::string> extra;
        for (auto& [name, _] : file_->tensors())
            if (!used_.count(name)) extra.push_back(name);
        if (extra.empty()) return;
        std::string list;
        for (std::size_t i = 0; i < extra.size() && i < 8; ++i) list += (i ? ", '" : "'") + extra[i] + "'";
        if (extra.size() > 8) list += ", ... (" + std::to_string(extra.size()) + " in all)";
        detail::fail(file_->path(), ": unexpected tensor", extra.size() > 1 ? "s " : " ", list,
                     " not used by the model");
    }

    const std::shared_ptr<const SafeTensorsFile>& file() const { return file_; }

private:
    template <std::size_t R>
    std::vector<float> read_checked(const std::string& name, const std::array<std::int64_t, R>& shape) {
        const TensorInfo* t = file_->find(name);
        if (!t) detail::fail(file_->path(), ": missing tensor '", name, "' (expected ", detail::dims_str(shape), ")");
        if (t->shape.size() != R || !std::equal(shape.begin(), shape.end(), t->shape.begin()))
            detail::fail(file_->path(), ": tensor '", name, "': expected ", detail::dims_str(shape), " got ",
                         detail::dims_str(t->shape));
        if (!detail::is_float(t->dtype))
            detail::fail(file_->path(), ": tensor '", name, "' is not a floating-point tensor");
        used_.insert(name);
        std::vector<float> v = file_->read(*t);
        if (opt_.non_finite && !std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }))
            opt_.non_finite->push_back(name);
        return v;
    }

    std::shared_ptr<const SafeTensorsFile> file_;
    Options opt_;
    std::set<std::string> used_;
    std::list<std::vector<float>> borrowed_;
    std::shared_ptr<std::vector<std::unique_ptr<float[], detail::AlignedFree>>> kept_ =
        std::make_shared<std::vector<std::unique_ptr<float[], detail::AlignedFree>>>();
};

}  // namespace fovea

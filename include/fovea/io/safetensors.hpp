#pragma once
// Memory-mapped safetensors (the format timm publishes): 8-byte little-endian header
// length, a JSON header, then one contiguous byte buffer. Every field is validated before
// it sizes or addresses anything. Float tensors are exposed as F32: aligned F32 data is a
// view into the mapping (no copy); F16/BF16/F64 and misaligned F32 are converted once.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fovea/core/error.hpp"
#include "fovea/core/precision.hpp"
#include "fovea/core/tensor.hpp"

namespace fovea {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

namespace detail {

inline std::optional<DType> parse_dtype(const std::string& s) {
    static const std::map<std::string, DType> kNames = {
        {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
        {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::BOOL}};
    auto it = kNames.find(s);
    if (it == kNames.end()) return std::nullopt;
    return it->second;
}

inline std::size_t dtype_size(DType t) {
    switch (t) {
        case DType::F64: case DType::I64: return 8;
        case DType::F32: case DType::I32: return 4;
        case DType::F16: case DType::BF16: case DType::I16: return 2;
        default: return 1;
    }
}

inline bool is_float(DType t) {
    return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while (!(man & 0x400u)) { man <<= 1; --exp; }
            bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline float bf16_to_float(std::uint16_t h) {
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Read-only mapping of a whole file; unmapped when the last owner goes.
class MappedFile {
public:
    explicit MappedFile(const std::string& path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) fail(path, ": cannot open file (", std::strerror(errno), ")");
        if (S_ISDIR(st.st_mode)) fail(path, ": is a directory, expected a file");
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail(path, ": cannot open file (", std::strerror(errno), ")");
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            fail(path, ": not a regular file");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                ::close(fd);
                fail(path, ": cannot map file (", std::strerror(errno), ")");
            }
            data_ = static_cast<const std::uint8_t*>(p);
        }
        ::close(fd);
    }
    // An owned copy of bytes already in memory (downloads, fuzzing): same interface as a mapping.
    MappedFile(const std::uint8_t* bytes, std::size_t size) : size_(size), owned_(bytes, bytes + size) {
        data_ = owned_.data();
    }
    ~MappedFile() {
        if (data_ && owned_.empty() && size_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }

    // Gives back the resident pages that lie wholly inside [p, p + n) of the mapping (a weight
    // that was copied into its packed layout): they stop counting toward the process's memory
    // and would be read from the file again if touched. Anything outside the mapping is ignored.
    void release(const void* p, std::size_t n) const {
        if (!owned_.empty() || !data_) return;
        auto b = reinterpret_cast<std::uintptr_t>(p), e = b + n;
        const auto lo = reinterpret_cast<std::uintptr_t>(data_), hi = lo + size_;
        if (b < lo || e > hi) return;
        const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        b = (b + page - 1) / page * page;
        e = e / page * page;
        if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
    }

private:
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    std::vector<std::uint8_t> owned_;
};

}  // namespace detail

struct TensorInfo {
    std::string name;
    DType dtype{};
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0;  // offsets into the data buffer
};

class SafeTensorsFile {
public:
    static constexpr std::uint64_t kMaxHeader = 100u * 1024u * 1024u;

    static std::shared_ptr<const SafeTensorsFile> open(const std::string& path) {
        return std::shared_ptr<const SafeTensorsFile>(new SafeTensorsFile(path, std::make_shared<detail::MappedFile>(path)));
    }
    // The same checks on bytes in memory (copied); `name` stands for the path in messages.
    static std::shared_ptr<const SafeTensorsFile> from_memory(const std::uint8_t* data, std::size_t size,
                                                              const std::string& name = "<memory>") {
        return std::shared_ptr<const SafeTensorsFile>(new SafeTensorsFile(name, std::make_shared<detail::MappedFile>(data, size)));
    }

    const std::string& path() const { return path_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const std::string& name) const {
        auto it = tensors_.find(name);
        return it == tensors_.end() ? nullptr : &it->second;
    }

    // The tensor as F32 values: a view into the mapping where the stored bytes already are
    // aligned F32, otherwise the buffer converted at open.
    const float* f32(const TensorInfo& t) const {
        auto it = converted_.find(t.name);
        if (it != converted_.end()) return it->second.get();
        return reinterpret_cast<const float*>(data_begin() + t.begin);
    }

    // Another checkpoint layout presented under other names (see io/layouts.hpp): a copy of the
    // table over the same mapping. `renames` maps old to new names; `derived` adds F32 tensors
    // (fused q/k/v, say); `dropped` removes entries (stored buffers fovea recomputes).
    struct Derived {
        std::string name;
        std::vector<std::int64_t> shape;
        std::vector<float> values;
    };
    std::shared_ptr<const SafeTensorsFile> relabelled(const std::map<std::string, std::string>& renames,
                                                      std::vector<Derived> derived,
                                                      const std::vector<std::string>& dropped) const {
        auto out = std::shared_ptr<SafeTensorsFile>(new SafeTensorsFile(*this));
        for (auto& d : dropped) {
            out->tensors_.erase(d);
            out->converted_.erase(d);
        }
        std::map<std::string, TensorInfo> tensors;
        std::map<std::string, std::shared_ptr<const float>> converted;
        for (auto& [name, t] : out->tensors_) {
            auto it = renames.find(name);
            const std::string to = it == renames.end() ? name : it->second;
            TensorInfo nt = t;
            nt.name = to;
            if (!tensors.emplace(to, nt).second) detail::fail(path_, ": two tensors map to '", to, "'");
            auto c = out->converted_.find(name);
            if (c != out->converted_.end()) converted[to] = c->second;
            else if (detail::is_float(t.dtype)) converted[to] = std::shared_ptr<const float>(out->file_, f32(t));  // aliases the mapping
        }
        for (auto& d : derived) {
            TensorInfo t;
            t.name = d.name;
            t.dtype = DType::F32;
            t.shape = d.shape;
            auto buf = std::shared_ptr<float>(detail::aligned_array<float>(d.values.size()).release(), detail::AlignedFree());
            std::copy(d.values.begin(), d.values.end(), buf.get());
            if (!tensors.emplace(d.name, t).second) detail::fail(path_, ": two tensors map to '", d.name, "'");
            converted[d.name] = buf;
        }
        out->tensors_ = std::move(tensors);
        out->converted_ = std::move(converted);
        return out;
    }
    const std::uint8_t* raw(const TensorInfo& t) const { return data_begin() + t.begin; }
    // See MappedFile::release: for tensors the model has copied (packed weights).
    void release(const float* p, std::size_t count) const { file_->release(p, count * sizeof(float)); }

private:
    SafeTensorsFile(const SafeTensorsFile&) = default;
    SafeTensorsFile(const std::string& path, std::shared_ptr<detail::MappedFile> file) : path_(path), file_(std::move(file)) {
        parse();
        convert();
    }

    template <typename... A>
    [[noreturn]] void bad(const A&... a) const {
        detail::fail(path_, ": invalid safetensors: ", a...);
    }

    const std::uint8_t* data_begin() const { return file_->data() + 8 + header_len_; }

    void parse() {
        const std::size_t size = file_->size();
        if (size < 8) bad("file is ", size, " bytes, shorter than the 8-byte header length");
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | file_->data()[i];
        if (n > kMaxHeader) bad("header length ", n, " exceeds the 100 MB limit");
        if (n > size - 8) bad("header length ", n, " runs past the end of the file (", size, " bytes)");
        header_len_ = n;
        const std::uint64_t data_len = size - 8 - n;

        const char* hb = reinterpret_cast<const char*>(file_->data() + 8);
        std::set<std::string> seen;
        bool duplicate = false;
        std::string dup_name;
        // Duplicate top-level keys are an error; nlohmann would silently keep the last one.
        nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
            if (depth == 1 && ev == nlohmann::json::parse_event_t::key) {
                auto k = j.get<std::string>();
                if (!seen.insert(k).second && !duplicate) {
                    duplicate = true;
                    dup_name = k;
                }
            }
            return true;
        };
        nlohmann::json h;
        try {
            h = nlohmann::json::parse(hb, hb + n, cb);
        } catch (const nlohmann::json::exception& e) {
            bad("header is not valid UTF-8 JSON (", e.what(), ")");
        }
        if (duplicate) bad("duplicate tensor name '", dup_name, "'");
        if (!h.is_object()) bad("header is not a JSON object");

        for (auto& [key, val] : h.items()) {
            if (key == "__metadata__") {
                if (!val.is_object()) bad("__metadata__ is not an object");
                for (auto& [mk, mv] : val.items()) {
                    if (!mv.is_string()) bad("__metadata__ value for '", mk, "' is not a string");
                    metadata_[mk] = mv.get<std::string>();
                }
                continue;
            }
            if (!val.is_object()) bad("entry '", key, "' is not an object");
            TensorInfo t;
            t.name = key;
            auto dt = val.find("dtype");
            if (dt == val.end() || !dt->is_string()) bad("tensor '", key, "': missing or non-string dtype");
            auto parsed = detail::parse_dtype(dt->get<std::string>());
            if (!parsed) bad("tensor '", key, "': unknown dtype '", dt->get<std::string>(), "'");
            t.dtype = *parsed;
            auto sh = val.find("shape");
            if (sh == val.end() || !sh->is_array()) bad("tensor '", key, "': missing or non-array shape");
            std::uint64_t count = 1;
            for (auto& d : *sh) {
                if (!d.is_number_unsigned()) bad("tensor '", key, "': shape entries must be non-negative integers");
                const std::uint64_t v = d.get<std::uint64_t>();
                if (v > static_cast<std::uint64_t>(INT64_MAX)) bad("tensor '", key, "': dimension too large");
                if (v != 0 && count > UINT64_MAX / v) bad("tensor '", key, "': shape overflows 64 bits");
                count *= v;
                t.shape.push_back(static_cast<std::int64_t>(v));
            }
            const std::uint64_t isz = detail::dtype_size(t.dtype);
            if (count > UINT64_MAX / isz) bad("tensor '", key, "': byte size overflows 64 bits");
            auto off = val.find("data_offsets");
            if (off == val.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
                !(*off)[1].is_number_unsigned())
                bad("tensor '", key, "': data_offsets must be two non-negative integers");
            t.begin = (*off)[0].get<std::uint64_t>();
            t.end = (*off)[1].get<std::uint64_t>();
            if (t.end < t.begin) bad("tensor '", key, "': data_offsets end before they begin");
            if (t.end - t.begin != count * isz)
                bad("tensor '", key, "': ", count * isz, " bytes expected for shape ", detail::dims_str(t.shape),
                    ", offsets span ", t.end - t.begin);
            if (t.end > data_len)
                bad("tensor '", key, "': data_offsets [", t.begin, ", ", t.end, "] run past the data (", data_len,
                    " bytes)");
            tensors_.emplace(key, std::move(t));
        }

        // The buffer must be tiled exactly: no overlap, no hole, no trailing bytes.
        std::vector<const TensorInfo*> order;
        for (auto& [_, t] : tensors_) order.push_back(&t);
        std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
            return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
        });
        std::uint64_t pos = 0;
        for (auto* t : order) {
            if (t->begin < pos) bad("tensor '", t->name, "' overlaps the previous tensor");
            if (t->begin > pos) bad("hole of ", t->begin - pos, " bytes before tensor '", t->name, "'");
            pos = t->end;
        }
        if (pos != data_len) bad(data_len - pos, " trailing bytes after the last tensor");
    }

    void convert() {
        for (auto& [name, t] : tensors_) {
            if (!detail::is_float(t.dtype)) continue;
            const std::uint8_t* src = raw(t);
            const std::size_t n = static_cast<std::size_t>((t.end - t.begin) / detail::dtype_size(t.dtype));
            if (t.dtype == DType::F32 && reinterpret_cast<std::uintptr_t>(src) % alignof(float) == 0) continue;
            auto buf = detail::aligned_array<float>(n);
            float* dst = buf.get();
            for (std::size_t i = 0; i < n; ++i) {  // memcpy per element: src may be misaligned
                switch (t.dtype) {
                    case DType::F32: std::memcpy(dst + i, src + 4 * i, 4); break;
                    case DType::F64: { double d; std::memcpy(&d, src + 8 * i, 8); dst[i] = static_cast<float>(d); break; }
                    case DType::F16: { std::uint16_t h; std::memcpy(&h, src + 2 * i, 2); dst[i] = detail::half_to_float(h); break; }
                    case DType::BF16: { std::uint16_t h; std::memcpy(&h, src + 2 * i, 2); dst[i] = detail::bf16_to_float(h); break; }
                    default: break;
                }
            }
            converted_.emplace(name, std::shared_ptr<const float>(buf.release(), detail::AlignedFree()));
        }
    }

    std::string path_;
    std::shared_ptr<detail::MappedFile> file_;
    std::uint64_t header_len_ = 0;
    std::map<std::string, std::string> metadata_;
    std::map<std::string, TensorInfo> tensors_;
    std::map<std::string, std::shared_ptr<const float>> converted_;  // by name; shared by relabelled copies
};

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

    // A tensor the model keeps as stored (a bias, a norm, an embedding): checked, then copied out of
    // the file and the file's pages of it dropped. Mapped pages the model kept touching could keep a
    // whole large folio of their neighbours resident.
    template <std::size_t R>
    TensorView<const float, R> get(const std::string& name, const std::array<std::int64_t, R>& shape) {
        const auto v = borrow<R>(name, shape);
        if (v.size() == 0) return v;
        auto buf = detail::aligned_array<float>(static_cast<std::size_t>(v.size()));
        std::memcpy(buf.get(), v.data(), static_cast<std::size_t>(v.size()) * sizeof(float));
        release(v);
        kept_->push_back(std::move(buf));
        return TensorView<const float, R>(kept_->back().get(), shape);
    }

    // A tensor the model converts at load (a weight it packs): checked, a view into the file that
    // lives as long as this binder. release() it once converted.
    template <std::size_t R>
    TensorView<const float, R> borrow(const std::string& name, const std::array<std::int64_t, R>& shape) {
        const TensorInfo* t = file_->find(name);
        if (!t) detail::fail(file_->path(), ": missing tensor '", name, "' (expected ", detail::dims_str(shape), ")");
        if (t->shape.size() != R || !std::equal(shape.begin(), shape.end(), t->shape.begin()))
            detail::fail(file_->path(), ": tensor '", name, "': expected ", detail::dims_str(shape), " got ",
                         detail::dims_str(t->shape));
        if (!detail::is_float(t->dtype))
            detail::fail(file_->path(), ": tensor '", name, "' is not a floating-point tensor");
        used_.insert(name);
        const float* p = file_->f32(*t);
        if (opt_.non_finite) {  // now, while its pages are in memory for the copy that follows
            std::int64_t n = 1;
            for (auto d : shape) n *= d;
            bool finite = true;
            for (std::int64_t i = 0; i < n; ++i) finite &= std::isfinite(p[i]);
            if (!finite) opt_.non_finite->push_back(name);
        }
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
    // Drops the file's resident pages of a borrowed tensor.
    template <std::size_t R>
    void release(const TensorView<const float, R>& t) const { file_->release(t.data(), static_cast<std::size_t>(t.size())); }
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
    std::shared_ptr<const SafeTensorsFile> file_;
    Options opt_;
    std::set<std::string> used_;
    std::shared_ptr<std::vector<std::unique_ptr<float[], detail::AlignedFree>>> kept_ =
        std::make_shared<std::vector<std::unique_ptr<float[], detail::AlignedFree>>>();
};

}  // namespace fovea

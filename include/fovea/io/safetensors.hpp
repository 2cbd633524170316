#pragma once
// safetensors (the format timm publishes): 8-byte little-endian header length, a JSON header, then
// one contiguous byte buffer. Every field is validated before it sizes or addresses anything; the
// JSON is bounded (depth, array lengths, entries, name lengths) while it is parsed. The file is read
// with pread (Windows: a seek and a read under a lock), never mapped: a tensor is read (and F16 / BF16 / F64 converted to F32) when a layer
// binds it, so a file that shrinks or changes while it is read gives an error naming it, never a
// SIGBUS, and memory holds one tensor beyond what the model keeps.
#include <fcntl.h>
#include <sys/stat.h>
#if defined(_WIN32)
#include <io.h>
#include <mutex>
#else
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
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
#include "fovea/core/tensor.hpp"
#include "fovea/io/json.hpp"

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

// Where a safetensors file's bytes come from: an open file read at offsets, or bytes in memory.
class ByteSource {
public:
    explicit ByteSource(const std::string& path) : path_(path) {
        Stat st{};
        if (stat_path(path, st) != 0) fail(path, ": cannot open file (", std::strerror(errno), ")");
        if (S_ISDIR(st.st_mode)) fail(path, ": is a directory, expected a file");
#if defined(_WIN32)
        fd_ = ::_open(path.c_str(), _O_RDONLY | _O_BINARY | _O_NOINHERIT);
#else
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
#endif
        if (fd_ < 0) fail(path, ": cannot open file (", std::strerror(errno), ")");
        if (stat_fd(fd_, st) != 0 || !S_ISREG(st.st_mode)) {
            close_fd(fd_);
            fail(path, ": not a regular file");
        }
        size_ = static_cast<std::uint64_t>(st.st_size);
    }
    // An owned copy of bytes already in memory (downloads, fuzzing).
    ByteSource(const std::uint8_t* bytes, std::size_t size, const std::string& name)
        : path_(name), size_(size), owned_(bytes, bytes + size) {}
    ~ByteSource() {
        if (fd_ >= 0) close_fd(fd_);
    }
    ByteSource(const ByteSource&) = delete;
    ByteSource& operator=(const ByteSource&) = delete;

    std::uint64_t size() const { return size_; }

    // Bytes [offset, offset + n) into dst; a file that no longer has them is an error.
    void read(std::uint64_t offset, void* dst, std::size_t n) const {
        if (fd_ < 0) {
            if (offset > owned_.size() || n > owned_.size() - offset) fail(path_, ": read past the end of the data");
            std::memcpy(dst, owned_.data() + offset, n);
            return;
        }
        auto* out = static_cast<std::uint8_t*>(dst);
        while (n > 0) {
            const std::int64_t got = read_at(out, std::min<std::size_t>(n, std::size_t{1} << 30), offset);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) fail(path_, ": read failed (", std::strerror(errno), ")");
            if (got == 0) fail(path_, ": the file ended at byte ", offset, " of ", size_, ": it changed while it was read");
            out += got;
            offset += static_cast<std::uint64_t>(got);
            n -= static_cast<std::size_t>(got);
        }
    }

private:
#if defined(_WIN32)
    // Windows' C runtime has no pread: the file position is shared, so seek and read hold a lock.
    // Its stat is 32-bit unless asked: _stat64 for files past 2 GB.
    using Stat = struct _stat64;
    static int stat_path(const std::string& p, Stat& st) { return ::_stat64(p.c_str(), &st); }
    static int stat_fd(int fd, Stat& st) { return ::_fstat64(fd, &st); }
    static void close_fd(int fd) { ::_close(fd); }
    std::int64_t read_at(void* out, std::size_t n, std::uint64_t offset) const {
        std::lock_guard<std::mutex> lock(mutex_);
        if (::_lseeki64(fd_, static_cast<__int64>(offset), SEEK_SET) < 0) return -1;
        return ::_read(fd_, out, static_cast<unsigned>(n));
    }
    mutable std::mutex mutex_;
#else
    using Stat = struct stat;
    static int stat_path(const std::string& p, Stat& st) { return ::stat(p.c_str(), &st); }
    static int stat_fd(int fd, Stat& st) { return ::fstat(fd, &st); }
    static void close_fd(int fd) { ::close(fd); }
    std::int64_t read_at(void* out, std::size_t n, std::uint64_t offset) const {
        return ::pread(fd_, out, n, static_cast<::off_t>(offset));
    }
#endif
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
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
    static constexpr std::size_t kMaxTensors = 1'000'000;
    static constexpr std::size_t kMaxName = 1024;  // bytes of a tensor name or metadata key
    static constexpr std::size_t kMaxRank = 16;

    static std::shared_ptr<const SafeTensorsFile> open(const std::string& path) {
        return std::shared_ptr<const SafeTensorsFile>(new SafeTensorsFile(path, std::make_shared<detail::ByteSource>(path)));
    }
    // The same checks on bytes in memory (copied); `name` stands for the path in messages.
    static std::shared_ptr<const SafeTensorsFile> from_memory(const std::uint8_t* data, std::size_t size,
                                                              const std::string& name = "<memory>") {
        return std::shared_ptr<const SafeTensorsFile>(new SafeTensorsFile(name, std::make_shared<detail::ByteSource>(data, size, name)));
    }

    const std::string& path() const { return path_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const std::string& name) const {
        auto it = tensors_.find(name);
        return it == tensors_.end() ? nullptr : &it->second;
    }

    // A floating-point tensor's values as float32, read now (F16 / BF16 / F64 converted).
    std::vector<float> read(const TensorInfo& t) const {
        if (!detail::is_float(t.dtype)) detail::fail(path_, ": tensor '", t.name, "' is not a floating-point tensor");
        auto d = derived_.find(t.name);
        if (d != derived_.end()) return *d->second;
        const std::size_t isz = detail::dtype_size(t.dtype), n = static_cast<std::size_t>((t.end - t.begin) / isz);
        std::vector<float> out(n);
        if (t.dtype == DType::F32) {
            source_->read(data_offset_ + t.begin, out.data(), n * 4);
            return out;
        }
        std::vector<std::uint8_t> raw(n * isz);
        source_->read(data_offset_ + t.begin, raw.data(), raw.size());
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t* src = raw.data() + isz * i;
            if (t.dtype == DType::F64) {
                double v;
                std::memcpy(&v, src, 8);
                out[i] = static_cast<float>(v);
            } else {
                std::uint16_t h;
                std::memcpy(&h, src, 2);
                out[i] = t.dtype == DType::F16 ? detail::half_to_float(h) : detail::bf16_to_float(h);
            }
        }
        return out;
    }

    // Another checkpoint layout presented under other names (see io/layouts.hpp): a copy of the
    // table over the same bytes. `renames` maps old to new names; `derived` adds F32 tensors
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
            out->derived_.erase(d);
        }
        std::map<std::string, TensorInfo> tensors;
        std::map<std::string, std::shared_ptr<const std::vector<float>>> kept;
        for (auto& [name, t] : out->tensors_) {
            auto it = renames.find(name);
            const std::string to = it == renames.end() ? name : it->second;
            TensorInfo nt = t;
            nt.name = to;
            if (!tensors.emplace(to, nt).second) detail::fail(path_, ": two tensors map to '", to, "'");
            auto d = out->derived_.find(name);
            if (d != out->derived_.end()) kept[to] = d->second;
        }
        for (auto& d : derived) {
            TensorInfo t;
            t.name = d.name;
            t.dtype = DType::F32;
            t.shape = d.shape;
            t.end = d.values.size() * 4;
            if (!tensors.emplace(d.name, t).second) detail::fail(path_, ": two tensors map to '", d.name, "'");
            kept[d.name] = std::make_shared<const std::vector<float>>(std::move(d.values));
        }
        out->tensors_ = std::move(tensors);
        out->derived_ = std::move(kept);
        return out;
    }

private:
    SafeTensorsFile(const SafeTensorsFile&) = default;
    SafeTensorsFile(const std::string& path, std::shared_ptr<detail::ByteSource> source) : path_(path), source_(std::move(source)) {
        parse();
    }

    template <typename... A>
    [[noreturn]] void bad(const A&... a) const {
        detail::fail(path_, ": invalid safetensors: ", a...);
    }

    // One header entry as read, checked once the whole header is read.
    struct RawEntry {
        std::string name;
        bool dtype_seen = false, dtype_string = false;
        std::string dtype;
        bool shape_seen = false, shape_array = false, shape_ok = true;
        std::vector<std::uint64_t> shape;
        bool offsets_seen = false, offsets_array = false, offsets_ok = true;
        std::vector<std::uint64_t> offsets;
    };

    // SAX handler over the header: entries and metadata straight into the table, limits applied
    // as each event arrives.
    struct HeaderReader {
        enum class In { Top, Entry, Metadata, Shape, Offsets, Other };
        SafeTensorsFile& f;
        std::vector<In> stack;               // container at each depth
        std::vector<std::size_t> items;      // members / elements so far at each depth
        std::vector<RawEntry> entries;
        std::set<std::string> names;
        std::string last_key, error;         // the last key read; a parse error
        bool top_object = false;

        explicit HeaderReader(SafeTensorsFile& file) : f(file) {}
        In in() const { return stack.empty() ? In::Top : stack.back(); }
        void count() {
            if (stack.empty()) return;
            const std::size_t limit = stack.size() == 1 ? kMaxTensors : stack.size() == 2 ? 64 : kMaxRank;
            if (++items.back() > limit) f.bad(stack.size() == 1 ? "more than 1000000 entries" : "an entry or array with too many items");
        }
        bool open(bool object) {
            if (stack.empty() && !object) f.bad("header is not a JSON object");
            if (stack.size() >= 3) f.bad("JSON nested deeper than 3 levels");
            In next = In::Other;
            if (stack.empty()) {
                top_object = true;
                next = In::Top;
            } else if (in() == In::Top) {
                if (last_key == "__metadata__" && !object) f.bad("__metadata__ is not an object");
                if (!object) f.bad("entry '", last_key, "' is not an object");
                if (last_key == "__metadata__") {
                    next = In::Metadata;
                } else {
                    entries.emplace_back();
                    entries.back().name = last_key;
                    next = In::Entry;
                }
            } else if (in() == In::Entry) {
                RawEntry& e = entries.back();
                if (last_key == "shape") e.shape_array = !object, next = object ? In::Other : In::Shape;
                if (last_key == "data_offsets") e.offsets_array = !object, next = object ? In::Other : In::Offsets;
            } else if (in() == In::Metadata) {
                f.bad("__metadata__ value for '", last_key, "' is not a string");
            }
            stack.push_back(next);
            items.push_back(0);
            return true;
        }
        bool close() {
            stack.pop_back();
            items.pop_back();
            return true;
        }
        // A scalar at the current depth (number: v, when it is a non-negative integer).
        bool scalar(const std::string* text, std::optional<std::uint64_t> v) {
            if (stack.empty()) f.bad("header is not a JSON object");
            count();
            switch (in()) {
                case In::Top:
                    if (last_key == "__metadata__") f.bad("__metadata__ is not an object");
                    f.bad("entry '", last_key, "' is not an object");
                case In::Metadata:
                    if (!text) f.bad("__metadata__ value for '", last_key, "' is not a string");
                    f.metadata_[last_key] = *text;
                    break;
                case In::Entry:
                    if (last_key == "dtype") entries.back().dtype_string = text != nullptr, entries.back().dtype = text ? *text : "";
                    break;
                case In::Shape:
                    if (v) entries.back().shape.push_back(*v);
                    else entries.back().shape_ok = false;
                    break;
                case In::Offsets:
                    if (v) entries.back().offsets.push_back(*v);
                    else entries.back().offsets_ok = false;
                    break;
                case In::Other: break;
            }
            return true;
        }

        bool null() { return scalar(nullptr, std::nullopt); }
        bool boolean(bool) { return scalar(nullptr, std::nullopt); }
        bool number_integer(std::int64_t v) { return scalar(nullptr, v >= 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(v)) : std::nullopt); }
        bool number_unsigned(std::uint64_t v) { return scalar(nullptr, v); }
        bool number_float(double, const std::string&) { return scalar(nullptr, std::nullopt); }
        bool string(std::string& v) {
            if (v.size() > 65536) f.bad("a string of ", v.size(), " bytes in the header (at most 65536)");
            return scalar(&v, std::nullopt);
        }
        bool binary(nlohmann::json::binary_t&) { return scalar(nullptr, std::nullopt); }
        bool start_object(std::size_t) {
            if (!stack.empty()) count();
            return open(true);
        }
        bool start_array(std::size_t) {
            if (!stack.empty()) count();
            return open(false);
        }
        bool end_object() { return close(); }
        bool end_array() { return close(); }
        bool key(std::string& k) {
            if (k.size() > kMaxName) f.bad("a name of ", k.size(), " bytes (at most ", kMaxName, ")");
            if (in() == In::Top && !names.insert(k).second) f.bad("duplicate tensor name '", k, "'");
            if (in() == In::Entry) {
                RawEntry& e = entries.back();
                if (k == "dtype") e.dtype_seen = true;
                if (k == "shape") e.shape_seen = true;
                if (k == "data_offsets") e.offsets_seen = true;
            }
            last_key = k;
            return true;
        }
        bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
            error = e.what();
            return false;
        }
    };

    void check_entry(const RawEntry& e, std::uint64_t data_len) {
        const std::string& key = e.name;
        TensorInfo t;
        t.name = key;
        if (!e.dtype_seen || !e.dtype_string) bad("tensor '", key, "': missing or non-string dtype");
        auto parsed = detail::parse_dtype(e.dtype);
        if (!parsed) bad("tensor '", key, "': unknown dtype '", e.dtype.substr(0, 20), "'");
        t.dtype = *parsed;
        if (!e.shape_seen || !e.shape_array) bad("tensor '", key, "': missing or non-array shape");
        if (!e.shape_ok) bad("tensor '", key, "': shape entries must be non-negative integers");
        std::uint64_t count = 1;
        for (const std::uint64_t v : e.shape) {
            if (v > static_cast<std::uint64_t>(INT64_MAX)) bad("tensor '", key, "': dimension too large");
            if (v != 0 && count > UINT64_MAX / v) bad("tensor '", key, "': shape overflows 64 bits");
            count *= v;
            t.shape.push_back(static_cast<std::int64_t>(v));
        }
        const std::uint64_t isz = detail::dtype_size(t.dtype);
        if (count > UINT64_MAX / isz) bad("tensor '", key, "': byte size overflows 64 bits");
        if (!e.offsets_seen || !e.offsets_array || !e.offsets_ok || e.offsets.size() != 2)
            bad("tensor '", key, "': data_offsets must be two non-negative integers");
        t.begin = e.offsets[0];
        t.end = e.offsets[1];
        if (t.end < t.begin) bad("tensor '", key, "': data_offsets end before they begin");
        if (t.end - t.begin != count * isz)
            bad("tensor '", key, "': ", count * isz, " bytes expected for shape ", detail::dims_str(t.shape), ", offsets span ",
                t.end - t.begin);
        if (t.end > data_len)
            bad("tensor '", key, "': data_offsets [", t.begin, ", ", t.end, "] run past the data (", data_len, " bytes)");
        tensors_.emplace(key, std::move(t));
    }

    void parse() {
        const std::uint64_t size = source_->size();
        if (size < 8) bad("file is ", size, " bytes, shorter than the 8-byte header length");
        std::uint8_t len[8];
        source_->read(0, len, 8);
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
        if (n > kMaxHeader) bad("header length ", n, " exceeds the 100 MB limit");
        if (n > size - 8) bad("header length ", n, " runs past the end of the file (", size, " bytes)");
        data_offset_ = 8 + n;
        const std::uint64_t data_len = size - 8 - n;
        std::string text(static_cast<std::size_t>(n), '\0');
        source_->read(8, text.data(), text.size());

        // Read as SAX events into the table directly (no JSON tree), bounded as it goes: 3 levels
        // ({name: {shape: [...]}}), so many entries, short names, arrays and strings; a duplicate
        // name is an error (a JSON object would keep the last one).
        HeaderReader reader(*this);
        bool ok = false;
        try {
            ok = nlohmann::json::sax_parse(text, &reader);
        } catch (const nlohmann::json::exception& e) {
            bad("the header is not valid JSON (", e.what(), ")");
        }
        if (!ok) bad("the header is not valid JSON (", reader.error, ")");
        if (!reader.top_object) bad("header is not a JSON object");
        for (auto& e : reader.entries) check_entry(e, data_len);

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

    std::string path_;
    std::shared_ptr<detail::ByteSource> source_;
    std::uint64_t data_offset_ = 0;
    std::map<std::string, std::string> metadata_;
    std::map<std::string, TensorInfo> tensors_;
    std::map<std::string, std::shared_ptr<const std::vector<float>>> derived_;  // tensors made in memory (fused q/k/v)
};

}  // namespace fovea

#pragma once
// One exception type for everything fovea rejects: bad files, bad shapes, bad arguments.
#include <cstdint>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fovea {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

template <typename... Args>
[[noreturn]] inline void fail(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    throw Error(os.str());
}

// Public entry points run their body through this: whatever escapes (std::bad_alloc from an input
// too large for memory, an exception from a caller's hook) leaves as fovea::Error naming `what`.
template <typename F>
decltype(auto) api_boundary(const std::string& what, F&& body) {
    try {
        return body();
    } catch (const Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        fail(what, ": out of memory");
    } catch (const std::exception& e) {
        fail(what, ": ", e.what());
    }
}

// Text that is a whole integer (what std::stoll reads, nothing left over) in [lo, hi], or nothing:
// command-line values, label indices, block indices.
inline std::optional<long long> parse_integer(const std::string& text, long long lo, long long hi) {
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (used != text.size() || v < lo || v > hi) return std::nullopt;
    return v;
}

template <typename Range>
std::string dims_str(const Range& dims) {
    std::string s = "[";
    bool first = true;
    for (auto d : dims) {
        if (!first) s += ", ";
        s += std::to_string(static_cast<long long>(d));
        first = false;
    }
    return s + "]";
}

}  // namespace detail
}  // namespace fovea

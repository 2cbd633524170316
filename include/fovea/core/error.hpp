#pragma once
// One exception type for everything fovea rejects: bad files, bad shapes, bad arguments.
#include <cstdint>
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

#pragma once
// NumPy .npy files: float32 (or float64, converted), C order, read and written whole.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"

namespace fovea {

struct NpyArray {
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

inline NpyArray read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) detail::fail(path, ": cannot open file");
    char magic[8] = {};
    f.read(magic, 8);
    if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) detail::fail(path, ": not a .npy file");
    std::uint32_t hlen = 0;
    if (magic[6] == 1) {
        unsigned char b[2];
        f.read(reinterpret_cast<char*>(b), 2);
        hlen = b[0] | (b[1] << 8);
    } else if (magic[6] == 2 || magic[6] == 3) {
        unsigned char b[4];
        f.read(reinterpret_cast<char*>(b), 4);
        hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    } else {
        detail::fail(path, ": unsupported .npy version ", int(magic[6]));
    }
    if (!f || hlen > (1u << 20)) detail::fail(path, ": bad .npy header length");
    std::string header(hlen, '\0');
    f.read(header.data(), hlen);
    if (!f) detail::fail(path, ": truncated .npy header");
    std::smatch m;
    if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([<>|=]?)([fiu])(\\d+)'")))
        detail::fail(path, ": .npy header has no dtype");
    const std::string kind = m[2], bytes = m[3];
    const bool f32 = kind == "f" && bytes == "4", f64 = kind == "f" && bytes == "8";
    if (!f32 && !f64 || m[1] == ">") detail::fail(path, ": .npy dtype must be little-endian float32 or float64");
    if (std::regex_search(header, std::regex("'fortran_order'\\s*:\\s*True")))
        detail::fail(path, ": Fortran-ordered .npy arrays are not supported");
    if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
        detail::fail(path, ": .npy header has no shape");
    NpyArray a;
    std::string dims = m[1];
    std::uint64_t count = 1;
    const std::regex digits("\\d+");
    for (std::sregex_iterator it(dims.begin(), dims.end(), digits), end; it != end; ++it) {
        const auto d = std::stoll(it->str());
        if (d > (1ll << 40) || (d && count > (1ull << 40) / static_cast<std::uint64_t>(d)))
            detail::fail(path, ": .npy shape too large");
        a.shape.push_back(d);
        count *= static_cast<std::uint64_t>(d);
    }
    const std::size_t isz = f32 ? 4 : 8;
    const auto pos = f.tellg();
    f.seekg(0, std::ios::end);
    const auto left = static_cast<std::uint64_t>(f.tellg() - pos);
    f.seekg(pos);
    if (left != count * isz)
        detail::fail(path, ": .npy data is ", left, " bytes, shape ", detail::dims_str(a.shape), " needs ", count * isz);
    a.data.resize(count);
    if (f32) {
        f.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(count * 4));
    } else {
        std::vector<double> d(count);
        f.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(count * 8));
        for (std::size_t i = 0; i < count; ++i) a.data[i] = static_cast<float>(d[i]);
    }
    if (!f) detail::fail(path, ": truncated .npy data");
    return a;
}

inline void write_npy(const std::string& path, const float* data, const std::vector<std::int64_t>& shape) {
    std::string dims;
    std::int64_t n = 1;
    for (auto d : shape) {
        dims += std::to_string(d) + ",";
        n *= d;
    }
    if (shape.size() > 1) dims.pop_back();
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    if (!f) detail::fail(path, ": cannot write file");
    const std::uint16_t hl = static_cast<std::uint16_t>(header.size());
    f.write("\x93NUMPY\x01\x00", 8);
    f.put(static_cast<char>(hl & 0xff));
    f.put(static_cast<char>(hl >> 8));
    f << header;
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
    if (!f) detail::fail(path, ": write failed");
}

template <std::size_t R>
Tensor<float, R> to_tensor(const NpyArray& a, const std::string& what) {
    if (a.shape.size() != R) detail::fail(what, ": expected a rank-", R, " array, got ", detail::dims_str(a.shape));
    typename Tensor<float, R>::Shape s;
    std::copy(a.shape.begin(), a.shape.end(), s.begin());
    Tensor<float, R> t(s);
    std::copy(a.data.begin(), a.data.end(), t.data());
    return t;
}

}  // namespace fovea

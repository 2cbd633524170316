#pragma once
// NumPy .npy files: float32 (or float64, converted), C order, read and written whole. The header
// is numpy's Python dict literal, parsed here ('descr', 'fortran_order', 'shape'; either quote).
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/version.hpp"

namespace fovea {

struct NpyArray {
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

namespace detail {

// The fields of a .npy header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct NpyHeader {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::int64_t> shape;
    bool has_descr = false, has_order = false, has_shape = false;
};

inline NpyHeader parse_npy_header(const std::string& h, const std::string& where) {
    NpyHeader out;
    std::size_t p = 0;
    auto bad = [&](const char* what) { fail(where, ": .npy header: ", what); };
    auto ws = [&] {
        while (p < h.size() && (h[p] == ' ' || h[p] == '\t' || h[p] == '\n' || h[p] == '\r')) ++p;
    };
    auto expect = [&](char c) {
        ws();
        if (p >= h.size() || h[p] != c) bad("malformed dict");
        ++p;
    };
    auto string = [&] {
        ws();
        if (p >= h.size() || (h[p] != '\'' && h[p] != '"')) bad("expected a quoted string");
        const char q = h[p++];
        const std::size_t e = h.find(q, p);
        if (e == std::string::npos) bad("unterminated string");
        std::string s = h.substr(p, e - p);
        p = e + 1;
        return s;
    };
    expect('{');
    for (;;) {
        ws();
        if (p < h.size() && h[p] == '}') break;
        const std::string key = string();
        expect(':');
        ws();
        if (key == "descr") {
            out.descr = string();
            out.has_descr = true;
        } else if (key == "fortran_order") {
            if (h.compare(p, 4, "True") == 0) out.fortran_order = true, p += 4;
            else if (h.compare(p, 5, "False") == 0) p += 5;
            else bad("fortran_order must be True or False");
            out.has_order = true;
        } else if (key == "shape") {
            expect('(');
            for (;;) {
                ws();
                if (p < h.size() && h[p] == ')') break;
                std::int64_t v = 0;
                const std::size_t start = p;
                for (; p < h.size() && h[p] >= '0' && h[p] <= '9'; ++p) {
                    if (v > (std::int64_t{1} << 40)) bad("a dimension is too large");
                    v = v * 10 + (h[p] - '0');
                }
                if (p == start) bad("shape must be a tuple of non-negative integers");
                out.shape.push_back(v);
                ws();
                if (p < h.size() && h[p] == ',') ++p;
                else if (p >= h.size() || h[p] != ')') bad("malformed shape tuple");
            }
            ++p;
            out.has_shape = true;
        } else {
            bad("unknown key");
        }
        ws();
        if (p < h.size() && h[p] == ',') ++p;
        else if (p >= h.size() || h[p] != '}') bad("malformed dict");
    }
    if (!out.has_descr || !out.has_order || !out.has_shape) bad("needs descr, fortran_order and shape");
    return out;
}

}  // namespace detail

inline NpyArray read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) detail::fail(path, ": cannot open file");
    char magic[8] = {};
    f.read(magic, 8);
    if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) detail::fail(path, ": not a .npy file");
    std::uint32_t hlen = 0;
    if (magic[6] == 1) {
        unsigned char b[2] = {};
        f.read(reinterpret_cast<char*>(b), 2);
        hlen = static_cast<std::uint32_t>(b[0] | (b[1] << 8));
    } else if (magic[6] == 2 || magic[6] == 3) {
        unsigned char b[4] = {};
        f.read(reinterpret_cast<char*>(b), 4);
        hlen = std::uint32_t{b[0]} | (std::uint32_t{b[1]} << 8) | (std::uint32_t{b[2]} << 16) | (std::uint32_t{b[3]} << 24);
    } else {
        detail::fail(path, ": unsupported .npy version ", int(magic[6]));
    }
    if (!f || hlen > 65536) detail::fail(path, ": bad .npy header length ", hlen, " (at most 65536)");
    std::string header(hlen, '\0');
    f.read(header.data(), hlen);
    if (!f) detail::fail(path, ": truncated .npy header");
    const auto h = detail::parse_npy_header(header, path);
    const bool f32 = h.descr == "<f4" || h.descr == "=f4", f64 = h.descr == "<f8" || h.descr == "=f8";
    if (!f32 && !f64) detail::fail(path, ": .npy dtype '", h.descr.substr(0, 20), "': must be little-endian float32 or float64");
    if (h.fortran_order) detail::fail(path, ": Fortran-ordered .npy arrays are not supported");
    if (h.shape.size() > 8) detail::fail(path, ": .npy arrays of rank ", h.shape.size(), " are not supported (at most 8)");
    NpyArray a;
    std::uint64_t count = 1;
    for (auto d : h.shape) {
        if (d && count > (1ull << 40) / static_cast<std::uint64_t>(d)) detail::fail(path, ": .npy shape too large");
        count *= static_cast<std::uint64_t>(d);
    }
    a.shape = h.shape;
    const std::size_t isz = f32 ? 4 : 8;
    const auto pos = f.tellg();
    f.seekg(0, std::ios::end);
    const auto left = static_cast<std::uint64_t>(f.tellg() - pos);
    f.seekg(pos);
    if (left != count * isz)
        detail::fail(path, ": .npy data is ", left, " bytes, shape ", detail::dims_str(a.shape), " needs ", count * isz);
    a.data.resize(static_cast<std::size_t>(count));
    if (f32) {
        f.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(count * 4));
    } else {
        std::vector<double> d(static_cast<std::size_t>(count));
        f.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(count * 8));
        for (std::size_t i = 0; i < count; ++i) a.data[i] = static_cast<float>(d[i]);
    }
    if (!f) detail::fail(path, ": truncated .npy data");
    return a;
}

// Writes float32 C-order .npy; every write is checked (a full disk is an error, not a short file).
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
    const auto hl = static_cast<std::uint16_t>(header.size());
    f.write("\x93NUMPY\x01\x00", 8);
    f.put(static_cast<char>(hl & 0xff));
    f.put(static_cast<char>(hl >> 8));
    f << header;
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * static_cast<std::int64_t>(sizeof(float))));
    f.flush();
    f.close();
    if (!f) detail::fail(path, ": write failed (disk full?)");
}

// float32 .npy written a batch of rows at a time: the header's row count is completed on close(),
// and by the destructor however a program ends, so a file always holds the rows written so far.
class NpyWriter {
public:
    NpyWriter() = default;
    // inner: the shape of one row ({} for scalars, {C} for vectors, ...)
    NpyWriter(const std::string& path, std::vector<std::int64_t> inner) : path_(path), inner_(std::move(inner)), f_(path, std::ios::binary) {
        if (!f_) detail::fail(path, ": cannot write file");
        write_header();
    }
    NpyWriter(NpyWriter&&) = default;
    NpyWriter& operator=(NpyWriter&&) = default;
    ~NpyWriter() {
        try {
            close();
        } catch (const Error&) {
        }
    }
    bool is_open() const { return f_.is_open(); }
    std::int64_t rows() const { return rows_; }
    void append(const float* data, std::int64_t rows) {
        std::int64_t per = 1;
        for (auto d : inner_) per *= d;
        f_.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(rows * per * 4));
        rows_ += rows;
        if (!f_) detail::fail(path_, ": write failed (disk full?)");
    }
    void close() {
        if (!f_.is_open()) return;
        f_.seekp(0);
        write_header();
        f_.close();
        if (!f_) detail::fail(path_, ": write failed (disk full?)");
    }

private:
    void write_header() {  // always 128 bytes, so the final shape fits where the first one was
        std::string dims = std::to_string(rows_) + ",";
        for (auto d : inner_) dims += " " + std::to_string(d) + ",";
        if (!inner_.empty()) dims.pop_back();
        std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
        h.append(128 - 10 - 1 - h.size(), ' ');
        h += '\n';
        f_.write("\x93NUMPY\x01\x00", 8);
        f_.put(static_cast<char>(h.size() & 0xff));
        f_.put(static_cast<char>(h.size() >> 8));
        f_ << h;
        if (!f_) detail::fail(path_, ": write failed (disk full?)");
    }
    std::string path_;
    std::vector<std::int64_t> inner_;
    std::int64_t rows_ = 0;
    std::ofstream f_;
};

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

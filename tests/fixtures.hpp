#pragma once
// Helpers shared by the tests: fixture discovery and the parity tolerance.
#include <gtest/gtest.h>
#include <stdlib.h>
#if defined(_WIN32)
#include <process.h>  // _getpid
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>
#include <cstring>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>

#include <fovea/fovea.hpp>
#include <fovea/core/epilogue.hpp>
#include <fovea/io/safetensors.hpp>
#include <nlohmann/json.hpp>

namespace fovea_test {

// FOVEA_FIXTURES=DIR runs the parity tests on other fixtures (the full-size models that
// tools/make_fixtures.py --full writes) instead of tests/data.
inline std::string data_dir() {
    const char* env = std::getenv("FOVEA_FIXTURES");
    return env && *env ? env : FOVEA_TEST_DATA;
}

inline std::vector<std::string> fixture_names() {
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(data_dir()))
        if (std::filesystem::exists(e.path() / "ref.safetensors")) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

struct Diff {
    double max_err = 0, max_ref = 0;
    bool ok() const { return max_err <= 1e-5 * std::max(1.0, max_ref); }
};

inline Diff compare(const float* got, const float* ref, std::int64_t n) {
    Diff d;
    for (std::int64_t i = 0; i < n; ++i) {
        d.max_err = std::max(d.max_err, static_cast<double>(std::fabs(got[i] - ref[i])));
        if (std::isnan(got[i])) d.max_err = INFINITY;
        d.max_ref = std::max(d.max_ref, static_cast<double>(std::fabs(ref[i])));
    }
    return d;
}

// A fixture's references: ref.safetensors holds "input" and one tensor per stage.
struct Reference {
    std::shared_ptr<const fovea::SafeTensorsFile> file;
    explicit Reference(const std::string& name) : file(fovea::SafeTensorsFile::open(data_dir() + "/" + name + "/ref.safetensors")) {}
    const fovea::TensorInfo* find(const std::string& k) const { return file->find(k); }
    const float* data(const std::string& k) const {
        auto it = cache.find(k);
        if (it == cache.end()) it = cache.emplace(k, file->read(*file->find(k))).first;
        return it->second.data();
    }
    mutable std::map<std::string, std::vector<float>> cache;
    std::int64_t numel(const std::string& k) const {
        std::int64_t n = 1;
        for (auto d : file->find(k)->shape) n *= d;
        return n;
    }
    fovea::Tensor<float, 4> input() const {
        const auto* t = file->find("input");
        fovea::Tensor<float, 4> x({t->shape[0], t->shape[1], t->shape[2], t->shape[3]});
        std::copy(data("input"), data("input") + x.size(), x.data());
        return x;
    }
};

}  // namespace fovea_test

namespace fovea_test {

// Writes a safetensors file byte by byte, so tests can build valid and broken ones.
inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

inline std::string le64(std::uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return s;
}

inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
    return le64(header.size()) + header + data;
}

inline std::string floats(std::initializer_list<float> v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), std::data(v), s.size());
    return s;
}

struct Entry {
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::string bytes;
};

inline void write_safetensors(const std::string& path, const std::map<std::string, Entry>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
    nlohmann::json h = nlohmann::json::object();
    std::string data;
    for (auto& [name, e] : tensors) {
        h[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
        data += e.bytes;
    }
    if (!metadata.empty()) h["__metadata__"] = metadata;
    std::string header = h.dump();
    header.append((8 - header.size() % 8) % 8, ' ');  // aligned data, as real writers pad
    write_file(path, safetensors_bytes(header, data));
}

// All tensors of an existing file, as F32 entries (to edit and write back).
inline std::map<std::string, Entry> read_entries(const std::string& path) {
    auto f = fovea::SafeTensorsFile::open(path);
    std::map<std::string, Entry> out;
    for (auto& [name, t] : f->tensors()) {
        const std::vector<float> v = f->read(t);
        out[name] = {"F32", t.shape, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4)};
    }
    return out;
}

// Scratch folders made by this test process, removed when it exits.
struct ScratchFolders {
    std::vector<std::filesystem::path> made;
    ~ScratchFolders() {
        for (const auto& p : made) {
            std::error_code ec;
            std::filesystem::remove_all(p, ec);
        }
    }
};
inline ScratchFolders& scratch_folders() {
    static ScratchFolders s;
    return s;
}

// A scratch folder of this process: ctest runs tests as parallel processes.
inline std::string temp_dir(const std::string& name) {
#if defined(_WIN32)
    const int pid = ::_getpid();
#else
    const int pid = ::getpid();
#endif
    auto p = std::filesystem::temp_directory_path() / ("fovea_test_" + name + "_" + std::to_string(pid));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    scratch_folders().made.push_back(p);
    return p.string();
}

struct ProgramResult {
    int code;  // exit status; -1 if it did not exit (a signal)
    std::string out, err;
};

#if !defined(_WIN32)  // the programs' tests run them through a POSIX shell
// One of the programs (fovea-classify, fovea-visualize) with `args`, its output kept; `shell` runs
// first in the same shell (ulimit ...).
inline ProgramResult run_program(const std::string& program, const std::string& args, const std::string& shell = "") {
    // ctest runs tests in parallel processes: each run gets its own folder
    std::string tmpl = (std::filesystem::temp_directory_path() / "fovea_run_XXXXXX").string();
    const std::string d = ::mkdtemp(tmpl.data());
    const std::string cmd = shell + program + " " + args + " >" + d + "/out 2>" + d + "/err";
    const int status = std::system(cmd.c_str());
    auto slurp = [](const std::string& p) {
        std::ifstream f(p);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    };
    ProgramResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(d + "/out"), slurp(d + "/err")};
    std::filesystem::remove_all(d);
    return r;
}
#endif

// timm's activations in double, as PyTorch defines them (gelu_tanh through tanh itself).
inline double activation_ref(fovea::Activation act, double v) {
    switch (act) {
        case fovea::Activation::Gelu: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        case fovea::Activation::GeluTanh: return 0.5 * v * (1 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
        case fovea::Activation::QuickGelu: return v / (1 + std::exp(-1.702 * v));
        default: return v;
    }
}

// The message of the fovea::Error that f throws ("" if none is thrown).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const fovea::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace fovea_test

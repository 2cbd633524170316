#pragma once
// What this CPU can run, read once: instruction sets (x86: CPUID and the XSAVE state the OS
// enabled; aarch64: the kernel's hwcaps), cache sizes (Linux sysfs, macOS sysctl, else CPUID), the
// model name; and the AMX tile permission that Linux grants per process on request. The kernel table (core/kernels.hpp) is chosen from this.
// Windows (MinGW-w64) reads everything from CPUID; the macOS branches have not run on a Mac.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

namespace fovea {

struct CpuInfo {
    std::string vendor, model_name;
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
    bool avx512_bf16 = false, avx512_vnni = false, avx_vnni = false;
    bool amx_tile = false, amx_bf16 = false, amx_int8 = false;  // in the CPU and enabled by the OS
    bool neon = false, dotprod = false, i8mm = false, arm_bf16 = false;  // aarch64: ASIMD, SDOT, SMMLA, BFMMLA
    std::int64_t l1d = 32 * 1024, l2 = 1024 * 1024, l3 = 0;      // bytes, per core (L3: shared)
    int hardware_threads = 1;

    bool has_avx512() const { return avx512f && avx512bw && avx512dq && avx512vl && fma && avx2; }
    bool has_avx2() const { return avx2 && fma; }
};

namespace detail {

#if defined(__x86_64__)
inline std::uint64_t xgetbv0() {
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
}
#endif

// "48K", "1024K", "32M" as sysfs writes cache sizes.
inline std::int64_t sysfs_size(const std::string& path) {
    std::ifstream f(path);
    std::string s;
    if (!(f >> s) || s.empty()) return 0;
    std::int64_t v = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && v < (std::int64_t{1} << 40); ++i) v = v * 10 + (s[i] - '0');
    if (i < s.size() && (s[i] == 'K' || s[i] == 'k')) v *= 1024;
    if (i < s.size() && (s[i] == 'M' || s[i] == 'm')) v *= 1024 * 1024;
    return v;
}

inline std::string sysfs_word(const std::string& path) {
    std::ifstream f(path);
    std::string s;
    f >> s;
    return s;
}

#if defined(__APPLE__)
// A sysctl number (hw.l2cachesize, hw.optional.avx512f); 0 where the name does not exist.
inline std::int64_t sysctl_int(const char* name) {
    std::int64_t v = 0;
    std::size_t n = sizeof v;
    if (::sysctlbyname(name, &v, &n, nullptr, 0) != 0) return 0;
    return n == sizeof(std::int32_t) ? static_cast<std::int32_t>(v) : v;
}
inline std::string sysctl_string(const char* name) {
    char buf[256] = {};
    std::size_t n = sizeof buf - 1;
    if (::sysctlbyname(name, buf, &n, nullptr, 0) != 0) return {};
    return buf;
}
#endif

inline void read_cache_sizes(CpuInfo& c) {
    bool found = false;
#if defined(__APPLE__)
    // Apple silicon describes its performance cores under hw.perflevel0 (the L2 is per cluster).
    for (const char* prefix : {"hw.perflevel0.", "hw."}) {
        const std::string p = prefix;
        const std::int64_t l1d = sysctl_int((p + "l1dcachesize").c_str()), l2 = sysctl_int((p + "l2cachesize").c_str());
        if (l1d <= 0 && l2 <= 0) continue;
        if (l1d > 0) c.l1d = l1d;
        if (l2 > 0) c.l2 = l2;
        c.l3 = std::max<std::int64_t>(0, sysctl_int("hw.l3cachesize"));
        found = true;
        break;
    }
#endif
#if defined(__linux__)
    for (int i = 0; i < 8; ++i) {
        const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
        const std::string level = sysfs_word(dir + "level"), type = sysfs_word(dir + "type");
        const std::int64_t size = sysfs_size(dir + "size");
        if (level.empty() || size <= 0) continue;
        found = true;
        if (level == "1" && type == "Data") c.l1d = size;
        if (level == "2") c.l2 = size;
        if (level == "3") c.l3 = size;
    }
#endif
#if defined(__x86_64__)
    if (found) return;
    // CPUID's deterministic cache parameters: leaf 4 (Intel), 0x8000001D (AMD).
    unsigned max_ext = 0, b = 0, cx = 0, d = 0;
    __get_cpuid(0x80000000u, &max_ext, &b, &cx, &d);
    const unsigned leaf = c.vendor == "AuthenticAMD" && max_ext >= 0x8000001Du ? 0x8000001Du : 4u;
    for (unsigned sub = 0; sub < 8; ++sub) {
        unsigned a = 0;
        if (!__get_cpuid_count(leaf, sub, &a, &b, &cx, &d) || (a & 31) == 0) break;
        const std::int64_t ways = ((b >> 22) & 0x3ff) + 1, parts = ((b >> 12) & 0x3ff) + 1, line = (b & 0xfff) + 1;
        const std::int64_t size = ways * parts * line * (static_cast<std::int64_t>(cx) + 1);
        const unsigned level = (a >> 5) & 7, type = a & 31;  // type 1: data, 3: unified
        if (level == 1 && type == 1) c.l1d = size;
        if (level == 2) c.l2 = size;
        if (level == 3) c.l3 = size;
    }
#else
    (void)found;
#endif
}

inline CpuInfo detect_cpu() {
    CpuInfo c;
    c.hardware_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#if defined(__x86_64__)
    unsigned a = 0, b = 0, cx = 0, d = 0;
    unsigned max_leaf = 0;
    __get_cpuid(0, &max_leaf, &b, &cx, &d);
    char vendor[13] = {};
    for (int i = 0; i < 4; ++i) {
        vendor[i] = static_cast<char>(b >> (8 * i));
        vendor[4 + i] = static_cast<char>(d >> (8 * i));
        vendor[8 + i] = static_cast<char>(cx >> (8 * i));
    }
    c.vendor = vendor;
    unsigned max_ext = 0;
    __get_cpuid(0x80000000u, &max_ext, &b, &cx, &d);
    if (max_ext >= 0x80000004u) {
        char brand[49] = {};
        for (unsigned i = 0; i < 3; ++i) {
            unsigned r[4] = {};
            __get_cpuid(0x80000002u + i, &r[0], &r[1], &r[2], &r[3]);
            for (unsigned j = 0; j < 16; ++j) brand[16 * i + j] = static_cast<char>(r[j / 4] >> (8 * (j % 4)));
        }
        std::string s = brand;
        while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
        c.model_name = s.substr(s.find_first_not_of(' ') == std::string::npos ? 0 : s.find_first_not_of(' '));
    }
    __get_cpuid(1, &a, &b, &cx, &d);
    const bool osxsave = (cx >> 27) & 1;
    c.fma = (cx >> 12) & 1;
    c.f16c = (cx >> 29) & 1;
    const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm = (xcr0 & 0x6) == 0x6, tiles = (xcr0 & 0x60000) == 0x60000;
#if defined(__APPLE__)
    // macOS enables the AVX-512 state in XCR0 only once a thread first uses it; it says so in sysctl.
    const bool zmm = ymm && sysctl_int("hw.optional.avx512f") != 0;
#else
    const bool zmm = ymm && (xcr0 & 0xe0) == 0xe0;
#endif
    c.fma = c.fma && ymm;
    c.f16c = c.f16c && ymm;
    if (max_leaf >= 7) {
        __get_cpuid_count(7, 0, &a, &b, &cx, &d);
        c.avx2 = ((b >> 5) & 1) && ymm;
        c.avx512f = ((b >> 16) & 1) && zmm;
        c.avx512dq = ((b >> 17) & 1) && zmm;
        c.avx512bw = ((b >> 30) & 1) && zmm;
        c.avx512vl = ((b >> 31) & 1) && zmm;
        c.avx512_vnni = ((cx >> 11) & 1) && zmm;
        c.amx_bf16 = ((d >> 22) & 1) && tiles;
        c.amx_tile = ((d >> 24) & 1) && tiles;
        c.amx_int8 = ((d >> 25) & 1) && tiles;
        __get_cpuid_count(7, 1, &a, &b, &cx, &d);
        c.avx_vnni = ((a >> 4) & 1) && ymm;
        c.avx512_bf16 = ((a >> 5) & 1) && zmm;
    }
#elif defined(__APPLE__)
    c.model_name = sysctl_string("machdep.cpu.brand_string");  // "Apple M2"
    if (c.model_name.empty()) c.model_name = "Apple CPU";
#else
    // No CPUID: the kernel's description (/proc/cpuinfo: "model name" where the architecture has
    // one, else ARM's implementer and part numbers), else the architecture's name.
    std::ifstream info("/proc/cpuinfo");
    std::string implementer, part;
    for (std::string line; std::getline(info, line);) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, colon), value = line.substr(colon + 1);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
        value.erase(0, std::min(value.size(), value.find_first_not_of(" \t")));
        if ((key == "model name" || key == "Model" || key == "Hardware") && c.model_name.empty()) c.model_name = value;
        if (key == "CPU implementer" && implementer.empty()) implementer = value;
        if (key == "CPU part" && part.empty()) part = value;
    }
    if (c.model_name.empty() && !implementer.empty()) c.model_name = "implementer " + implementer + " part " + part;
#if defined(__aarch64__)
    if (c.model_name.empty()) c.model_name = "aarch64";
#endif
    if (c.model_name.empty()) c.model_name = "unknown CPU";
#endif
#if defined(__aarch64__)
    c.neon = true;  // Advanced SIMD is part of every aarch64 CPU
#if defined(__linux__)
    // The kernel's hwcaps (linux/arch/arm64/include/uapi/asm/hwcap.h), as qemu-user reports them too.
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    c.dotprod = (hw >> 20) & 1;   // HWCAP_ASIMDDP
    c.i8mm = (hw2 >> 13) & 1;     // HWCAP2_I8MM
    c.arm_bf16 = (hw2 >> 14) & 1; // HWCAP2_BF16
#elif defined(__APPLE__)
    c.dotprod = sysctl_int("hw.optional.arm.FEAT_DotProd") == 1;
    c.i8mm = sysctl_int("hw.optional.arm.FEAT_I8MM") == 1;
    c.arm_bf16 = sysctl_int("hw.optional.arm.FEAT_BF16") == 1;
#endif
#endif
    read_cache_sizes(c);
    // Guard against nonsense from a hypervisor: the blocking below divides by these.
    if (c.l1d < 16 * 1024 || c.l1d > 1024 * 1024) c.l1d = 32 * 1024;
    if (c.l2 < 128 * 1024 || c.l2 > 64 * 1024 * 1024) c.l2 = 1024 * 1024;
    return c;
}

}  // namespace detail

inline const CpuInfo& cpu_info() {
    static const CpuInfo info = detail::detect_cpu();
    return info;
}

// Linux hands out AMX tile state only to processes that ask (arch_prctl ARCH_REQ_XCOMP_PERM);
// true once granted. A refusal (old kernel, seccomp) leaves the AVX-512 kernels in charge.
inline bool request_amx() {
#if defined(__x86_64__) && defined(__linux__)
    static const bool granted = [] {
        if (!cpu_info().amx_tile) return false;
        constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return ::syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return granted;
#else
    return false;
#endif
}

// The compiler this program was built with, as the benchmarks print it beside their figures.
inline std::string compiler_name() {
#if defined(__clang__)
    return "clang " + std::to_string(__clang_major__) + "." + std::to_string(__clang_minor__) + "." +
           std::to_string(__clang_patchlevel__);
#elif defined(__GNUC__)
    return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." + std::to_string(__GNUC_PATCHLEVEL__);
#else
    return "unknown compiler";
#endif
}

}  // namespace fovea

#pragma once
// Image files to 8-bit RGB (or one channel) the way PIL's Image.open(p).convert("RGB") / ("L")
// sees them, decoded with stb_image (PNG, JPEG, BMP, PNM, GIF first frame).
// Dimensions are read and checked against a pixel budget before anything is decoded.
#include <sys/stat.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"

#ifndef FOVEA_STB_INCLUDED
#define FOVEA_STB_INCLUDED
// A private, static copy of stb_image: no symbol clashes with other users of stb in the program.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_NO_TGA  // no magic number: stb tries it on any bytes the other decoders refuse
#define STBI_NO_LINEAR
#define STBI_MAX_DIMENSIONS (1 << 16)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

namespace fovea {

struct Image {
    std::int64_t width = 0, height = 0, channels = 0;  // channels: 3 (RGB) or 1 (L)
    std::vector<std::uint8_t> pixels;                   // (height, width, channels)

    std::uint8_t* row(std::int64_t y) { return pixels.data() + y * width * channels; }
    const std::uint8_t* row(std::int64_t y) const { return pixels.data() + y * width * channels; }
};

inline constexpr std::int64_t kMaxImagePixels = 64ll * 1024 * 1024;  // 64 megapixels
inline constexpr std::int64_t kMaxImageFileBytes = 512ll * 1024 * 1024;

// PIL's RGB -> L: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16
inline std::uint8_t pil_luma(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    return static_cast<std::uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

namespace detail {

// stb_image 2.27 (Debian's) trusts a JPEG's Huffman tables: more than 256 codes in one DHT table
// overflow its tables, and a scan that uses a table no DHT defined reads past its maxcode array
// (both found by fuzz_image). Walk the JPEG's marker segments, entropy-coded data included, and
// refuse such files before stb_image sees the bytes.
inline void check_jpeg_huffman_tables(const std::uint8_t* d, std::size_t n, const std::string& where) {
    // stb_image takes any run of 0xFF fill bytes before the SOI marker
    std::size_t p = 0;
    while (p < n && d[p] == 0xFF) ++p;
    if (p == 0 || p >= n || d[p] != 0xD8) return;  // not a JPEG
    ++p;
    auto at = [d, n](std::size_t i) -> std::size_t { return i < n ? d[i] : 0; };  // stb reads zeros past the end
    bool defined[2][4] = {};                                                     // [DC, AC][table id]
    while (p + 1 < n) {
        if (d[p] != 0xFF) {  // inside entropy-coded data: find the next marker
            ++p;
            continue;
        }
        const std::uint8_t m = d[p + 1];
        if (m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {  // stuffing, fill, RSTn, TEM
            p += m == 0xFF ? 1 : 2;
            continue;
        }
        if (m == 0xD9 || p + 3 >= n) return;  // EOI, or a truncated file stb will refuse
        const std::size_t len = (static_cast<std::size_t>(d[p + 2]) << 8) | d[p + 3];
        const std::size_t end = std::min(n, p + 2 + len);
        if (m == 0xC4) {  // DHT: count only the bytes that are there
            for (std::size_t q = p + 4; q < end;) {
                std::size_t codes = 0;
                for (std::size_t i = q + 1; i <= q + 16 && i < n; ++i) codes += d[i];
                if (codes > 256) fail(where, ": corrupt JPEG (Huffman table with ", codes, " codes, at most 256)");
                const std::size_t tc = d[q] >> 4, th = d[q] & 15;
                if (tc <= 1 && th <= 3) defined[tc][th] = true;
                q += 17 + codes;
            }
        }
        if (m == 0xDA) {  // SOS: the DC tables are used when Ss = 0 and Ah = 0, the AC tables when Se > 0
            const std::size_t ns = at(p + 4), tail = p + 5 + 2 * ns;
            const bool dc = at(tail) == 0 && (at(tail + 2) >> 4) == 0, ac = at(tail + 1) > 0;
            for (std::size_t c = 0; c < ns; ++c) {
                const std::size_t t = at(p + 6 + 2 * c), td = t >> 4, ta = t & 15;
                if ((dc && td <= 3 && !defined[0][td]) || (ac && ta <= 3 && !defined[1][ta]))
                    fail(where, ": corrupt JPEG (a scan uses a Huffman table that was never defined)");
            }
        }
        p += 2 + len;
    }
}

// stb_image 2.27 reads the numbers of a PNM header into an int without an overflow check (found by
// fuzz_image). Walk the header as stb does and refuse any number above the largest size stb accepts.
inline void check_pnm_header(const std::uint8_t* d, std::size_t n, const std::string& where) {
    if (n < 2 || d[0] != 'P' || (d[1] != '5' && d[1] != '6')) return;
    const auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
    std::size_t p = 2;
    for (int field = 0; field < 3; ++field) {  // width, height, maximum value
        for (;;) {  // whitespace and # comments
            while (p < n && space(d[p])) ++p;
            if (p >= n || d[p] != '#') break;
            while (p < n && d[p] != '\n' && d[p] != '\r') ++p;
        }
        std::int64_t v = 0;
        for (; p < n && d[p] >= '0' && d[p] <= '9'; ++p)
            if ((v = v * 10 + (d[p] - '0')) > 65536) fail(where, ": corrupt PNM header (a size or maximum value above 65536)");
    }
}

// stb_image 2.27 memcpy's a zero-length IDAT chunk through a null buffer when it comes first
// (undefined behaviour, found by fuzz_image). Such chunks carry no data: decode a copy without them.
inline bool drop_empty_png_idat(const std::uint8_t* d, std::size_t n, std::vector<std::uint8_t>& out) {
    static const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n < 8 || std::memcmp(d, sig, 8) != 0) return false;
    auto be32 = [d](std::size_t p) {
        return (std::size_t{d[p]} << 24) | (std::size_t{d[p + 1]} << 16) | (std::size_t{d[p + 2]} << 8) | d[p + 3];
    };
    bool dropped = false;
    out.assign(d, d + 8);
    std::size_t p = 8;
    for (; p + 12 <= n; ) {  // length, type, data, CRC
        const std::size_t len = be32(p), end = p + 12 + len;
        if (len == 0 && std::memcmp(d + p + 4, "IDAT", 4) == 0) {
            dropped = true;
            p = end;
            continue;
        }
        if (len > n || end > n) break;  // truncated: the rest goes to stb as it is
        out.insert(out.end(), d + p, d + end);
        p = end;
    }
    out.insert(out.end(), d + p, d + n);
    return dropped;
}

// stb's reason for a failure; it can quote raw bytes of the file (a PNG chunk type), shown as '?'.
inline std::string stb_reason() {
    std::string r = stbi_failure_reason() ? stbi_failure_reason() : "unknown";
    for (char& c : r)
        if (c < 0x20 || c > 0x7E) c = '?';
    return r;
}

}  // namespace detail

inline Image decode_image(const std::uint8_t* data, std::size_t size, int channels, const std::string& where) {
    if (channels != 1 && channels != 3) detail::fail(where, ": images are decoded to 1 or 3 channels, not ", channels);
    if (size == 0) detail::fail(where, ": empty file");
    detail::check_jpeg_huffman_tables(data, size, where);
    detail::check_pnm_header(data, size, where);
    std::vector<std::uint8_t> cleaned;
    if (detail::drop_empty_png_idat(data, size, cleaned)) {
        data = cleaned.data();
        size = cleaned.size();
    }
    if (size > static_cast<std::size_t>(INT32_MAX)) detail::fail(where, ": file too large for the image decoder");
    const int len = static_cast<int>(size);
    int w = 0, h = 0, n = 0;
    if (!stbi_info_from_memory(data, len, &w, &h, &n))
        detail::fail(where, ": not a readable image (", detail::stb_reason(), ")");
    if (w <= 0 || h <= 0) detail::fail(where, ": image has no pixels");
    if (static_cast<std::int64_t>(w) * h > kMaxImagePixels)
        detail::fail(where, ": image is ", w, "x", h, ", over the ", kMaxImagePixels / (1024 * 1024), " megapixel limit");
    const bool grey = n == 1 || n == 2;  // alpha is dropped, as convert() does
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.pixels.resize(static_cast<std::size_t>(w) * h * channels);
    int dw = 0, dh = 0, dn = 0;
    if (grey && stbi_is_16_bit_from_memory(data, len)) {
        // PIL opens 16-bit greyscale as mode "I"; its convert() clips at 255 rather than scaling.
        stbi_us* p = stbi_load_16_from_memory(data, len, &dw, &dh, &dn, 1);
        if (!p) detail::fail(where, ": cannot decode image (", detail::stb_reason(), ")");
        for (std::int64_t i = 0; i < static_cast<std::int64_t>(w) * h; ++i)
            for (int c = 0; c < channels; ++c) img.pixels[i * channels + c] = static_cast<std::uint8_t>(p[i] > 255 ? 255 : p[i]);
        stbi_image_free(p);
    } else {
        const int want = grey ? 1 : 3;
        stbi_uc* p = stbi_load_from_memory(data, len, &dw, &dh, &dn, want);
        if (!p) detail::fail(where, ": cannot decode image (", detail::stb_reason(), ")");
        const std::int64_t npx = static_cast<std::int64_t>(w) * h;
        if (want == channels) {
            std::memcpy(img.pixels.data(), p, img.pixels.size());
        } else if (want == 1) {  // grey to RGB: replicate
            for (std::int64_t i = 0; i < npx; ++i) img.pixels[3 * i] = img.pixels[3 * i + 1] = img.pixels[3 * i + 2] = p[i];
        } else {  // RGB to L
            for (std::int64_t i = 0; i < npx; ++i) img.pixels[i] = pil_luma(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
        }
        stbi_image_free(p);
    }
    if (dw != w || dh != h) detail::fail(where, ": image header and data disagree on the size");
    return img;
}

inline Image load_image(const std::string& path, int channels = 3) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) detail::fail(path, ": no such file");
    if (S_ISDIR(st.st_mode)) detail::fail(path, ": is a directory, not an image");
    if (!S_ISREG(st.st_mode)) detail::fail(path, ": not a regular file");
    if (st.st_size > kMaxImageFileBytes) detail::fail(path, ": file too large for an image");
    std::ifstream f(path, std::ios::binary);
    if (!f) detail::fail(path, ": cannot open file");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
    f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) detail::fail(path, ": cannot read file");
    return decode_image(bytes.data(), bytes.size(), channels, path);
}

}  // namespace fovea

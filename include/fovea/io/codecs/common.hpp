#pragma once
// What every decoder in io/codecs/ returns, and the checks they share. A decoder gives the pixels
// PIL holds after Image.open(): 8-bit grey ("L") or RGB, after the format's own steps (palette
// lookup, 16-bit sample reduction, CMYK to RGB) done as Pillow does them; image-inl.hpp then
// converts between grey and RGB as convert() does.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"

namespace fovea {
inline constexpr std::int64_t kMaxImagePixels = 64ll * 1024 * 1024;  // the largest image fovea decodes (64 megapixels)
}  // namespace fovea

namespace fovea::detail {

inline constexpr std::int64_t kMaxDecodedPixels = kMaxImagePixels;

struct Decoded {
    std::int64_t width = 0, height = 0;
    int channels = 0;  // 1 (L) or 3 (RGB)
    std::vector<std::uint8_t> pixels;  // (height, width, channels)
};

// The size a header declares, checked before anything is allocated or decoded.
inline void check_size(const std::string& where, std::int64_t width, std::int64_t height) {
    if (width <= 0 || height <= 0) fail(where, ": image has no pixels (", width, "x", height, ")");
    if (width > kMaxDecodedPixels || height > kMaxDecodedPixels || width * height > kMaxDecodedPixels)
        fail(where, ": image is ", width, "x", height, ", over the ", kMaxDecodedPixels / (1024 * 1024), " megapixel limit");
}

inline Decoded new_decoded(const std::string& where, std::int64_t width, std::int64_t height, int channels) {
    check_size(where, width, height);
    Decoded d;
    d.width = width;
    d.height = height;
    d.channels = channels;
    d.pixels.assign(static_cast<std::size_t>(width * height * channels), 0);
    return d;
}

// A palette as Pillow (12) holds one: 256 RGB entries, those the file does not define black. Files
// Pillow opens as grey ("L": no palette, or one that is the ramp i -> (i, i, i)) read each index
// as its own grey level, which is the full ramp here.
struct Palette {
    std::uint8_t rgb[256][3] = {};
    void set_ramp() {
        for (int i = 0; i < 256; ++i) rgb[i][0] = rgb[i][1] = rgb[i][2] = static_cast<std::uint8_t>(i);
    }
    bool is_ramp(int entries) const {
        for (int i = 0; i < entries && i < 256; ++i)
            if (rgb[i][0] != i || rgb[i][1] != i || rgb[i][2] != i) return false;
        return true;
    }
    // Indices -> RGB, or -> grey (channels 1) when every entry is grey.
    void apply(const std::uint8_t* index, std::size_t n, int channels, std::uint8_t* out) const {
        if (channels == 1) {
            for (std::size_t i = 0; i < n; ++i) out[i] = rgb[index[i]][0];
        } else {
            for (std::size_t i = 0; i < n; ++i) std::memcpy(out + 3 * i, rgb[index[i]], 3);
        }
    }
    bool grey() const {
        for (const auto& e : rgb)
            if (e[0] != e[1] || e[1] != e[2]) return false;
        return true;
    }
};

// Bounds-checked reading of a file in memory; running out is an error naming the format.
class ByteReader {
public:
    ByteReader(const std::uint8_t* data, std::size_t size, const std::string& where, const char* format)
        : d_(data), n_(size), where_(where), format_(format) {}
    std::size_t pos() const { return p_; }
    std::size_t size() const { return n_; }
    std::size_t left() const { return n_ - p_; }
    bool at_end() const { return p_ >= n_; }
    void seek(std::size_t p) {
        if (p > n_) truncated();
        p_ = p;
    }
    void skip(std::size_t k) {
        if (k > left()) truncated();
        p_ += k;
    }
    const std::uint8_t* take(std::size_t k) {
        if (k > left()) truncated();
        const std::uint8_t* at = d_ + p_;
        p_ += k;
        return at;
    }
    std::uint8_t u8() { return *take(1); }
    std::uint16_t le16() {
        const std::uint8_t* b = take(2);
        return static_cast<std::uint16_t>(b[0] | (b[1] << 8));
    }
    std::uint32_t le32() {
        const std::uint8_t* b = take(4);
        return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
               (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    }
    [[noreturn]] void truncated() const { fail(where_, ": truncated ", format_, " file (", n_, " bytes)"); }

private:
    const std::uint8_t* d_;
    std::size_t n_, p_ = 0;
    const std::string& where_;
    const char* format_;
};

}  // namespace fovea::detail

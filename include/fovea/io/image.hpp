#pragma once
// Image files to 8-bit RGB (or one channel) exactly as Pillow's Image.open(p).convert("RGB") /
// ("L") gives them, which is how timm reads images: JPEG through libjpeg(-turbo) and PNG through
// libpng (the libraries Pillow uses; stb_image where they are absent), BMP, GIF's first frame and
// PNM by fovea's own decoders following Pillow 12. A file Pillow refuses (truncated, corrupt) is
// an error. Dimensions are checked against kMaxImagePixels before anything is decoded. A public
// header: the decoders are in io/codecs/ and image-inl.hpp, included at the end (header-only) or
// compiled once into fovea::compiled (FOVEA_COMPILED).
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/core/error.hpp"
#include "fovea/io/codecs/common.hpp"  // kMaxImagePixels
#include "fovea/version.hpp"

namespace fovea {

struct Image {
    std::int64_t width = 0, height = 0, channels = 0;  // channels: 3 (RGB) or 1 (L)
    std::vector<std::uint8_t> pixels;                   // (height, width, channels)

    std::uint8_t* row(std::int64_t y) { return pixels.data() + y * width * channels; }
    const std::uint8_t* row(std::int64_t y) const { return pixels.data() + y * width * channels; }
};

inline constexpr std::int64_t kMaxImageFileBytes = 512ll * 1024 * 1024;

// PIL's RGB -> L: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16
inline std::uint8_t pil_luma(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    return static_cast<std::uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

// Encoded bytes (a file's contents) -> pixels with 1 or 3 channels; `where` names the image in errors.
Image decode_image(const std::uint8_t* data, std::size_t size, int channels, const std::string& where);
// A file -> pixels with 1 or 3 channels.
Image load_image(const std::string& path, int channels = 3);
// Which decoder reads which format, for --version:
// "JPEG: libjpeg-turbo 2.1.5, PNG: libpng 1.6.39, BMP, GIF, PNM: fovea".
std::string image_decoders();

}  // namespace fovea

#ifndef FOVEA_COMPILED
#include "fovea/io/image-inl.hpp"
#endif

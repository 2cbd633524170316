// Definitions of io/image.hpp: which decoder reads which format (io/codecs/), then grey <-> RGB
// as PIL's convert() does. Included at the end of image.hpp (header-only), or once by the
// fovea::compiled library (FOVEA_COMPILED).
#pragma once
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fovea/io/codecs/bmp.hpp"
#include "fovea/io/codecs/common.hpp"
#include "fovea/io/codecs/gif.hpp"
#include "fovea/io/codecs/jpeg.hpp"
#include "fovea/io/codecs/png.hpp"
#include "fovea/io/codecs/pnm.hpp"
#include "fovea/io/codecs/stb.hpp"
#include "fovea/io/image.hpp"

#ifdef FOVEA_COMPILED
#define FOVEA_INLINE_
#else
#define FOVEA_INLINE_ inline
#endif

namespace fovea {

FOVEA_INLINE_ Image decode_image(const std::uint8_t* data, std::size_t size, int channels, const std::string& where) {
    return detail::api_boundary(where, [&] {
        if (channels != 1 && channels != 3) detail::fail(where, ": images are decoded to 1 or 3 channels, not ", channels);
        if (size == 0) detail::fail(where, ": empty file");
        static const std::uint8_t kJpeg[3] = {0xFF, 0xD8, 0xFF}, kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
        const bool jpeg = size >= 3 && std::memcmp(data, kJpeg, 3) == 0, png = size >= 8 && std::memcmp(data, kPng, 8) == 0;
        detail::Decoded d;
        if (detail::is_bmp(data, size)) {
            d = detail::decode_bmp(data, size, where);
        } else if (detail::is_gif(data, size)) {
            d = detail::decode_gif(data, size, where);
        } else if (detail::is_pnm(data, size)) {
            d = detail::decode_pnm(data, size, where);
        } else if (jpeg) {
#if defined(FOVEA_WITH_LIBJPEG)
            d = detail::decode_jpeg(data, size, where);
#else
            d = detail::decode_stb(data, size, where);
#endif
        } else if (png) {
#if defined(FOVEA_WITH_LIBPNG)
            d = detail::decode_png(data, size, where);
#else
            d = detail::decode_stb(data, size, where);
#endif
        } else {
            detail::fail(where, ": not a PNG, JPEG, BMP, PNM or GIF file");
        }
        Image img;
        img.width = d.width;
        img.height = d.height;
        img.channels = channels;
        if (d.channels == channels) {
            img.pixels = std::move(d.pixels);
            return img;
        }
        const std::size_t count = static_cast<std::size_t>(d.width * d.height);
        img.pixels.resize(count * static_cast<std::size_t>(channels));
        std::uint8_t* px = img.pixels.data();
        const std::uint8_t* p = d.pixels.data();
        if (channels == 3) {  // L -> RGB: replicate
            for (std::size_t i = 0; i < count; ++i) px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = p[i];
        } else {  // RGB -> L
            for (std::size_t i = 0; i < count; ++i) px[i] = pil_luma(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
        }
        return img;
    });
}

FOVEA_INLINE_ Image load_image(const std::string& path, int channels) {
    return detail::api_boundary(path, [&] {
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
    });
}

FOVEA_INLINE_ std::string image_decoders() {
    std::string jpeg = "stb_image", png = "stb_image";
#if defined(FOVEA_WITH_LIBJPEG)
#if defined(LIBJPEG_TURBO_VERSION_NUMBER)
    constexpr int v = LIBJPEG_TURBO_VERSION_NUMBER;  // 2001005 = 2.1.5
    jpeg = "libjpeg-turbo " + std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) + "." + std::to_string(v % 1000);
#else
    jpeg = "libjpeg (API " + std::to_string(JPEG_LIB_VERSION) + ")";
#endif
#endif
#if defined(FOVEA_WITH_LIBPNG)
    png = std::string("libpng ") + PNG_LIBPNG_VER_STRING;
#endif
    return "JPEG: " + jpeg + ", PNG: " + png + ", BMP, GIF, PNM: fovea";
}

}  // namespace fovea

#undef FOVEA_INLINE_

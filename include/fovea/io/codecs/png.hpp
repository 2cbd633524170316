#pragma once
// PNG through libpng, with Pillow's reading of each pixel format: palettes looked up (indices past
// the palette read as grey, as in Pillow), grey of 1, 2 or 4 bits scaled to 0..255, alpha and tRNS
// ignored (convert("RGB") drops them), 16-bit RGB, RGBA and grey+alpha reduced to their high
// byte, and 16-bit grey (Pillow's mode "I") clipped at 255. No gamma or colour profile is applied,
// as in Pillow. A truncated file, a bad CRC in a critical chunk or corrupt data is an error.
// Bounded: the size is checked before rows are read, and only the compressed data that fills
// the rows is inflated (data past the last row is never decompressed).
//
// Compiled in with FOVEA_WITH_LIBPNG (the CMake target sets it when libpng is found).
#if defined(FOVEA_WITH_LIBPNG)
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <png.h>

#include "fovea/io/codecs/common.hpp"

namespace fovea::detail {

namespace png {

// Everything libpng's callbacks touch. Plain data, so the longjmp out of an error skips no destructor.
struct Session {
    png_structp png;
    png_infop info;
    std::jmp_buf jump;
    char message[256];
    const std::uint8_t* data;
    std::size_t size, pos;
};

inline Session& session(png_structp p) { return *static_cast<Session*>(png_get_error_ptr(p)); }

inline void on_error(png_structp p, png_const_charp msg) {
    Session& s = session(p);
    std::snprintf(s.message, sizeof s.message, "%s", msg ? msg : "unknown error");
    std::longjmp(s.jump, 1);
}
inline void on_warning(png_structp, png_const_charp) {}
inline void on_read(png_structp p, png_bytep out, png_size_t n) {
    Session& s = *static_cast<Session*>(png_get_io_ptr(p));
    if (n > s.size - s.pos) png_error(p, "the file is truncated");
    std::memcpy(out, s.data + s.pos, n);
    s.pos += n;
}

struct Header {
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
};

// Signature to IHDR (and the chunks before the image data); false (with s.message) on error.
inline bool read_header(Session& s, Header& h) {
    if (setjmp(s.jump)) return false;
    png_set_read_fn(s.png, &s, on_read);
    png_set_user_limits(s.png, 0x7fffffff, 0x7fffffff);  // fovea checks width x height itself
    png_read_info(s.png, s.info);
    png_get_IHDR(s.png, s.info, &h.width, &h.height, &h.bit_depth, &h.color_type, &h.interlace, nullptr, nullptr);
    // Sample formats libpng hands back: palette indices and low-bit grey one byte each; 16-bit
    // samples stay 16-bit only for plain grey, where Pillow clips rather than drops the low byte.
    if (h.bit_depth < 8) png_set_packing(s.png);
    if (h.bit_depth == 16 && h.color_type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(s.png);
    if (h.color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(s.png);
    if (h.interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(s.png);
    png_read_update_info(s.png, s.info);
    return true;
}

// All rows into `rows` (height pointers); false (with s.message) on error.
inline bool read_rows(Session& s, png_bytep* rows) {
    if (setjmp(s.jump)) return false;
    png_read_image(s.png, rows);
    return true;
}

}  // namespace png

inline Decoded decode_png(const std::uint8_t* d, std::size_t n, const std::string& where) {
    // The size first, from IHDR (the first chunk), before libpng reads on to the image data.
    if (n >= 24 && std::memcmp(d + 12, "IHDR", 4) == 0) {
        const auto be32 = [d](std::size_t p) {
            return (std::int64_t{d[p]} << 24) | (std::int64_t{d[p + 1]} << 16) | (std::int64_t{d[p + 2]} << 8) | d[p + 3];
        };
        check_size(where, be32(16), be32(20));
    }
    png::Session s{};
    s.data = d;
    s.size = n;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png::on_error, png::on_warning);
    if (!s.png) fail(where, ": cannot decode PNG (libpng could not start)");
    s.info = png_create_info_struct(s.png);
    struct Destroy {
        png::Session* s;
        ~Destroy() { png_destroy_read_struct(&s->png, s->info ? &s->info : nullptr, nullptr); }
    } destroy{&s};
    if (!s.info) fail(where, ": cannot decode PNG (libpng could not start)");
    png::Header h{};
    if (!png::read_header(s, h)) fail(where, ": cannot decode PNG (", s.message, ")");

    Palette palette;
    const bool indexed = h.color_type == PNG_COLOR_TYPE_PALETTE;
    if (indexed) {
        png_colorp entries = nullptr;
        int count = 0;
        if (png_get_PLTE(s.png, s.info, &entries, &count) && entries)
            for (int i = 0; i < count && i < 256; ++i) {
                palette.rgb[i][0] = entries[i].red;
                palette.rgb[i][1] = entries[i].green;
                palette.rgb[i][2] = entries[i].blue;
            }
    }
    const bool colour = (h.color_type & PNG_COLOR_MASK_COLOR) && !indexed;
    Decoded out = new_decoded(where, h.width, h.height, colour || (indexed && !palette.grey()) ? 3 : 1);

    // Rows as libpng gives them (1 or 2 bytes per grey sample, 3 bytes per RGB pixel, 1 byte per index).
    const std::size_t row_bytes = png_get_rowbytes(s.png, s.info);
    std::vector<std::uint8_t> raw(row_bytes * h.height);
    std::vector<png_bytep> rows(h.height);
    for (std::size_t y = 0; y < h.height; ++y) rows[y] = raw.data() + y * row_bytes;
    if (!png::read_rows(s, rows.data())) fail(where, ": cannot decode PNG (", s.message, ")");

    const std::uint8_t* p = raw.data();
    const std::size_t w = h.width;
    for (std::size_t y = 0; y < h.height; ++y) {
        const std::uint8_t* r = p + y * row_bytes;
        std::uint8_t* o = out.pixels.data() + y * w * static_cast<std::size_t>(out.channels);
        if (indexed) {
            palette.apply(r, w, out.channels, o);
        } else if (colour) {
            std::memcpy(o, r, 3 * w);
        } else if (h.bit_depth == 16 && h.color_type == PNG_COLOR_TYPE_GRAY) {  // big-endian samples, clipped
            for (std::size_t x = 0; x < w; ++x) o[x] = r[2 * x] ? 255 : r[2 * x + 1];
        } else {
            const int scale = h.bit_depth == 1 ? 255 : h.bit_depth == 2 ? 85 : h.bit_depth == 4 ? 17 : 1;
            for (std::size_t x = 0; x < w; ++x) o[x] = static_cast<std::uint8_t>(r[x] * scale);
        }
    }
    return out;
}

}  // namespace fovea::detail

#endif  // FOVEA_WITH_LIBPNG

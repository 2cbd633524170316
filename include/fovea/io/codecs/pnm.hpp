#pragma once
// PBM, PGM and PPM (P1-P6) as Pillow reads them. A maximum value other than 255 is scaled:
// grey and RGB samples to round(v / maxval * 255), 16-bit grey (maxval > 255, Pillow's mode "I")
// to round(v / maxval * 65535) and then clipped at 255 as convert() does; rounding is half to
// even, as Python's round(). Binary samples above maxval count as maxval; in the plain formats
// they are an error, as is data that ends before the last pixel.
#include <cmath>
#include <cstdint>
#include <string>

#include "fovea/io/codecs/common.hpp"

namespace fovea::detail {

inline bool is_pnm(const std::uint8_t* d, std::size_t n) { return n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6'; }

namespace pnm {

inline bool space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// Skips whitespace and # comments (to the end of the line).
inline void skip_space(ByteReader& r, const std::uint8_t* d) {
    while (!r.at_end()) {
        const std::uint8_t c = d[r.pos()];
        if (space(c)) {
            r.skip(1);
        } else if (c == '#') {
            while (!r.at_end() && d[r.pos()] != '\n' && d[r.pos()] != '\r') r.skip(1);
        } else {
            break;
        }
    }
}

// A decimal number of at most 10 digits; `what` names it in errors.
inline std::int64_t number(ByteReader& r, const std::uint8_t* d, const std::string& where, const char* what) {
    skip_space(r, d);
    std::int64_t v = 0;
    int digits = 0;
    while (!r.at_end() && d[r.pos()] >= '0' && d[r.pos()] <= '9') {
        if (++digits > 10) fail(where, ": PNM ", what, " has too many digits");
        v = v * 10 + (d[r.pos()] - '0');
        r.skip(1);
    }
    if (digits == 0) {
        if (r.at_end()) r.truncated();
        fail(where, ": PNM ", what, " is not a number");
    }
    if (!r.at_end() && !space(d[r.pos()]) && d[r.pos()] != '#') fail(where, ": PNM ", what, " is followed by an unexpected byte");
    return v;
}

}  // namespace pnm

inline Decoded decode_pnm(const std::uint8_t* d, std::size_t n, const std::string& where) {
    ByteReader r(d, n, where, "PNM");
    const char kind = static_cast<char>(d[1]);
    r.skip(2);
    const bool bits = kind == '1' || kind == '4', rgb = kind == '3' || kind == '6', plain = kind <= '3';
    const std::int64_t w = pnm::number(r, d, where, "width"), h = pnm::number(r, d, where, "height");
    const std::int64_t maxval = bits ? 1 : pnm::number(r, d, where, "maximum value");
    if (maxval < 1 || maxval > 65535) fail(where, ": PNM maximum value ", maxval, " is outside [1, 65535]");
    Decoded out = new_decoded(where, w, h, rgb ? 3 : 1);
    const std::size_t count = out.pixels.size();
    // Pillow's modes: "1" for bitmaps, "I" for grey with maxval > 255, else "L" / "RGB".
    const bool wide_grey = !rgb && !bits && maxval > 255;
    auto scale = [&](std::int64_t v) -> std::uint8_t {
        if (v > maxval) v = maxval;
        if (maxval == 255) return static_cast<std::uint8_t>(v);
        // Pillow: round(v / maxval * out_max), in this order (it decides halfway cases)
        const double s = std::nearbyint(static_cast<double>(v) / static_cast<double>(maxval) * (wide_grey ? 65535.0 : 255.0));
        return static_cast<std::uint8_t>(s > 255.0 ? 255.0 : s);
    };

    if (!plain) {
        if (r.at_end() || !pnm::space(d[r.pos()])) r.truncated();
        r.skip(1);  // one whitespace byte ends the header
        if (kind == '4') {
            const std::size_t stride = static_cast<std::size_t>((w + 7) / 8);
            for (std::int64_t y = 0; y < h; ++y) {
                const std::uint8_t* row = r.take(stride);
                for (std::int64_t x = 0; x < w; ++x)
                    out.pixels[static_cast<std::size_t>(y * w + x)] = (row[x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
            }
            return out;
        }
        const std::size_t bytes = maxval > 255 ? 2 : 1;
        const std::uint8_t* p = r.take(count * bytes);
        for (std::size_t i = 0; i < count; ++i)
            out.pixels[i] = scale(bytes == 2 ? (p[2 * i] << 8) | p[2 * i + 1] : p[i]);
        return out;
    }

    // Plain formats: P1 takes each '0' / '1' character as a pixel; P2 / P3 decimal samples.
    for (std::size_t i = 0; i < count; ++i) {
        pnm::skip_space(r, d);
        if (r.at_end()) fail(where, ": PNM data ends after ", i, " of ", count, " samples");
        if (kind == '1') {
            const std::uint8_t c = r.u8();
            if (c != '0' && c != '1') fail(where, ": PBM data holds a byte that is neither 0 nor 1");
            out.pixels[i] = c == '1' ? 0 : 255;
            continue;
        }
        const std::int64_t v = pnm::number(r, d, where, "sample");
        if (v > maxval) fail(where, ": PNM sample ", v, " is above the maximum value ", maxval);
        out.pixels[i] = scale(v);
    }
    return out;
}

}  // namespace fovea::detail

#pragma once
// BMP as Pillow (12.2 and later) reads it: headers of 12, 40, 52, 56, 64, 108 and 124 bytes;
// 1, 4 and 8-bit palettes, plain or run-length encoded (RLE8, RLE4); 16-bit 5-5-5 and 5-6-5 (each
// field scaled as v * 255 / max, rounded down); 24-bit; 32-bit with the bit-field layouts Pillow
// knows. Rows are bottom-up unless the height is negative. A file that ends before the last row
// (or an RLE stream that stops short of the last pixel) is an error, as in Pillow.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/io/codecs/common.hpp"

namespace fovea::detail {

inline bool is_bmp(const std::uint8_t* d, std::size_t n) { return n >= 2 && d[0] == 'B' && d[1] == 'M'; }

namespace bmp {

// Run-length data (RLE8, or RLE4 with two pixels per byte) -> indices in stream order (rows as
// stored, bottom-up for a positive height). Escapes: 0 0 end of row, 0 1 end of bitmap, 0 2 dx dy
// skip (skipped pixels are index 0), 0 n and n literal indices (padded to a 16-bit boundary of the
// file). Pillow 12.3's reading, odd RLE4 literal runs included (their last index is dropped).
inline void rle(const std::uint8_t* d, std::size_t n, std::size_t pos, bool four, std::int64_t w, std::vector<std::uint8_t>& out,
                const std::string& where) {
    const std::size_t total = out.size();
    std::size_t len = 0;
    std::int64_t x = 0;
    auto put = [&](std::uint8_t v, std::size_t count) {
        const std::size_t k = std::min(count, total - std::min(total, len));
        std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(std::min(len, total)), k, v);
        len += count;
    };
    while (len < total && pos + 2 <= n) {
        const std::uint8_t count = d[pos], value = d[pos + 1];
        pos += 2;
        if (count) {  // a run, cut at the end of the row
            const std::int64_t run = std::min<std::int64_t>(count, std::max<std::int64_t>(0, w - x));
            for (std::int64_t i = 0; i < run; ++i) put(four ? static_cast<std::uint8_t>(i % 2 ? value & 15 : value >> 4) : value, 1);
            x += run;
        } else if (value == 0) {  // end of row
            if (len % static_cast<std::size_t>(w)) put(0, static_cast<std::size_t>(w) - len % static_cast<std::size_t>(w));
            x = 0;
        } else if (value == 1) {  // end of bitmap
            break;
        } else if (value == 2) {  // skip right and up
            if (pos + 2 > n) break;
            put(0, d[pos] + static_cast<std::size_t>(d[pos + 1]) * static_cast<std::size_t>(w));
            pos += 2;
            x = static_cast<std::int64_t>(len % static_cast<std::size_t>(w));
        } else {  // literal indices; RLE4 reads value / 2 bytes, two indices each (Pillow 12.3)
            const std::size_t bytes = four ? value / 2u : value, have = std::min<std::size_t>(bytes, n - pos);
            for (std::size_t i = 0; i < have; ++i) {
                if (!four) {
                    put(d[pos + i], 1);
                } else {
                    put(static_cast<std::uint8_t>(d[pos + i] >> 4), 1);
                    put(d[pos + i] & 15, 1);
                }
            }
            pos += have;
            if (have < bytes) break;
            x += value;
            pos += pos % 2;  // to a 16-bit boundary of the file
        }
    }
    if (len < total) fail(where, ": BMP run-length data ends after ", len, " of ", total, " pixels");
}

}  // namespace bmp

inline Decoded decode_bmp(const std::uint8_t* d, std::size_t n, const std::string& where) {
    ByteReader r(d, n, where, "BMP");
    r.skip(10);
    std::size_t data_offset = r.le32();
    const std::uint32_t header = r.le32();
    if (header != 12 && header != 40 && header != 52 && header != 56 && header != 64 && header != 108 && header != 124)
        fail(where, ": unsupported BMP header size ", header);
    std::int64_t w, h;
    bool top_down = false;  // a negative height: rows stored top-down
    std::uint32_t bpp, compression = 0, colors = 0;
    std::uint32_t mask[4] = {0, 0, 0, 0};
    if (header == 12) {
        w = r.le16();
        h = r.le16();
        r.skip(2);
        bpp = r.le16();
    } else {
        const std::uint32_t uw = r.le32(), uh = r.le32();
        w = uw;
        top_down = (uh >> 24) == 0xFF;  // as Pillow tells a negative height
        h = top_down ? (std::int64_t{1} << 32) - uh : uh;
        r.skip(2);
        bpp = r.le16();
        compression = r.le32();
        r.skip(12);
        colors = r.le32();
        r.skip(4);
        if (header >= 52)
            for (int i = 0; i < (header >= 56 ? 4 : 3); ++i) mask[i] = r.le32();
        r.seek(14 + header);
    }
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) fail(where, ": unsupported BMP bit depth ", bpp);
    const bool rle = compression == 1 || compression == 2;
    if (rle && bpp != (compression == 1 ? 8u : 4u)) fail(where, ": BMP run-length compression ", compression, " with ", bpp, " bits per pixel");
    if (compression > 3) fail(where, ": unsupported BMP compression ", compression);

    // Where R, G, B are in a pixel's bytes (the fourth byte, alpha or unused, is dropped as convert("RGB") does).
    int at[3] = {2, 1, 0};  // BGR, BGRX, BGRA
    bool five_six_five = false;
    if (compression == 3) {
        if (header == 40)
            for (int i = 0; i < 3; ++i) mask[i] = r.le32();
        const auto is = [&](std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t x) {
            return mask[0] == a && mask[1] == b && mask[2] == c && (bpp != 32 || mask[3] == x);
        };
        if (bpp == 32 && (is(0xFF0000, 0xFF00, 0xFF, 0) || is(0xFF0000, 0xFF00, 0xFF, 0xFF000000) || is(0, 0, 0, 0))) {
        } else if (bpp == 32 && (is(0xFF000000, 0xFF0000, 0xFF00, 0) || is(0xFF000000, 0xFF0000, 0xFF00, 0xFF))) {
            at[0] = 3, at[1] = 2, at[2] = 1;  // XBGR, ABGR
        } else if (bpp == 32 && (is(0xFF000000, 0xFF00, 0xFF, 0) || is(0xFF000000, 0xFF00, 0xFF, 0xFF0000))) {
            at[0] = 3, at[1] = 1, at[2] = 0;  // BGXR, BGAR
        } else if (bpp == 32 && is(0xFF, 0xFF00, 0xFF0000, 0xFF000000)) {
            at[0] = 0, at[1] = 1, at[2] = 2;  // RGBA
        } else if (bpp == 24 && is(0xFF0000, 0xFF00, 0xFF, 0)) {
        } else if (bpp == 16 && (is(0xF800, 0x7E0, 0x1F, 0) || is(0x7C00, 0x3E0, 0x1F, 0))) {
            five_six_five = mask[0] == 0xF800;
        } else {
            fail(where, ": unsupported BMP bit-field layout");
        }
    }

    Palette palette;
    if (bpp <= 8) {
        const std::uint32_t entries = colors ? colors : 1u << bpp;
        if (entries > 65536) fail(where, ": BMP palette of ", entries, " colours");
        const std::size_t esize = header == 12 ? 3 : 4;
        if (data_offset == 14 + header) data_offset += esize * entries;  // an offset that points at the palette means after it
        const std::size_t have = std::min<std::size_t>({entries, 256, r.left() / esize});
        for (std::size_t i = 0; i < have; ++i) {
            const std::uint8_t* e = r.take(esize);
            palette.rgb[i][0] = e[2];
            palette.rgb[i][1] = e[1];
            palette.rgb[i][2] = e[0];
        }
        // Pillow opens a grey-ramp palette as grey, index = level (black and white for 2 colours as
        // "1", which the lookup already gives)
        if (entries <= 256 && have == entries && entries != 2 && palette.is_ramp(static_cast<int>(entries))) palette.set_ramp();
    }
    Decoded out = new_decoded(where, w, h, bpp <= 8 && palette.grey() ? 1 : 3);
    const std::size_t start = data_offset ? data_offset : r.pos();
    const std::size_t width = static_cast<std::size_t>(w), rows = static_cast<std::size_t>(h);
    auto row_of = [&](std::size_t stored) { return top_down ? stored : rows - 1 - stored; };  // image row of the stored row

    if (rle) {
        std::vector<std::uint8_t> index(width * rows);
        bmp::rle(d, n, std::min(start, n), compression == 2, w, index, where);
        for (std::size_t s = 0; s < rows; ++s)
            palette.apply(index.data() + s * width, width, out.channels, out.pixels.data() + row_of(s) * width * static_cast<std::size_t>(out.channels));
        return out;
    }
    const std::size_t row_bytes = (width * bpp + 7) / 8, stride = (width * bpp + 31) / 32 * 4;
    if (start > n || (n - start) < stride * (rows - 1) + row_bytes) r.truncated();  // the last row needs no padding
    std::vector<std::uint8_t> index(bpp <= 8 ? width : 0);
    for (std::size_t s = 0; s < rows; ++s) {
        const std::uint8_t* src = d + start + stride * s;
        std::uint8_t* o = out.pixels.data() + row_of(s) * width * static_cast<std::size_t>(out.channels);
        if (bpp <= 8) {
            for (std::size_t x = 0; x < width; ++x) {
                const std::size_t bit = x * bpp;
                index[x] = static_cast<std::uint8_t>((src[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1));
            }
            palette.apply(index.data(), width, out.channels, o);
        } else if (bpp == 16) {
            for (std::size_t x = 0; x < width; ++x, o += 3) {
                const unsigned v = src[2 * x] | (unsigned{src[2 * x + 1]} << 8);
                o[0] = static_cast<std::uint8_t>(((v >> (five_six_five ? 11 : 10)) & 31) * 255 / 31);
                o[1] = static_cast<std::uint8_t>(five_six_five ? ((v >> 5) & 63) * 255 / 63 : ((v >> 5) & 31) * 255 / 31);
                o[2] = static_cast<std::uint8_t>((v & 31) * 255 / 31);
            }
        } else {
            const std::size_t size = bpp / 8;
            for (std::size_t x = 0; x < width; ++x, o += 3)
                for (int c = 0; c < 3; ++c) o[c] = src[x * size + static_cast<std::size_t>(at[c])];
        }
    }
    return out;
}

}  // namespace fovea::detail

#pragma once
// GIF's first frame as Pillow shows it: a canvas of the logical screen (grown to hold the frame
// if the frame reaches past it) filled with index 0, or with the transparent index when the
// frame declares one; the frame's indices drawn in place (transparent ones too: convert("RGB")
// ignores transparency); colours from the local table, else the global one (indices past the
// table black; no table, or a grey-ramp one, grey). LZW data that is
// malformed, or that ends before the frame's last pixel, is an error, as in Pillow.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/io/codecs/common.hpp"

namespace fovea::detail {

inline bool is_gif(const std::uint8_t* d, std::size_t n) {
    return n >= 6 && d[0] == 'G' && d[1] == 'I' && d[2] == 'F' && d[3] == '8' && (d[4] == '7' || d[4] == '9') && d[5] == 'a';
}

namespace gif {

// The frame's LZW codes, read across its data sub-blocks.
class CodeReader {
public:
    explicit CodeReader(ByteReader& r) : r_(r) {}
    // Next code of `width` bits; false at the end of the sub-blocks (a zero-length block).
    bool next(int width, int& code) {
        while (nbits_ < width) {
            if (left_ == 0) {
                if (ended_) return false;
                left_ = r_.u8();
                if (left_ == 0) {
                    ended_ = true;
                    return false;
                }
            }
            bits_ |= static_cast<std::uint32_t>(r_.u8()) << nbits_;
            nbits_ += 8;
            --left_;
        }
        code = static_cast<int>(bits_ & ((1u << width) - 1));
        bits_ >>= width;
        nbits_ -= width;
        return true;
    }

private:
    ByteReader& r_;
    std::uint32_t bits_ = 0;
    int nbits_ = 0, left_ = 0;
    bool ended_ = false;
};

// Decodes `count` indices into out (in stream order); extra ones are dropped.
inline void lzw(ByteReader& r, int min_size, std::size_t count, std::uint8_t* out, const std::string& where) {
    const int clear = 1 << min_size, eoi = clear + 1;
    std::vector<std::uint16_t> prefix(4096);
    std::vector<std::uint8_t> suffix(4096), first(4096), stack(4097);
    for (int i = 0; i < clear; ++i) suffix[static_cast<std::size_t>(i)] = first[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    int width = min_size + 1, next = eoi + 1, prev = -1, code = 0;
    std::size_t done = 0;
    CodeReader codes(r);
    while (done < count) {
        if (!codes.next(width, code) || code == eoi)
            fail(where, ": GIF image data ends after ", done, " of ", count, " pixels");
        if (code == clear) {
            width = min_size + 1;
            next = eoi + 1;
            prev = -1;
            continue;
        }
        if (code > next || (code == next && prev < 0)) fail(where, ": corrupt GIF image data (LZW code ", code, ")");
        int c = code;
        std::size_t depth = 0;
        if (code == next) {  // the entry being defined: prev's string plus its own first index
            stack[depth++] = first[static_cast<std::size_t>(prev)];
            c = prev;
        }
        while (c >= clear) {
            stack[depth++] = suffix[static_cast<std::size_t>(c)];
            c = prefix[static_cast<std::size_t>(c)];
        }
        stack[depth++] = static_cast<std::uint8_t>(c);
        const std::uint8_t head = static_cast<std::uint8_t>(c);
        while (depth > 0 && done < count) out[done++] = stack[--depth];
        if (prev >= 0 && next < 4096) {
            prefix[static_cast<std::size_t>(next)] = static_cast<std::uint16_t>(prev);
            suffix[static_cast<std::size_t>(next)] = head;
            first[static_cast<std::size_t>(next)] = first[static_cast<std::size_t>(prev)];
            ++next;
            if (next == (1 << width) && width < 12) ++width;
        }
        prev = code;
    }
}

// A colour table; one that is the grey ramp makes Pillow open the frame as grey (index = level).
inline Palette read_table(ByteReader& r, int entries) {
    Palette p;
    const std::uint8_t* t = r.take(static_cast<std::size_t>(entries) * 3);
    for (int i = 0; i < entries; ++i)
        for (int c = 0; c < 3; ++c) p.rgb[i][c] = t[3 * i + c];
    if (p.is_ramp(entries)) p.set_ramp();
    return p;
}

}  // namespace gif

inline Decoded decode_gif(const std::uint8_t* d, std::size_t n, const std::string& where) {
    ByteReader r(d, n, where, "GIF");
    r.skip(6);
    std::int64_t w = r.le16(), h = r.le16();
    const std::uint8_t flags = r.u8();
    r.skip(2);  // background index (Pillow fills with 0, not with it), aspect ratio
    Palette palette;  // no table at all: grey, index = level
    palette.set_ramp();
    if (flags & 0x80) palette = gif::read_table(r, 2 << (flags & 7));
    int transparent = -1;
    for (;;) {
        const std::uint8_t block = r.u8();
        if (block == 0x3B) fail(where, ": GIF holds no image");
        if (block == 0x21) {  // extension: a graphic control extension may name a transparent index
            const std::uint8_t label = r.u8();
            bool first_block = true;
            for (std::uint8_t len = r.u8(); len != 0; len = r.u8(), first_block = false) {
                const std::uint8_t* b = r.take(len);
                if (label == 0xF9 && first_block && len >= 4 && (b[0] & 1)) transparent = b[3];
            }
            continue;
        }
        if (block != 0x2C) fail(where, ": corrupt GIF (block type ", static_cast<int>(block), ")");
        const std::int64_t x0 = r.le16(), y0 = r.le16(), fw = r.le16(), fh = r.le16();
        const std::uint8_t iflags = r.u8();
        if (iflags & 0x80) palette = gif::read_table(r, 2 << (iflags & 7));
        const int min_size = r.u8();
        if (min_size < 1 || min_size > 8) fail(where, ": corrupt GIF (LZW code size ", min_size, ")");
        w = std::max(w, x0 + fw);
        h = std::max(h, y0 + fh);
        Decoded out = new_decoded(where, w, h, palette.grey() ? 1 : 3);
        std::vector<std::uint8_t> canvas(static_cast<std::size_t>(w * h), static_cast<std::uint8_t>(transparent < 0 ? 0 : transparent));
        if (fw > 0 && fh > 0) {
            std::vector<std::uint8_t> frame(static_cast<std::size_t>(fw * fh));
            gif::lzw(r, min_size, frame.size(), frame.data(), where);
            // rows in stream order; interlaced frames give every 8th row from 0, from 4, every
            // 4th from 2, every 2nd from 1
            std::int64_t row = 0, pass = 0;
            static constexpr std::int64_t kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
            for (std::int64_t i = 0; i < fh; ++i) {
                std::int64_t y = i;
                if (iflags & 0x40) {
                    while (row >= fh) row = kStart[++pass];
                    y = row;
                    row += kStep[pass];
                }
                std::copy_n(frame.data() + i * fw, fw, canvas.data() + (y0 + y) * w + x0);
            }
        } else {
            fail(where, ": GIF image data ends after 0 pixels");
        }
        palette.apply(canvas.data(), canvas.size(), out.channels, out.pixels.data());
        return out;
    }
}

}  // namespace fovea::detail

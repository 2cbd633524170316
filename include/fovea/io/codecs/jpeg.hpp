#pragma once
// JPEG through libjpeg(-turbo), the library Pillow decodes with, set up as Pillow sets it up
// (accurate integer IDCT, fancy upsampling, the library's own colour-space guess), so pixels are
// Pillow's exactly. As in Pillow, a file that ends early is an error, other warnings are not; CMYK
// (inverted when an Adobe marker says so) becomes RGB as Pillow's convert() computes it. Bounded:
// the size is checked before decoding, progressive files may hold at most kMaxScans scans, and
// libjpeg may use at most kMaxMemory.
//
// Compiled in with FOVEA_WITH_LIBJPEG (the CMake target sets it when libjpeg is found).
#if defined(FOVEA_WITH_LIBJPEG)
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "fovea/io/codecs/common.hpp"

namespace fovea::detail {

namespace jpeg {

inline constexpr int kMaxScans = 256;                    // real progressive files hold about 10
inline constexpr long kMaxMemory = 1024l * 1024 * 1024;  // a 64-megapixel progressive 4:4:4 file needs ~400 MB

// Everything libjpeg touches. Plain data, so the longjmp out of an error skips no destructor.
struct Session {
    jpeg_decompress_struct cinfo;
    jpeg_error_mgr err;
    jpeg_source_mgr src;
    jpeg_progress_mgr progress;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
    const std::uint8_t* data;
    std::size_t size;
    bool ran_out;  // libjpeg asked for bytes past the end: the file is truncated
};

inline Session& session(j_common_ptr c) { return *static_cast<Session*>(c->client_data); }

inline void on_error(j_common_ptr c) {
    Session& s = session(c);
    c->err->format_message(c, s.message);
    std::longjmp(s.jump, 1);
}
inline void on_message(j_common_ptr, int) {}  // warnings ("corrupt data: extraneous bytes") are not errors, as in Pillow
inline void on_progress(j_common_ptr c) {
    Session& s = session(c);
    if (s.cinfo.input_scan_number > kMaxScans) {
        std::snprintf(s.message, sizeof s.message, "progressive JPEG with more than %d scans", kMaxScans);
        std::longjmp(s.jump, 1);
    }
}
inline void init_source(j_decompress_ptr) {}
inline void term_source(j_decompress_ptr) {}
inline boolean fill_input(j_decompress_ptr c) {  // past the end: note it, and end the stream cleanly
    static const JOCTET kEoi[2] = {0xFF, JPEG_EOI};
    session(reinterpret_cast<j_common_ptr>(c)).ran_out = true;
    c->src->next_input_byte = kEoi;
    c->src->bytes_in_buffer = 2;
    return TRUE;
}
inline void skip_input(j_decompress_ptr c, long n) {
    if (n <= 0) return;
    if (static_cast<std::size_t>(n) > c->src->bytes_in_buffer) {
        fill_input(c);
        return;
    }
    c->src->next_input_byte += n;
    c->src->bytes_in_buffer -= static_cast<std::size_t>(n);
}

// Header: false (with s.message) on error. The caller destroys s.cinfo whatever happens.
inline bool read_header(Session& s) {
    if (setjmp(s.jump)) return false;
    jpeg_read_header(&s.cinfo, TRUE);
    switch (s.cinfo.jpeg_color_space) {
        case JCS_GRAYSCALE: s.cinfo.out_color_space = JCS_GRAYSCALE; break;
        case JCS_YCbCr: case JCS_RGB: s.cinfo.out_color_space = JCS_RGB; break;
        case JCS_CMYK: case JCS_YCCK: s.cinfo.out_color_space = JCS_CMYK; break;
        default:
            std::snprintf(s.message, sizeof s.message, "JPEG with %d components is not supported", s.cinfo.num_components);
            return false;
    }
    s.cinfo.dct_method = JDCT_ISLOW;
    s.cinfo.do_fancy_upsampling = TRUE;
    return true;
}

// Pixels into out (output_height rows of row_bytes): false (with s.message) on error.
inline bool read_pixels(Session& s, std::uint8_t* out, std::size_t row_bytes) {
    if (setjmp(s.jump)) return false;
    jpeg_start_decompress(&s.cinfo);
    while (s.cinfo.output_scanline < s.cinfo.output_height) {
        JSAMPROW row = out + static_cast<std::size_t>(s.cinfo.output_scanline) * row_bytes;
        jpeg_read_scanlines(&s.cinfo, &row, 1);
    }
    jpeg_finish_decompress(&s.cinfo);  // reads to the end marker: a file cut short is noticed here
    return true;
}

}  // namespace jpeg

inline Decoded decode_jpeg(const std::uint8_t* d, std::size_t n, const std::string& where) {
    jpeg::Session s{};
    s.data = d;
    s.size = n;
    s.cinfo.err = jpeg_std_error(&s.err);
    s.err.error_exit = jpeg::on_error;
    s.err.emit_message = jpeg::on_message;
    s.cinfo.client_data = &s;
    if (setjmp(s.jump)) fail(where, ": cannot decode JPEG (", s.message, ")");  // only PODs live here
    jpeg_create_decompress(&s.cinfo);
    struct Destroy {
        jpeg_decompress_struct* c;
        ~Destroy() { jpeg_destroy_decompress(c); }
    } destroy{&s.cinfo};
    s.cinfo.mem->max_memory_to_use = jpeg::kMaxMemory;
    s.src.next_input_byte = d;
    s.src.bytes_in_buffer = n;
    s.src.init_source = jpeg::init_source;
    s.src.fill_input_buffer = jpeg::fill_input;
    s.src.skip_input_data = jpeg::skip_input;
    s.src.resync_to_restart = jpeg_resync_to_restart;
    s.src.term_source = jpeg::term_source;
    s.cinfo.src = &s.src;
    s.progress.progress_monitor = jpeg::on_progress;
    s.cinfo.progress = &s.progress;

    if (!jpeg::read_header(s) || s.ran_out) fail(where, ": cannot decode JPEG (", s.ran_out ? "the file is truncated" : s.message, ")");
    const int comps = s.cinfo.out_color_space == JCS_GRAYSCALE ? 1 : s.cinfo.out_color_space == JCS_RGB ? 3 : 4;
    Decoded out = new_decoded(where, s.cinfo.image_width, s.cinfo.image_height, comps == 1 ? 1 : 3);
    std::vector<std::uint8_t> cmyk(comps == 4 ? out.pixels.size() / 3 * 4 : 0);
    std::uint8_t* dst = comps == 4 ? cmyk.data() : out.pixels.data();
    if (!jpeg::read_pixels(s, dst, static_cast<std::size_t>(out.width) * static_cast<std::size_t>(comps)))
        fail(where, ": cannot decode JPEG (", s.message, ")");
    if (s.ran_out) fail(where, ": cannot decode JPEG (the file is truncated)");
    if (comps == 4) {
        // Pillow reads Adobe files as inverted CMYK ("CMYK;I"); convert("RGB") then gives
        // R = (255 - K) - C (255 - K) / 255, rounded as its MULDIV255 does.
        const bool inverted = s.cinfo.saw_Adobe_marker;
        const std::size_t count = cmyk.size() / 4;
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint8_t* p = &cmyk[4 * i];
            const int k = inverted ? 255 - p[3] : p[3], nk = 255 - k;
            for (int c = 0; c < 3; ++c) {
                const int v = inverted ? 255 - p[c] : p[c];
                const int t = v * nk + 128;
                const int r = nk - (((t >> 8) + t) >> 8);
                out.pixels[3 * i + static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
            }
        }
    }
    return out;
}

}  // namespace fovea::detail

#endif  // FOVEA_WITH_LIBJPEG

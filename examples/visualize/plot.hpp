#pragma once
// What fovea-visualize draws on top of fovea's pictures: text (stb_easy_font's strokes), captions,
// a labelled scatter plot with a legend, and PNG files (stb_image_write, compiled into this
// program only).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fovea/visualize/picture.hpp>

namespace plot {

using Rgb = std::array<std::uint8_t, 3>;
constexpr Rgb kBlack{0, 0, 0}, kGrey{120, 120, 120}, kLight{225, 225, 225};

void write_png(const std::string& path, const fovea::Picture& p);

// Text with its top-left corner at (x, y), each stroke pixel `scale` x `scale`.
void text(fovea::Picture& p, std::int64_t x, std::int64_t y, const std::string& s, Rgb color = kBlack, int scale = 1);
std::int64_t text_width(const std::string& s, int scale = 1);
constexpr std::int64_t kTextHeight = 7;  // capital letters, at scale 1

inline void fill(fovea::Picture& p, std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, Rgb c) {
    for (std::int64_t y = std::max<std::int64_t>(0, y0); y < std::min(p.height, y1); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, x0); x < std::min(p.width, x1); ++x) p.set(y, x, c);
}

// The picture with a line of text centred under it.
inline fovea::Picture captioned(const fovea::Picture& p, const std::string& caption) {
    fovea::Picture out(p.height + 16, std::max(p.width, text_width(caption) + 4));
    const std::int64_t ox = (out.width - p.width) / 2;
    for (std::int64_t y = 0; y < p.height; ++y) std::copy_n(p.at(y, 0), p.width * 3, out.at(y, ox));
    text(out, (out.width - text_width(caption)) / 2, p.height + 5, caption);
    return out;
}

// A title line above a picture.
inline fovea::Picture titled(const fovea::Picture& p, const std::string& title) {
    fovea::Picture out(p.height + 22, std::max(p.width, text_width(title) + 8));
    for (std::int64_t y = 0; y < p.height; ++y) std::copy_n(p.at(y, 0), p.width * 3, out.at(y + 22, 0));
    text(out, 4, 7, title);
    return out;
}

// matplotlib's "tab10" qualitative colours, then darker variants of them for classes 10 to 19.
inline Rgb category_color(std::size_t i) {
    static constexpr Rgb tab10[10] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
                                      {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
                                      {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}};
    Rgb c = tab10[i % 10];
    if ((i / 10) % 2)
        for (auto& v : c) v = static_cast<std::uint8_t>(v * 6 / 10);
    return c;
}

struct Scatter {
    std::vector<std::array<double, 2>> points;  // x, y
    std::vector<std::size_t> category;          // index into names, per point
    std::vector<std::string> names;
    std::string title, subtitle, x_label, y_label;
};

// A scatter plot: one colour per category, a legend with the counts, labelled axes with ticks.
fovea::Picture scatter(const Scatter& s, std::int64_t width = 960, std::int64_t height = 720);

}  // namespace plot

// stb_image_write and stb_easy_font (Debian: libstb-dev), private to this program.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include "plot.hpp"

namespace plot {

void write_png(const std::string& path, const fovea::Picture& p) {
    if (p.height < 1 || p.width < 1) fovea::detail::fail(path, ": empty picture");
    if (!stbi_write_png(path.c_str(), static_cast<int>(p.width), static_cast<int>(p.height), 3, p.rgb.data(),
                        static_cast<int>(p.width * 3)))
        fovea::detail::fail(path, ": cannot write the PNG");
}

std::int64_t text_width(const std::string& s, int scale) {
    std::string t = s;
    return stb_easy_font_width(t.data()) * scale;
}

void text(fovea::Picture& p, std::int64_t x, std::int64_t y, const std::string& s, Rgb color, int scale) {
    struct Vertex {
        float x, y, z;
        unsigned char c[4];
    };
    std::vector<Vertex> v(s.size() * 300 / sizeof(Vertex) + 64);  // ~270 bytes a character, as stb_easy_font says
    std::string t = s;
    const int quads = stb_easy_font_print(0, 0, t.data(), nullptr, v.data(), static_cast<int>(v.size() * sizeof(Vertex)));
    for (int q = 0; q < quads; ++q) {  // axis-aligned quads of whole units
        const Vertex* c = &v[static_cast<std::size_t>(4 * q)];
        const auto x0 = std::lround(std::min(c[0].x, c[2].x)), x1 = std::lround(std::max(c[0].x, c[2].x));
        const auto y0 = std::lround(std::min(c[0].y, c[2].y)), y1 = std::lround(std::max(c[0].y, c[2].y));
        fill(p, x + x0 * scale, y + y0 * scale, x + x1 * scale, y + y1 * scale, color);
    }
}

namespace {

// About five round tick values across [lo, hi].
std::vector<double> ticks(double lo, double hi) {
    const double raw = (hi - lo) / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
    const double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
    std::vector<double> t;
    for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) t.push_back(std::abs(v) < 1e-12 ? 0.0 : v);
    return t;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

fovea::Picture scatter(const Scatter& s, std::int64_t width, std::int64_t height) {
    if (s.points.empty()) fovea::detail::fail("scatter: no points");
    fovea::Picture p(height, width);
    const std::int64_t left = 70, right = width - 230, top = 64, bottom = height - 60;
    double x0 = s.points[0][0], x1 = x0, y0 = s.points[0][1], y1 = y0;
    for (auto& q : s.points) x0 = std::min(x0, q[0]), x1 = std::max(x1, q[0]), y0 = std::min(y0, q[1]), y1 = std::max(y1, q[1]);
    const double px = 0.04 * (x1 - x0) + 1e-9, py = 0.04 * (y1 - y0) + 1e-9;
    x0 -= px, x1 += px, y0 -= py, y1 += py;
    auto X = [&](double v) { return left + static_cast<std::int64_t>(std::lround((v - x0) / (x1 - x0) * static_cast<double>(right - left))); };
    auto Y = [&](double v) { return bottom - static_cast<std::int64_t>(std::lround((v - y0) / (y1 - y0) * static_cast<double>(bottom - top))); };

    for (double t : ticks(x0, x1)) {  // grid lines and tick labels
        fill(p, X(t), top, X(t) + 1, bottom, kLight);
        fill(p, X(t), bottom, X(t) + 1, bottom + 5, kBlack);
        text(p, X(t) - text_width(number(t)) / 2, bottom + 9, number(t));
    }
    for (double t : ticks(y0, y1)) {
        fill(p, left, Y(t), right, Y(t) + 1, kLight);
        fill(p, left - 5, Y(t), left, Y(t) + 1, kBlack);
        text(p, left - 9 - text_width(number(t)), Y(t) - 3, number(t));
    }
    // points: discs of radius 2, 60% opaque, so dense regions show through each other
    for (std::size_t i = 0; i < s.points.size(); ++i) {
        const Rgb c = category_color(s.category[i]);
        const std::int64_t cx = X(s.points[i][0]), cy = Y(s.points[i][1]);
        for (std::int64_t dy = -2; dy <= 2; ++dy)
            for (std::int64_t dx = -2; dx <= 2; ++dx) {
                if (dx * dx + dy * dy > 5 || cy + dy < top || cy + dy >= bottom || cx + dx < left || cx + dx >= right) continue;
                std::uint8_t* px8 = p.at(cy + dy, cx + dx);
                for (int k = 0; k < 3; ++k) px8[k] = static_cast<std::uint8_t>((4 * px8[k] + 6 * c[static_cast<std::size_t>(k)]) / 10);
            }
    }
    fill(p, left, top, right, top + 1, kBlack);  // frame
    fill(p, left, bottom, right + 1, bottom + 1, kBlack);
    fill(p, left, top, left + 1, bottom, kBlack);
    fill(p, right, top, right + 1, bottom, kBlack);
    text(p, left, 12, s.title, kBlack, 2);
    text(p, left, 34, s.subtitle);
    text(p, (left + right - text_width(s.x_label)) / 2, bottom + 28, s.x_label);
    text(p, left, top - 14, s.y_label);

    std::vector<std::size_t> count(s.names.size());
    for (auto c : s.category) ++count[c];
    std::int64_t ly = top + 4;
    for (std::size_t i = 0; i < s.names.size(); ++i, ly += 22) {
        fill(p, right + 20, ly, right + 32, ly + 12, category_color(i));
        text(p, right + 40, ly + 1, s.names[i] + " (" + std::to_string(count[i]) + ")", kBlack, 1);
    }
    return p;
}

}  // namespace plot

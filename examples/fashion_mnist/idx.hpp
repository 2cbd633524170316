#pragma once
// The Fashion-MNIST idx files as Debian's dataset-fashion-mnist ships them (gzip-compressed).
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fovea/core/error.hpp>

namespace fmnist {

// An idx file (gzip-compressed, as Debian ships it) as bytes, with its dimensions.
inline std::vector<std::uint8_t> read_idx(const std::string& path, std::vector<std::int64_t>& dims) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) fovea::detail::fail(path, ": cannot open");
    std::vector<std::uint8_t> data;
    std::uint8_t buf[1 << 16];
    for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) data.insert(data.end(), buf, buf + n);
    gzclose(f);
    if (data.size() < 4 || data[0] || data[1] || data[2] != 0x08) fovea::detail::fail(path, ": not an idx ubyte file");
    const int nd = data[3];
    std::size_t off = 4 + 4 * static_cast<std::size_t>(nd), count = 1;
    if (data.size() < off) fovea::detail::fail(path, ": truncated idx header");
    for (int i = 0; i < nd; ++i) {
        std::int64_t d = 0;
        for (int b = 0; b < 4; ++b) d = (d << 8) | data[4 + 4 * i + b];
        dims.push_back(d);
        count *= static_cast<std::size_t>(d);
    }
    if (data.size() != off + count) fovea::detail::fail(path, ": idx size does not match its dimensions");
    return {data.begin() + static_cast<std::ptrdiff_t>(off), data.end()};
}

// The test set's labels, in the order of label_names in the bundled models' config.json.
inline const char* const kClassNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace fmnist

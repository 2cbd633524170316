// Fuzzed bytes as an image file: decode (RGB and one channel), then timm's eval transform
// for a 224 bicubic preset and a 28 bilinear crop_pct 1 config. Seeds: tests/data/images.
#include <fovea/data/transforms.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fovea::PretrainedCfg vit = fovea::pretrained_cfg("vit_base_patch16_224");
    static const fovea::PretrainedCfg small = [] {
        fovea::PretrainedCfg c;
        c.input_size = {1, 28, 28};
        c.interpolation = "bilinear";
        c.crop_pct = 1.0;
        c.mean = {0.286f};
        c.std = {0.353f};
        return c;
    }();
    for (int channels : {3, 1}) {
        try {
            const auto img = fovea::decode_image(data, size, channels, "fuzz.img");
            fovea::preprocess_image(img, channels == 3 ? vit : small);
        } catch (const fovea::Error&) {
        }
    }
    return 0;
}

#pragma once
// Shared by the fuzz targets: anything but fovea::Error escaping is a finding (libFuzzer
// reports the uncaught exception's abort as a crash), and so is any sanitizer report.
#include <fovea/fovea.hpp>
#include <fovea/io/json.hpp>
#include <fovea/io/safetensors.hpp>
#include <fovea/models/registry.hpp>

namespace fovea_fuzz {

inline const std::string kData = FOVEA_TEST_DATA;

// Fuzzing is about input handling: run fovea on the fuzzer's own thread (results do not depend on
// the thread count, and a pool worker would only compete with the fuzzer for the other core).
inline const bool kOneThread = (fovea::set_num_threads(1), true);

// A tiny model of each family, to bind fuzzed files against and to run fuzzed configs on.
inline const std::vector<std::string>& fixtures() {
    static const std::vector<std::string> f = {"vit_base_patch16_224", "deit_base_distilled_patch16_224",
                                               "vit_base_patch16_reg4_gap_256", "swin_tiny_patch4_window7_224"};
    return f;
}

// Runs a model that was built from fuzzed input on a small input: weights may be anything.
inline void run_small(const fovea::Model& m) {
    const auto c = m.in_chans();
    if (c > 4) return;
    fovea::Tensor<float, 4> x({1, c, 32, 32});
    for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 7) - 3.0f;
    try {
        m.forward(x);
    } catch (const fovea::Error&) {  // a size the model cannot take
    }
}

}  // namespace fovea_fuzz

// Fuzzed bytes as config.json, built against each tiny model's (valid) weights.
// Seeds: the tiny fixtures' config.json files.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<std::shared_ptr<const fovea::SafeTensorsFile>> files = [] {
        std::vector<std::shared_ptr<const fovea::SafeTensorsFile>> v;
        for (auto& f : fovea_fuzz::fixtures()) v.push_back(fovea::SafeTensorsFile::open(fovea_fuzz::kData + "/" + f + "/model.safetensors"));
        return v;
    }();
    const std::string text(reinterpret_cast<const char*>(data), size);
    for (auto& file : files) {
        try {
            const auto spec = fovea::ModelSpec::from_json(fovea::detail::parse_json(text, "config.json"), "config.json");
            fovea_fuzz::run_small(fovea::build_model(spec, file));
        } catch (const fovea::Error&) {
        }
    }
    return 0;
}

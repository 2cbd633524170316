// Fuzzed bytes as a safetensors file: parse, validate, then bind as each tiny model's
// architecture and run it. Seeds: the tiny fixtures' model.safetensors.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<fovea::ModelSpec> specs = [] {
        std::vector<fovea::ModelSpec> s;
        for (auto& f : fovea_fuzz::fixtures()) {
            const std::string p = fovea_fuzz::kData + "/" + f + "/config.json";
            s.push_back(fovea::ModelSpec::from_json(fovea::detail::read_json_file(p), p));
        }
        return s;
    }();
    std::shared_ptr<const fovea::SafeTensorsFile> file;
    try {
        file = fovea::to_timm_names(fovea::SafeTensorsFile::from_memory(data, size, "fuzz.safetensors"));
    } catch (const fovea::Error&) {
        return 0;
    }
    volatile float sink = 0;
    for (auto& [name, t] : file->tensors())  // every accepted tensor is readable in full
        if (fovea::detail::is_float(t.dtype) && t.end > t.begin) {
            const std::vector<float> v = file->read(t);
            sink = sink + v.front() + v.back();
        }
    for (auto& spec : specs) {
        try {
            fovea_fuzz::run_small(fovea::build_model(spec, file));
        } catch (const fovea::Error&) {
        }
    }
    return 0;
}

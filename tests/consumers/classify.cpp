// A downstream program: preprocess files, classify them, take intermediates and features, save
// and read back logits. Built with warnings as errors, header-only and against fovea::compiled.
//   classify MODEL_DIR IMAGE...
#include <fovea/fovea.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: classify MODEL_DIR IMAGE...\n");
        return 2;
    }
    try {
        fovea::set_num_threads(2);
        fovea::LoadOptions options;
        options.threads = 2;
        const fovea::Model model = fovea::load_model(argv[1], options);
        const std::vector<std::string> files(argv + 2, argv + argc);
        const fovea::Tensor<float, 4> x = fovea::preprocess(model, files);
        const fovea::Tensor<float, 2> logits = model.forward(x);
        const auto best = fovea::top_k(model, logits, 3);
        for (std::size_t i = 0; i < files.size(); ++i)
            std::printf("classify: %s -> %s (%.1f%%)\n", files[i].c_str(), best[i][0].label.c_str(), 100.0 * best[i][0].prob);

        fovea::IntermediateOptions io;
        io.last = 1;
        io.intermediates_only = false;
        const fovea::Intermediates inter = model.forward_intermediates(x, io);
        const fovea::Features& f = inter.features;
        const auto grid = model.feature_grid(x.shape(2), x.shape(3));
        if (f.grid_h != grid[0] || f.grid_w != grid[1] || f.prefix_tokens != model.prefix_tokens()) {
            std::fprintf(stderr, "classify: feature grid disagrees\n");
            return 1;
        }
        const fovea::Tensor<float, 2> pooled = model.forward_head(f, true);
        const std::span<const float> row = pooled.row(0);
        std::printf("classify: %zu intermediate map(s), features [%ld, %ld, %ld], pooled row of %zu\n", inter.maps.size(),
                    static_cast<long>(f.tokens.shape(0)), static_cast<long>(f.tokens.shape(1)), static_cast<long>(f.channels()),
                    row.size());

        const std::string npy = std::string(argv[0]) + ".logits.npy";
        fovea::write_npy(npy, logits.data(), {logits.shape(0), logits.shape(1)});
        const fovea::NpyArray back = fovea::read_npy(npy);
        if (back.data.size() != static_cast<std::size_t>(logits.size())) return 1;
        std::printf("classify: fovea %s (%d), %d thread(s)\n", fovea::version_string, fovea::version, fovea::num_threads());
    } catch (const fovea::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}

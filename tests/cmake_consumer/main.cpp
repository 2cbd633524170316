// Loads a model folder and prints the argmax class of an all-zero input of its own size.
#include <fovea/fovea.hpp>

#include <algorithm>
#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer MODEL_DIR\n");
        return 2;
    }
    try {
        const fovea::Model model = fovea::load_model(argv[1]);
        const auto& s = model.pretrained_cfg().input_size;
        fovea::Tensor<float, 4> x({1, s[0], s[1], s[2]});
        const fovea::Tensor<float, 2> logits = model.forward(x);
        const auto* best = std::max_element(logits.data(), logits.data() + logits.size());
        std::printf("consumer: %s -> class %ld of %ld\n", model.architecture().c_str(),
                    static_cast<long>(best - logits.data()), static_cast<long>(logits.shape(1)));
    } catch (const fovea::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}

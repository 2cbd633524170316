// A program that uses stb_image itself and fovea in the same file: both decode the same image.
//   stb_user IMAGE
#include <fovea/fovea.hpp>
#include <stb/stb_image.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    std::ifstream f(argv[1], std::ios::binary);
    const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    int w = 0, h = 0, n = 0;
    unsigned char* p = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, 3);
    if (!p) return 1;
    stbi_image_free(p);
    const fovea::Image img = fovea::load_image(argv[1]);
    std::printf("stb_user: stb_image %dx%d, fovea %ldx%ld\n", w, h, static_cast<long>(img.width), static_cast<long>(img.height));
    return img.width == w && img.height == h ? 0 : 1;
}

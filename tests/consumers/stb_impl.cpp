// The program's own stb_image implementation, linked beside fovea's private copy.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

// fovea::compiled's part for images and preprocessing (io/image.hpp, pipeline.hpp): the decoders
// and timm's transforms, apart from src/fovea.cpp's models so that the two compile side by side.
#include "fovea/fovea.hpp"
#include "fovea/io/image-inl.hpp"
#include "fovea/pipeline-inl.hpp"

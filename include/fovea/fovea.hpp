#pragma once
// fovea: vision transformers (ViT, DeiT, DINOv2, BEiT, Swin) from timm checkpoints on the CPU.
//   fovea::Model model = fovea::load_model("folder");                 // model.safetensors + config.json
//   fovea::Tensor<float, 4> x = fovea::preprocess(model, {"cat.jpg"});  // timm's eval transform
//   auto best = fovea::top_k(model, model.forward(x), 5);              // labels and probabilities
// Header-only by default; with the fovea::compiled CMake target (FOVEA_COMPILED) these headers
// declare and a library defines, so a program's files compile in a fraction of the time.
#include "fovea/core/error.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/core/threads.hpp"
#include "fovea/io/image.hpp"
#include "fovea/io/npy.hpp"
#include "fovea/models/model.hpp"
#include "fovea/pipeline.hpp"
#include "fovea/version.hpp"

#pragma once
// fovea: vision transformers (ViT / DeiT / DINOv2, BEiT, Swin) from timm checkpoints on the CPU.
//   fovea::Model m = fovea::load_model("folder");   // model.safetensors + config.json
//   fovea::Tensor<float, 2> logits = m.forward(x);   // x: (N, C, H, W), normalised
#include "fovea/core/error.hpp"
#include "fovea/core/ops.hpp"
#include "fovea/core/tensor.hpp"
#include "fovea/io/npy.hpp"
#include "fovea/io/safetensors.hpp"
#include "fovea/models/beit.hpp"
#include "fovea/models/dinov2.hpp"
#include "fovea/models/model.hpp"
#include "fovea/models/swin_transformer.hpp"
#include "fovea/models/vision_transformer.hpp"

#define FOVEA_VERSION_MAJOR 0
#define FOVEA_VERSION_MINOR 1
#define FOVEA_VERSION_PATCH 0

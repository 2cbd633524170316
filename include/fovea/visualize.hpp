#pragma once
// What a model sees: attention maps and rollout, PCA of patch features and of a data set's
// embeddings, the ViT paper's pictures of the patch-embedding filters and position embeddings
// (visualize/analysis.hpp), and 8-bit pictures of them (visualize/picture.hpp). Not part of
// fovea.hpp: it adds Eigen's SVD to a program's compile time.
#include "fovea/visualize/analysis.hpp"
#include "fovea/visualize/picture.hpp"

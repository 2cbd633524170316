// fovea::compiled's part for <fovea/visualize.hpp> (inspect, rollout, PCA, pictures of the weights):
// its own object in the library, so only programs that draw link Eigen's SVD.
#include "fovea/visualize.hpp"
#include "fovea/visualize/analysis-inl.hpp"

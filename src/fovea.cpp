// fovea::compiled: the library compiled once. Programs linking it get FOVEA_COMPILED from the
// target, so their files include fovea's declarations only and compile in a fraction of the time.
#include "fovea/fovea.hpp"
#include "fovea/io/image-inl.hpp"
#include "fovea/models/model-inl.hpp"
#include "fovea/pipeline-inl.hpp"

// fovea::compiled: the library compiled once. Programs linking it get FOVEA_COMPILED from the
// target, so their files include fovea's declarations only and compile in a fraction of the time.
// This file: Model, its loaders and every built-in family (their registrations live here, and
// any program that loads a model links this object). Images and preprocessing are src/pipeline.cpp,
// pictures src/visualize.cpp: three objects the build compiles side by side.
#include "fovea/fovea.hpp"
#include "fovea/models/model-inl.hpp"

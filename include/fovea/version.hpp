#pragma once
// fovea's version, as a number for #if (major * 10000 + minor * 100 + patch) and as a string.
// Every public header includes this one.
#define FOVEA_VERSION_MAJOR 0
#define FOVEA_VERSION_MINOR 2
#define FOVEA_VERSION_PATCH 0
#define FOVEA_VERSION (FOVEA_VERSION_MAJOR * 10000 + FOVEA_VERSION_MINOR * 100 + FOVEA_VERSION_PATCH)
#define FOVEA_VERSION_STRING "0.2.0"

namespace fovea {
inline constexpr int version = FOVEA_VERSION;
inline constexpr const char* version_string = FOVEA_VERSION_STRING;
}  // namespace fovea

# Cross-building fovea for 64-bit ARM Linux with Debian's cross GCC (g++-aarch64-linux-gnu); with
# qemu-user installed, ctest runs the aarch64 programs under qemu-aarch64 (-cpu max: every
# extension qemu emulates, dotprod, i8mm and bf16 among them).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DFOVEA_DEPS_PREFIX=<prefix>
# <prefix> holds the dependencies built or staged for aarch64 (GoogleTest; Eigen, nlohmann/json and
# stb are header-only): tests/aarch64/run.sh makes one from Debian's packages. Without arm64
# libjpeg / libpng in the prefix, images decode with stb_image.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES FOVEA_DEPS_PREFIX)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu ${FOVEA_DEPS_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(FOVEA_QEMU NAMES qemu-aarch64 qemu-aarch64-static)
if(FOVEA_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FOVEA_QEMU} -L /usr/aarch64-linux-gnu -cpu max)
endif()

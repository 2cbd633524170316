# Cross-building fovea for 64-bit Windows with MinGW-w64 GCC (Debian: g++-mingw-w64-x86-64); with
# wine (Debian: wine64) installed, ctest runs the Windows programs under it.
#   cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DFOVEA_DEPS_PREFIX=<prefix>
# <prefix> holds the dependencies built or staged for Windows (GoogleTest; Eigen, nlohmann/json and
# stb are header-only): tests/mingw/run.sh makes one from Debian's packages.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
# GCC 12's default (win32) thread model has no std::thread; the POSIX one (winpthreads) does.
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES FOVEA_DEPS_PREFIX)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${FOVEA_DEPS_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Programs carry libstdc++, libgcc and winpthreads inside: nothing to copy beside the .exe.
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
find_program(FOVEA_WINE NAMES wine64 wine PATHS /usr/lib/wine)
if(FOVEA_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FOVEA_WINE})
endif()

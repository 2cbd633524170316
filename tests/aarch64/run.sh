#!/usr/bin/env bash
# fovea for 64-bit ARM, as CI checks it: cross-built with Debian's aarch64 GCC
# (cmake/aarch64-linux-gnu.cmake) and run under qemu-aarch64 -cpu max (dotprod, i8mm, bf16). What
# runs: the kernels chosen for three CPUs' features; the library's suite (fovea_tests: parity with
# timm for every family, kernels against float64 (every int8 / bf16 entry qemu offers), loaders,
# layers, registry, precision but the 330 MB full-size test) with the NEON kernels, and its tests
# that use the f32 entry capped to the portable one (FOVEA_MAX_ISA=generic); the threads test;
# decoders and preprocessing with stb_image (no arm64 libjpeg or libpng here). Not run: the tests
# that drive the programs through a shell; fovea-serve and the Python module are not built here.
#   tests/aarch64/run.sh BUILD   (BUILD: a build folder to make, e.g. build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
deps=$PWD/$build/deps
mkdir -p "$deps/include" "$deps/share/cmake" "$deps/share/eigen3"

# Header-only dependencies from Debian, staged alone (/usr/include holds x86 glibc headers).
for d in eigen3 nlohmann stb; do ln -sfn "/usr/include/$d" "$deps/include/$d"; done
cp -r /usr/share/eigen3/cmake "$deps/share/eigen3/"
cp -r /usr/share/cmake/nlohmann_json "$deps/share/cmake/"
# -O1: half of -O2's compile time; the kernels' loops are the same code at both (see the asm check)
toolchain=(-DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DFOVEA_DEPS_PREFIX="$deps" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1)

# GoogleTest from Debian's sources (libgtest-dev), built for aarch64.
if [ ! -f "$deps/lib/cmake/GTest/GTestConfig.cmake" ]; then
  cmake -S /usr/src/googletest -B "$build/googletest" "${toolchain[@]}" -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON >"$build/googletest.log"
  cmake --build "$build/googletest" -j2 >>"$build/googletest.log"
  cmake --install "$build/googletest" --prefix "$deps" >>"$build/googletest.log"
fi

cmake -S . -B "$build" $(command -v ninja >/dev/null && echo -G Ninja) "${toolchain[@]}" -DFOVEA_BUILD_PYTHON=OFF >"$build/configure.log"
cmake --build "$build" -j2 --target fovea-classify fovea_tests fovea_image_tests fovea_concurrency_tests
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max)

suite() {  # NAME ARGS...: the program's output is kept, and printed whole if it fails
  local log="$build/$1${TAG:-}.log"
  if "${qemu[@]}" "$build/tests/$1" --gtest_brief=1 "${@:2}" >"$log" 2>&1; then
    grep -E '^\[  (PASSED|SKIPPED) ' "$log" | sed "s/^/aarch64${TAG:-}: $1: /"
  else
    local rc=$?; cat "$log"; echo "aarch64${TAG:-}: $1 failed (exit status $rc)"; return 1
  fi
}
"${qemu[@]}" "$build/examples/fovea-classify" --version | sed 's/^/aarch64: /'
# The kernels follow the CPU's features: dotprod alone (Neoverse N1) gives SDOT and portable bf16;
# plain ARMv8.0 (Cortex-A72) the portable int8 and bf16 kernels.
kernels() { qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$1" "$build/examples/fovea-classify" --version | sed 's/.*; kernels \([^;]*\);.*/\1/'; }
expect() {
  local got; got=$(kernels "$1")
  [ "$got" = "$2" ] || { echo "aarch64: -cpu $1 runs '$got', expected '$2'"; exit 1; }
  echo "aarch64: -cpu $1: $got"
}
expect max "neon f32 8x8, neon_bf16 bf16 4x32 (bfmmla), neon_i8mm int8 4x32 (usmmla)"
expect neoverse-n1 "neon f32 8x8, generic bf16 12x32, neon_dotprod int8 5x32 (sdot)"
expect cortex-a72 "neon f32 8x8, generic bf16 12x32, generic int8 12x32"
# On one core the suite with the NEON kernels; on the other, capped to the portable entry, the tests
# whose arithmetic goes through the f32 entry (not the loaders, nor the reduced-precision kernels,
# which run for every entry qemu offers either way), then the image and threads tests.
suite fovea_tests --gtest_filter='-Seeded/Precision*' & neon_job=$!
TAG=-generic FOVEA_MAX_ISA=generic suite fovea_tests \
  --gtest_filter='Timm/Parity.*:Layouts.*:Gemm.*:Threads.*:Ops.*:Linear.*:WindowAttention.*:PatchMerging.*'
FOVEA_REQUIRE_PHOTOS=1 suite fovea_image_tests --gtest_filter='-Cli*:VisualizeCli*:ZeroShot.Cli*'
suite fovea_concurrency_tests
wait $neon_job

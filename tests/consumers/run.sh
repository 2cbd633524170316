#!/usr/bin/env bash
# Downstream projects, as CI builds them from a built tree of this checkout (BUILD: its build folder):
#   installed, through find_package: g++ builds the header-only program (warnings as errors), the
#     same against fovea::compiled, and every installed header in
#     one file under the strict warning set (each header alone is ctest's header check, which CI
#     runs with clang); clang++ the header-only program without -isystem (fovea's headers as its
#     own code under the strict warning set), the compiled one, and a program with its own stb_image.
#   installed, through pkg-config: fovea-compiled (built and run) and fovea (header-only, compiled)
#   from the checkout: add_subdirectory and FetchContent (header-only programs, clang++)
# Each builds only what it checks; the independent builds run two at a time.
#   tests/consumers/run.sh BUILD
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
images="examples/fashion_mnist/images/test0000_ankle_boot.png examples/fashion_mnist/images/test0001_pullover.png"
model=examples/fashion_mnist/models/swin_fashion_mnist
out=$build/consumers
mkdir -p "$out"

consumer() {  # NAME CXX VIA TARGET...
  local name=$1 cxx=$2 via=$3; shift 3
  cmake -S tests/consumers -B "$out/$name" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release -DFOVEA_VIA="$via" \
    -DCMAKE_CXX_FLAGS_RELEASE="${release_flags:--O3 -DNDEBUG}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DFOVEA_SOURCE="$PWD" >"$out/$name.log" 2>&1
  for t in "$@"; do cmake --build "$out/$name" --target "$t" >>"$out/$name.log" 2>&1 || return 1; done
}
run() {  # NAME JOB: the job's log is printed if it fails
  if ! "${@:2}"; then cat "$out/$1.log" 2>/dev/null; echo "consumers: $1 failed"; return 1; fi
}

# pkg-config from the installed prefix (its .pc files locate the prefix from where they lie)
pc() {
  PKG_CONFIG_PATH="$prefix/share/pkgconfig:$(dirname "$(find "$prefix" -name fovea-compiled.pc)")" pkg-config "$@"
}
pkg_config_consumers() {
  g++ -std=c++20 -O1 tests/consumers/classify.cpp -o "$out/pc_compiled" $(pc --cflags --libs fovea-compiled)
  g++ -std=c++20 -fsyntax-only tests/consumers/classify.cpp $(pc --cflags fovea)
}

# Two lanes of about a minute each: g++ (-O3: GCC's -Werror warnings depend on the optimiser) and
# clang++ (-O1: its warnings come from the front end) followed by the from-the-checkout and
# pkg-config builds.
run gcc consumer gcc g++ find_package classify classify_compiled every_header_strict &
gcc_job=$!
clang_lane() {
  release_flags=-O1 run clang consumer clang clang++ find_package classify_strict classify_compiled stb_user
  # -O0 and clang++ (half g++'s front-end time): what these check is how fovea is found and
  # linked; g++'s warnings on fovea's headers as a program's own code are every_header_strict's
  release_flags=-O0 run add_subdirectory consumer add_subdirectory clang++ add_subdirectory classify
  release_flags=-O0 run fetchcontent consumer fetchcontent clang++ fetchcontent classify
  pkg_config_consumers
}
clang_lane
wait $gcc_job
for p in classify classify_compiled; do "$out/gcc/$p" $model $images; done
for p in classify_strict classify_compiled; do "$out/clang/$p" $model $images; done
"$out/clang/stb_user" tests/data/images/jpeg_q90_263x199.jpg
"$out/add_subdirectory/classify" $model $images
"$out/fetchcontent/classify" $model $images
"$out/pc_compiled" $model $images
for name in fovea fovea-compiled; do  # each points into the prefix it was installed to
  inc=$(pc --cflags-only-I $name | tr ' ' '\n' | grep -m1 '^-I' | cut -c3-)
  [ "$(realpath "$inc")" = "$(realpath "$prefix/include")" ] || { echo "consumers: $name.pc points to $inc, not $prefix/include"; exit 1; }
done

echo "consumers: ok"

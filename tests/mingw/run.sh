#!/usr/bin/env bash
# fovea for Windows, as CI checks it: cross-built with MinGW-w64 GCC (cmake/mingw-w64.cmake) and
# run under wine. What runs: the library's suite (fovea_tests: parity with timm for every family,
# kernels against float64, loaders, layers, registry, precision but the 330 MB full-size test), the
# threads test, decoders and preprocessing with stb_image (no libjpeg or libpng here: this is also
# CI's check of the stb_image fallback, photos included); fovea-classify.exe on a folder of images
# (against the Linux build's logits when given, an error's message and exit status). Not run: the
# tests that drive programs through a POSIX shell; fovea-serve and the Python module are not built
# for Windows.
#   tests/mingw/run.sh BUILD [LINUX_CLASSIFY]   (BUILD: a build folder to make, e.g. build-mingw)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
deps=$PWD/$build/deps
mkdir -p "$deps/include" "$deps/share/cmake" "$deps/share/eigen3"

# Header-only dependencies from Debian, staged alone: /usr/include itself would put glibc's headers
# ahead of MinGW's. Their CMake packages locate the headers relative to themselves.
for d in eigen3 nlohmann stb; do ln -sfn "/usr/include/$d" "$deps/include/$d"; done
cp -r /usr/share/eigen3/cmake "$deps/share/eigen3/"
cp -r /usr/share/cmake/nlohmann_json "$deps/share/cmake/"
export WINEPREFIX=$PWD/$build/wine WINEDEBUG=-all
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)  # Debian's wine64 package puts it there
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
toolchain=(-DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/mingw-w64.cmake" -DFOVEA_DEPS_PREFIX="$deps" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1)  # -O1: a third of -O3's compile time

# GoogleTest from Debian's sources (libgtest-dev), built for Windows; wine's prefix made meanwhile.
"$wine" wineboot --init >"$build/wineboot.log" 2>&1 &
boot=$!
if [ ! -f "$deps/lib/cmake/GTest/GTestConfig.cmake" ]; then
  cmake -S /usr/src/googletest -B "$build/googletest" "${toolchain[@]}" -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON >"$build/googletest.log"
  cmake --build "$build/googletest" -j2 >>"$build/googletest.log"
  cmake --install "$build/googletest" --prefix "$deps" >>"$build/googletest.log"
fi

cmake -S . -B "$build" $(command -v ninja >/dev/null && echo -G Ninja) "${toolchain[@]}" >"$build/configure.log"
cmake --build "$build" -j2 --target fovea-classify fovea_tests fovea_image_tests fovea_concurrency_tests
wait $boot
# A program started while the new prefix's boot processes still ran once exited with no output in
# CI: wait for them (-w: until the boot's wineserver ends), then keep one wineserver for the run.
"$wineserver" -w
"$wineserver" -p
trap '"$wineserver" -k 2>/dev/null || true' EXIT

# The suite under wine, one process per program (wine starts slowly), but the full-size precision
# test (330 MB of weights; the gcc step runs it). The library's and the image tests side by side;
# the threads test alone after them (it times the pool's workers).
suite() {  # NAME ARGS...: the program's output is kept, and printed whole if it fails
  if "$wine" "$build/tests/$1.exe" --gtest_brief=1 "${@:2}" >"$build/$1.log" 2>&1; then
    grep -E '^\[  (PASSED|SKIPPED) ' "$build/$1.log" | sed "s/^/mingw: $1: /"
  else
    local rc=$?; cat "$build/$1.log"; echo "mingw: $1 failed (exit status $rc)"; return 1
  fi
}
suite fovea_tests --gtest_filter='-Seeded/Precision*' & lib_job=$!
FOVEA_REQUIRE_PHOTOS=1 suite fovea_image_tests
wait $lib_job
suite fovea_concurrency_tests

# fovea-classify.exe: the bundled model's top class for every image of a folder, the same JSON as
# the Linux build's (LINUX_CLASSIFY, when given), and a bad path is "error: ..." with status 1.
classify=("$wine" "$build/examples/fovea-classify.exe")
images=examples/fashion_mnist/images
"${classify[@]}" "$images" | tr -d '\r' >"$build/classify.txt"
want=$(ls "$images" | grep -c '\.png$')
got=$(grep -vc '^ ' "$build/classify.txt" || true)
[ "$got" = "$want" ] || { cat "$build/classify.txt"; echo "mingw: $got of $want images classified"; exit 1; }
if [ -n "${2:-}" ]; then
  "${classify[@]}" --json --top-k 10 "$images"/*.png | tr -d '\r' >"$build/classify.json"
  "$2" --json --top-k 10 "$images"/*.png >"$build/classify-linux.json"
  /usr/bin/python3 - "$build/classify.json" "$build/classify-linux.json" <<'PY'
import json, sys
win, lin = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert len(win) == len(lin) > 0, (len(win), len(lin))
worst = 0.0
for w, l in zip(win, lin):
    assert [c["class"] for c in w["top"]] == [c["class"] for c in l["top"]], (w, l)
    worst = max(worst, max(abs(a["logit"] - b["logit"]) / max(1.0, abs(b["logit"])) for a, b in zip(w["top"], l["top"])))
assert worst < 1e-5, worst
print(f"mingw: fovea-classify.exe gives the Linux build's top 10 on {len(win)} images (logits within {worst:.1e})")
PY
fi
set +e
"${classify[@]}" "$images/no_such.png" >/dev/null 2>"$build/error.txt"
rc=$?
set -e
grep -q '^error: .*no_such.png' "$build/error.txt" && [ $rc = 1 ] || { cat "$build/error.txt"; echo "mingw: a missing image gave status $rc"; exit 1; }
echo "mingw: ok"

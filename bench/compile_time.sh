#!/usr/bin/env bash
# Compile time of a realistic program file (tests/consumers/classify.cpp: load, preprocess, forward,
# intermediates, top-k, .npy) against a file that includes only <Eigen/Core> and <nlohmann/json.hpp>,
# in user CPU seconds (median of 3), header-only and against fovea::compiled (FOVEA_COMPILED).
#   bench/compile_time.sh [CXX]
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${1:-g++}
flags="-std=c++20 -O2 -Iinclude -I/usr/include/eigen3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <Eigen/Core>\n#include <nlohmann/json.hpp>\nint main() { Eigen::MatrixXf m(2, 2); nlohmann::json j = {{"a", 1}}; return int(m.size() + j.size()); }\n' >"$tmp/deps.cpp"
user_seconds() {  # median of 3 compiles
  for i in 1 2 3; do /usr/bin/time -f %U "$cxx" $flags "$@" -c -o "$tmp/o.o" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 2p
}
deps=$(user_seconds "$tmp/deps.cpp")
header=$(user_seconds tests/consumers/classify.cpp)
compiled=$(user_seconds -DFOVEA_COMPILED tests/consumers/classify.cpp)
awk -v c="$cxx" -v d="$deps" -v h="$header" -v k="$compiled" 'BEGIN {
  printf "compile time (%s -O2, user s, median of 3): Eigen/Core + nlohmann/json alone %.2f; classify.cpp header-only %.2f (%.2fx), with fovea::compiled %.2f (%.2fx)\n", c, d, h, h / d, k, k / d }'

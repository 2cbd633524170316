#pragma once
// C[M,N] = A[M,K] W[N,K]^T + bias through Eigen (row-major), in a translation unit of its own.
#include <string>

namespace fovea_bench {
void eigen_set_threads(int threads);
void eigen_linear(const float* a, const float* w, const float* bias, float* out, long M, long N, long K);
std::string eigen_name();  // version and the SIMD sets Eigen was compiled for
}  // namespace fovea_bench

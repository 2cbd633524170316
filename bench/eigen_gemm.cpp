// Eigen's side of fovea_bench_gemm, compiled for this CPU (-march=native: see CMakeLists.txt) so the
// comparison meets Eigen at its best here (built for baseline x86-64 it would run SSE2 products,
// while fovea picks its kernels at run time).
#include "eigen_gemm.hpp"

#include <Eigen/Core>

namespace fovea_bench {

void eigen_set_threads(int threads) { Eigen::setNbThreads(threads); }

void eigen_linear(const float* a, const float* w, const float* bias, float* out, long M, long N, long K) {
    using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const Mat> A(a, M, K), W(w, N, K);
    Eigen::Map<Mat> C(out, M, N);
    C.noalias() = A * W.transpose();
    C.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, N);
}

std::string eigen_name() {
    return "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
           std::to_string(EIGEN_MINOR_VERSION) + " (" + Eigen::SimdInstructionSetsInUse() + ")";
}

}  // namespace fovea_bench

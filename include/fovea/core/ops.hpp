#pragma once
// The numeric kernels every layer goes through. gemm_nt is the one GEMM seam:
// Linear, patch embedding and the attention products all call it.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>

namespace fovea {

// Threads used by the GEMMs and the per-head / per-window loops (0 = library default).
// Effective only where the program is built with OpenMP; otherwise fovea runs on one thread.
inline void set_num_threads(int n) { Eigen::setNbThreads(n > 0 ? n : 0); }
inline int num_threads() { return Eigen::nbThreads(); }

namespace detail {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstMat = Eigen::Map<const RowMat, Eigen::Unaligned, Stride>;
using MutMat = Eigen::Map<RowMat, Eigen::Unaligned, Stride>;

// C[M,N] (+)= A[M,K] * B[N,K]^T, all row-major with leading dimensions in elements.
// B is the PyTorch Linear weight layout [out, in], so no transpose is ever materialised.
inline void gemm_nt(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                    const float* B, std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate = false) {
    ConstMat a(A, M, K, Stride(lda));
    ConstMat b(B, N, K, Stride(ldb));
    MutMat c(C, M, N, Stride(ldc));
    if (accumulate)
        c.noalias() += a * b.transpose();
    else
        c.noalias() = a * b.transpose();
}

// C[M,N] = A[M,K] * B[K,N], row-major.
inline void gemm_nn(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                    const float* B, std::int64_t ldb, float* C, std::int64_t ldc) {
    ConstMat a(A, M, K, Stride(lda));
    ConstMat b(B, K, N, Stride(ldb));
    MutMat c(C, M, N, Stride(ldc));
    c.noalias() = a * b;
}

// Row-wise LayerNorm over C channels; statistics in double so long rows do not drift.
inline void layer_norm_rows(const float* x, std::int64_t rows, std::int64_t C, const float* w, const float* b,
                            float eps, float* y) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * C;
        float* yr = y + r * C;
        double mean = 0;
        for (std::int64_t c = 0; c < C; ++c) mean += xr[c];
        mean /= static_cast<double>(C);
        double var = 0;
        for (std::int64_t c = 0; c < C; ++c) {
            const double d = xr[c] - mean;
            var += d * d;
        }
        var /= static_cast<double>(C);
        const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
        for (std::int64_t c = 0; c < C; ++c)
            yr[c] = static_cast<float>((xr[c] - mean) * inv) * w[c] + b[c];
    }
}

// Exact GELU, as torch.nn.GELU() (approximate='none').
inline void gelu_inplace(float* x, std::int64_t n) {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    for (std::int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

inline void softmax_rows(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
    for (std::int64_t r = 0; r < rows; ++r) {
        float* xr = x + r * ld;
        float m = xr[0];
        for (std::int64_t c = 1; c < cols; ++c) m = std::max(m, xr[c]);
        float sum = 0;
        for (std::int64_t c = 0; c < cols; ++c) {
            xr[c] = std::exp(xr[c] - m);
            sum += xr[c];
        }
        const float inv = 1.0f / sum;
        for (std::int64_t c = 0; c < cols; ++c) xr[c] *= inv;
    }
}

inline void add_bias_rows(float* y, std::int64_t rows, std::int64_t cols, const float* bias) {
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) y[r * cols + c] += bias[c];
}

}  // namespace detail
}  // namespace fovea

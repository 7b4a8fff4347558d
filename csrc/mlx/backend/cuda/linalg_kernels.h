// Small device kernels for the cuSOLVER-based linear algebra (linalg.cpp): layout moves between
// strided arrays and the column-major scratch the solvers work on, triangle masks, identities,
// diagonal checks and LU permutations. Elements are moved by size (4 bytes: float32, 8 bytes:
// complex64), so the same kernels serve both dtypes.
#pragma once
#ifdef MLX_CUDA_HAS_CUSOLVER

#include <cstdint>

#include "mlx/backend/cuda/cuda.h"

namespace mlx::core::cu::la {

// y[i] = x[offset of i in `s` (operand 0)] for i < n, y row-contiguous.
void gather(const void* x, void* y, int64_t n, const Strided& s, int itemsize);

// Which part of a matrix a store keeps (the rest is written as zeros).
enum Mask { kAll = 0, kLower = 1, kUpper = 2 };

// dst[b][i][j] (row-major, batch of rows x cols) = src[b * bs + i * rs + j * cs], zero outside
// the kept triangle. src may equal dst when rs == cols and cs == 1 (in place).
void store(const void* src, int64_t bs, int64_t rs, int64_t cs, void* dst, int64_t batch, int64_t rows,
           int64_t cols, Mask mask, int itemsize);

// batch identity matrices n x n (float32).
void eye(float* p, int64_t batch, int64_t n);

// info[b] = 1 + the first i with a[b * bs + i * (ld + 1)] == 0, or 0 (float32).
void diag_zero_info(const float* a, int64_t bs, int64_t n, int64_t ld, int* info, int64_t batch);

// From getrf's 1-based pivots (batch x k): 0-based pivots (batch x k), the permutation q with
// (L U)[i] = A[q[i]] and its inverse p (batch x m each).
void lu_perms(const int64_t* ipiv, int64_t batch, int64_t m, int64_t k, uint32_t* piv, uint32_t* p, uint32_t* q);

}  // namespace mlx::core::cu::la

#endif  // MLX_CUDA_HAS_CUSOLVER

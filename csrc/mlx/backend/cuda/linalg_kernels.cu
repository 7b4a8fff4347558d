// Device helpers of the cuSOLVER linear algebra (see linalg_kernels.h).
#ifdef MLX_CUDA_HAS_CUSOLVER

#include "mlx/backend/cuda/linalg_kernels.h"

#include "mlx/backend/cuda/device.cuh"

namespace mlx::core::cu::la {

namespace {

constexpr int kBlock = 256;

template <typename T>
__global__ void k_gather(const T* __restrict__ x, T* __restrict__ y, int64_t n, Strided s) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[strided_offset(s, 0, i)];
}

// One thread per output element; consecutive threads walk j (contiguous in dst).
template <typename T>
__global__ void k_store(const T* src, int64_t bs, int64_t rs, int64_t cs, T* dst, int64_t total, int64_t rows,
                        int64_t cols, int mask) {
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  int64_t j = t % cols;
  int64_t r = t / cols;
  int64_t i = r % rows;
  int64_t b = r / rows;
  bool keep = mask == kAll || (mask == kLower ? i >= j : i <= j);
  T v{};
  if (keep) v = src[b * bs + i * rs + j * cs];
  dst[t] = v;
}

__global__ void k_eye(float* p, int64_t total, int64_t n) {
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  int64_t j = t % n;
  int64_t i = (t / n) % n;
  p[t] = i == j ? 1.0f : 0.0f;
}

__global__ void k_diag_zero_info(const float* a, int64_t bs, int64_t n, int64_t ld, int* info, int64_t batch) {
  int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  int r = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (a[b * bs + i * (ld + 1)] == 0.0f) {
      r = static_cast<int>(i + 1);
      break;
    }
  }
  info[b] = r;
}

// One thread per matrix: the row interchanges are applied in order.
__global__ void k_lu_perms(const int64_t* ipiv, int64_t batch, int64_t m, int64_t k, uint32_t* piv, uint32_t* p,
                           uint32_t* q) {
  int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  uint32_t* qb = q + b * m;
  uint32_t* pb = p + b * m;
  for (int64_t i = 0; i < m; ++i) qb[i] = static_cast<uint32_t>(i);
  for (int64_t i = 0; i < k; ++i) {
    int64_t s = ipiv[b * k + i] - 1;
    piv[b * k + i] = static_cast<uint32_t>(s);
    uint32_t tmp = qb[i];
    qb[i] = qb[s];
    qb[s] = tmp;
  }
  for (int64_t i = 0; i < m; ++i) pb[qb[i]] = static_cast<uint32_t>(i);
}

}  // namespace

void gather(const void* x, void* y, int64_t n, const Strided& s, int itemsize) {
  if (n <= 0) return;
  if (itemsize == 4)
    k_gather<<<blocks_for(n, kBlock), kBlock, 0, stream()>>>(static_cast<const uint32_t*>(x),
                                                              static_cast<uint32_t*>(y), n, s);
  else
    k_gather<<<blocks_for(n, kBlock), kBlock, 0, stream()>>>(static_cast<const uint64_t*>(x),
                                                              static_cast<uint64_t*>(y), n, s);
  check_launch("linalg gather");
}

void store(const void* src, int64_t bs, int64_t rs, int64_t cs, void* dst, int64_t batch, int64_t rows,
           int64_t cols, Mask mask, int itemsize) {
  int64_t total = batch * rows * cols;
  if (total <= 0) return;
  if (itemsize == 4)
    k_store<<<blocks_for(total, kBlock), kBlock, 0, stream()>>>(static_cast<const float*>(src), bs, rs, cs,
                                                                 static_cast<float*>(dst), total, rows, cols,
                                                                 static_cast<int>(mask));
  else
    k_store<<<blocks_for(total, kBlock), kBlock, 0, stream()>>>(static_cast<const float2*>(src), bs, rs, cs,
                                                                 static_cast<float2*>(dst), total, rows, cols,
                                                                 static_cast<int>(mask));
  check_launch("linalg store");
}

void eye(float* p, int64_t batch, int64_t n) {
  int64_t total = batch * n * n;
  if (total <= 0) return;
  k_eye<<<blocks_for(total, kBlock), kBlock, 0, stream()>>>(p, total, n);
  check_launch("linalg eye");
}

void diag_zero_info(const float* a, int64_t bs, int64_t n, int64_t ld, int* info, int64_t batch) {
  if (batch <= 0) return;
  k_diag_zero_info<<<blocks_for(batch, kBlock), kBlock, 0, stream()>>>(a, bs, n, ld, info, batch);
  check_launch("linalg diag check");
}

void lu_perms(const int64_t* ipiv, int64_t batch, int64_t m, int64_t k, uint32_t* piv, uint32_t* p, uint32_t* q) {
  if (batch <= 0) return;
  k_lu_perms<<<blocks_for(batch, kBlock), kBlock, 0, stream()>>>(ipiv, batch, m, k, piv, p, q);
  check_launch("linalg lu permutations");
}

}  // namespace mlx::core::cu::la

#endif  // MLX_CUDA_HAS_CUSOLVER

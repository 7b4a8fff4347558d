// Hadamard transform on the GPU: one block per row, the row in shared memory (float), the
// radix-2 butterflies of the 2^k part, then the fixed m x m matrix (m in 12, 20, 28) applied
// across the m blocks. The float operations and their order are those of the CPU kernel
// (backend/cpu/sort_scan.cpp), so float32 results are identical.
#include "mlx/backend/cuda/device.cuh"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core::cu {

namespace {

struct BaseMatrix {
  int8_t v[28 * 28];  // row-major m x m, +1/-1 (already transposed when H^T is applied)
};

template <typename T>
__global__ void k_hadamard(const T* __restrict__ x, T* __restrict__ y, int n, int m, int p, float scale,
                           BaseMatrix M) {
  extern __shared__ float buf[];
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  T* yr = y + static_cast<int64_t>(blockIdx.x) * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) buf[i] = static_cast<float>(xr[i]);
  __syncthreads();
  // Butterflies within each of the m blocks of length p: n / 2 pairs per stage.
  int half = p / 2;
  for (int h = 1; h < p; h *= 2) {
    for (int t = threadIdx.x; t < m * half; t += blockDim.x) {
      int blk = t / half, q = t - blk * half;
      int j = blk * p + (q / h) * 2 * h + (q % h);
      float u = buf[j], w = buf[j + h];
      buf[j] = __fadd_rn(u, w);
      buf[j + h] = __fsub_rn(u, w);
    }
    __syncthreads();
  }
  if (m == 1) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) yr[i] = cast<T>(__fmul_rn(buf[i], scale));
    return;
  }
  // out[a * p + j] = sum_c M[a][c] * buf[c * p + j], summed in order of c from 0.
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    int a = i / p, j = i - a * p;
    float acc = 0.0f;
    for (int c = 0; c < m; ++c) {
      float v = buf[c * p + j];
      acc = M.v[a * m + c] > 0 ? __fadd_rn(acc, v) : __fsub_rn(acc, v);
    }
    yr[i] = cast<T>(__fmul_rn(acc, scale));
  }
}

bool eval_hadamard(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& hp = static_cast<Hadamard&>(prim);
  array x = inputs[0];
  array& out = outputs[0];
  if (x.dtype() != out.dtype() || !dispatch_float(x.dtype(), [](auto) {})) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  int64_t n64 = x.shape(-1);
  int64_t rows = static_cast<int64_t>(x.size()) / n64;
  size_t smem = static_cast<size_t>(n64) * sizeof(float);
  if (smem > props().sharedMemPerBlockOptin || rows > 0x7fffffff) return false;
  int n = static_cast<int>(n64);
  int p = n;
  while (p % 2 == 0 && p > 1) p /= 2;
  int m = p == 1 ? 1 : (p == 3 ? 12 : (p == 5 ? 20 : 28));
  if (n % m != 0) return false;
  p = n / m;
  BaseMatrix M{};
  if (m > 1) {
    const auto& H = hadamard_base_matrix(m);
    if (H.size() != static_cast<size_t>(m * m)) return false;
    for (int a = 0; a < m; ++a)
      for (int c = 0; c < m; ++c) M.v[a * m + c] = hp.transpose_ ? H[c * m + a] : H[a * m + c];
  }
  if (!dense_rows(x, x)) return false;
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = in_ptr<T>(x);
    T* py = static_cast<T*>(alloc_out(out));
    int threads = n >= 2048 ? 512 : (n >= 256 ? 256 : 128);
    if (smem > 48 * 1024) {
      MLX_CUDA_CHECK(cudaFuncSetAttribute(k_hadamard<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(smem)));
    }
    k_hadamard<T><<<static_cast<unsigned>(rows), threads, smem, stream()>>>(px, py, n, m, p, hp.scale_, M);
    check_launch("hadamard kernel");
  });
}

}  // namespace

MLX_CUDA_KERNEL(Hadamard, eval_hadamard);

}  // namespace mlx::core::cu

// Kernels of the GPU convolution: unfolding (im2col) and strided gathers (see conv_im2col.h).
#include "mlx/backend/cuda/conv_im2col.h"
#include "mlx/backend/cuda/cuda.h"

namespace mlx::core::cu {

namespace {

constexpr int kConvThreads = 256;

template <typename T>
__global__ void k_im2col(const T* __restrict__ x, T* __restrict__ col, ConvGeom g, int64_t r0, int64_t nr,
                         int64_t total) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t j = i % g.kc;
    int64_t t = i / g.kc;
    int64_t r = t % nr;
    int64_t grp = t / nr;
    int64_t ci = j % g.cig;
    int64_t kp = j / g.cig;
    int64_t row = r0 + r;
    int64_t n = row / g.o_total;
    int64_t orem = row % g.o_total;
    int64_t off = n * g.xbatch + grp * g.cig + ci;
    bool inside = true;
    for (int d = g.D - 1; d >= 0; --d) {
      int64_t o = orem % g.O[d];
      orem /= g.O[d];
      int64_t k = kp % g.K[d];
      kp /= g.K[d];
      int64_t kk = g.flip ? g.K[d] - 1 - k : k;
      int64_t pos = o * g.stride[d] + kk * g.kdil[d] - g.lo[d];
      if (pos < 0) {
        inside = false;
        break;
      }
      if (g.idil[d] != 1) {
        if (pos % g.idil[d] != 0) {
          inside = false;
          break;
        }
        pos /= g.idil[d];
      }
      if (pos >= g.S[d]) {
        inside = false;
        break;
      }
      off += pos * g.xs[d];
    }
    col[i] = inside ? x[off] : T(0);
  }
}

struct GatherShape {
  int ndim;
  int64_t shape[kConvMaxDims];
  int64_t strides[kConvMaxDims];
};

template <typename T>
__global__ void k_gather(const T* __restrict__ src, T* __restrict__ dst, GatherShape s, int64_t total) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
      off += (rem % s.shape[d]) * s.strides[d];
      rem /= s.shape[d];
    }
    dst[i] = src[off];
  }
}

int grid_for(int64_t total) {
  int64_t b = (total + kConvThreads - 1) / kConvThreads;
  return static_cast<int>(b < (int64_t(1) << 20) ? b : (int64_t(1) << 20));
}

}  // namespace

void conv_im2col(int elem_size, const void* x, void* col, const ConvGeom& g, int64_t r0, int64_t nr,
                 cudaStream_t s) {
  int64_t total = g.groups * nr * g.kc;
  if (total <= 0) return;
  if (elem_size == 4) {
    k_im2col<uint32_t><<<grid_for(total), kConvThreads, 0, s>>>(static_cast<const uint32_t*>(x),
                                                                static_cast<uint32_t*>(col), g, r0, nr, total);
  } else {
    k_im2col<uint16_t><<<grid_for(total), kConvThreads, 0, s>>>(static_cast<const uint16_t*>(x),
                                                                static_cast<uint16_t*>(col), g, r0, nr, total);
  }
  check_launch("conv im2col");
}

void conv_gather(int elem_size, const void* src, void* dst, int ndim, const int64_t* shape,
                 const int64_t* strides, cudaStream_t s) {
  GatherShape gs;
  gs.ndim = ndim;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    gs.shape[d] = shape[d];
    gs.strides[d] = strides[d];
    total *= shape[d];
  }
  if (total <= 0) return;
  if (elem_size == 4) {
    k_gather<uint32_t><<<grid_for(total), kConvThreads, 0, s>>>(static_cast<const uint32_t*>(src),
                                                               static_cast<uint32_t*>(dst), gs, total);
  } else {
    k_gather<uint16_t><<<grid_for(total), kConvThreads, 0, s>>>(static_cast<const uint16_t*>(src),
                                                               static_cast<uint16_t*>(dst), gs, total);
  }
  check_launch("conv gather");
}

}  // namespace mlx::core::cu

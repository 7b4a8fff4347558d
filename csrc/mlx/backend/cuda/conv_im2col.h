// Helpers of the GPU convolution (conv.cpp): the unfolding (im2col) kernel of the implicit-GEMM
// path and a strided gather used to re-lay operands for cuDNN. Kernels only move bytes, so they
// are instantiated per element size (2 or 4 bytes).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace mlx::core::cu {

constexpr int kConvMaxDims = 8;

// Geometry of one convolution over a row-contiguous channels-last input (see conv.h).
struct ConvGeom {
  int D = 0;
  int flip = 0;
  int64_t N = 0, c_in = 0, c_out = 0, groups = 1, cig = 0, cog = 0;
  int64_t S[kConvMaxDims], K[kConvMaxDims], O[kConvMaxDims];
  int64_t stride[kConvMaxDims], lo[kConvMaxDims], kdil[kConvMaxDims], idil[kConvMaxDims];
  int64_t xs[kConvMaxDims];  // element strides of the input's spatial dims
  int64_t xbatch = 0;        // element stride of the input's batch dim
  int64_t o_total = 1, k_total = 1;
  int64_t kc = 0;            // unfolded columns of one group: k_total * cig
  int64_t rows = 0;          // N * o_total
};

// col[grp][r][j] (groups x nr x kc) = the unfolded output rows r0 .. r0+nr-1 of x.
void conv_im2col(int elem_size, const void* x, void* col, const ConvGeom& g, int64_t r0, int64_t nr,
                 cudaStream_t s);

// dst (row-contiguous over shape[0..ndim)) = src read with element strides `strides`.
void conv_gather(int elem_size, const void* src, void* dst, int ndim, const int64_t* shape,
                 const int64_t* strides, cudaStream_t s);

}  // namespace mlx::core::cu

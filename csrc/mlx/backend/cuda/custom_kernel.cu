// mx.fast.cuda_kernel on the GPU: the generated source is compiled by NVRTC (cached by source)
// and launched on the stream, with outputs optionally filled with init_value first.
#include "mlx/backend/cuda/device.cuh"
#include "mlx/primitives/custom_kernel.h"

namespace mlx::core::cu {

namespace {

// Headers and the fixed-width integer types the generated signatures use (from the toolkit's
// <cuda/std/cstdint> where NVRTC finds it, else the same definitions NVRTC's headers use).
const char* kPrelude = R"(
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#if __has_include(<cooperative_groups.h>)
#include <cooperative_groups.h>
#endif
#if __has_include(<cuda/std/cstdint>)
#include <cuda/std/cstdint>
#else
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
#endif
)";

template <typename T>
__global__ void k_fill(T* out, size_t n, float v) {
  size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = cast<T>(v);
}

void fill(array& out, void* p, float v) {
  size_t n = out.size();
  if (n == 0) return;
  int blocks = blocks_for(n, 256);
  switch (out.dtype()) {
    case Dtype::bool_: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<bool*>(p), n, v); break;
    case Dtype::uint8: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<uint8_t*>(p), n, v); break;
    case Dtype::uint16: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<uint16_t*>(p), n, v); break;
    case Dtype::uint32: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<uint32_t*>(p), n, v); break;
    case Dtype::uint64: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<uint64_t*>(p), n, v); break;
    case Dtype::int8: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<int8_t*>(p), n, v); break;
    case Dtype::int16: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<int16_t*>(p), n, v); break;
    case Dtype::int32: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<int32_t*>(p), n, v); break;
    case Dtype::int64: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<int64_t*>(p), n, v); break;
    case Dtype::float16: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<__half*>(p), n, v); break;
    case Dtype::bfloat16: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<__nv_bfloat16*>(p), n, v); break;
    case Dtype::float32: k_fill<<<blocks, 256, 0, stream()>>>(static_cast<float*>(p), n, v); break;
    case Dtype::complex64: {
      // (v, 0) for every element: the real parts are every other float.
      MLX_CUDA_CHECK(cudaMemsetAsync(p, 0, out.nbytes(), stream()));
      if (v != 0.0f) {
        float2* q = static_cast<float2*>(p);
        std::vector<float2> h(1, make_float2(v, 0.0f));
        for (size_t i = 0; i < n; ++i)
          MLX_CUDA_CHECK(cudaMemcpyAsync(q + i, h.data(), sizeof(float2), cudaMemcpyHostToDevice, stream()));
      }
      return;
    }
    default: throw std::runtime_error("[cuda_kernel] init_value is not supported for this output dtype.");
  }
  check_launch("cuda_kernel init_value");
}

bool eval_custom_kernel(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  graph_break();  // its parameters are copied from host memory
  auto& k = static_cast<fast::CustomKernel&>(p);
  cudaKernel_t kernel = nvrtc_kernel(std::string(kPrelude) + k.source_, k.kernel_name_, "[cuda_kernel]");
  // Argument storage: every kernel parameter needs an address that lives until the launch.
  std::vector<const void*> ptrs;
  std::vector<int> ndims;
  std::vector<void*> scratch;  // device copies of shapes and strides
  std::vector<size_t> scratch_bytes;
  std::vector<void*> args;
  ptrs.reserve(inputs.size() * 3 + outputs.size());
  ndims.reserve(inputs.size());
  auto upload = [&](const void* host, size_t bytes) {
    void* d = dev_malloc(bytes ? bytes : 8);
    if (bytes) MLX_CUDA_CHECK(cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, stream()));
    scratch.push_back(d);
    scratch_bytes.push_back(bytes ? bytes : 8);
    return d;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const array& a = inputs[i];
    ptrs.push_back(a.size() ? in_ptr(a) : nullptr);
    args.push_back(const_cast<const void**>(&ptrs.back()));
    auto& prm = k.params_[i];
    if (prm.shape) {
      std::vector<int32_t> sh(a.shape().begin(), a.shape().end());
      ptrs.push_back(upload(sh.data(), sh.size() * sizeof(int32_t)));
      args.push_back(const_cast<const void**>(&ptrs.back()));
    }
    if (prm.strides) {
      std::vector<int64_t> stv(a.strides().begin(), a.strides().end());
      ptrs.push_back(upload(stv.data(), stv.size() * sizeof(int64_t)));
      args.push_back(const_cast<const void**>(&ptrs.back()));
    }
    if (prm.ndim) {
      ndims.push_back(static_cast<int>(a.ndim()));
      args.push_back(&ndims.back());
    }
  }
  for (auto& o : outputs) {
    void* q = alloc_out(o);
    if (k.init_value_) fill(o, q, *k.init_value_);
    ptrs.push_back(q);
    args.push_back(const_cast<const void**>(&ptrs.back()));
  }
  dim3 block(k.block_[0], k.block_[1], k.block_[2]);
  dim3 grid((k.grid_[0] + k.block_[0] - 1) / k.block_[0], (k.grid_[1] + k.block_[1] - 1) / k.block_[1],
            (k.grid_[2] + k.block_[2] - 1) / k.block_[2]);
  if (k.shared_memory_ > 48 * 1024)
    MLX_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, k.shared_memory_));
  MLX_CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, args.data(),
                                  static_cast<size_t>(k.shared_memory_), stream()));
  for (size_t i = 0; i < scratch.size(); ++i) dev_free(scratch[i], scratch_bytes[i]);
  return true;
}

}  // namespace

using fast::CustomKernel;
MLX_CUDA_KERNEL(CustomKernel, eval_custom_kernel);

}  // namespace mlx::core::cu

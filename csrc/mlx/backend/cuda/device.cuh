// Device-side helpers: dtype dispatch to CUDA types, casts, and vector access.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "mlx/backend/cuda/cuda.h"
#include "mlx/dtype.h"

namespace mlx::core::cu {

template <typename T>
struct Tag {
  using type = T;
};

template <typename T>
constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
constexpr bool is_float_v = is_half_v<T> || std::is_same_v<T, float>;
// The type arithmetic is done in: float for the 16-bit floats, the type itself otherwise.
template <typename T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;

// Calls f(Tag<T>{}) for the CUDA type of `t`; false for float64 and complex64 (CPU only).
template <typename F>
bool dispatch(Dtype t, F&& f) {
  switch (t) {
    case Dtype::bool_: f(Tag<bool>{}); return true;
    case Dtype::uint8: f(Tag<uint8_t>{}); return true;
    case Dtype::uint16: f(Tag<uint16_t>{}); return true;
    case Dtype::uint32: f(Tag<uint32_t>{}); return true;
    case Dtype::uint64: f(Tag<uint64_t>{}); return true;
    case Dtype::int8: f(Tag<int8_t>{}); return true;
    case Dtype::int16: f(Tag<int16_t>{}); return true;
    case Dtype::int32: f(Tag<int32_t>{}); return true;
    case Dtype::int64: f(Tag<int64_t>{}); return true;
    case Dtype::float16: f(Tag<__half>{}); return true;
    case Dtype::bfloat16: f(Tag<__nv_bfloat16>{}); return true;
    case Dtype::float32: f(Tag<float>{}); return true;
    default: return false;
  }
}
// Only the floating types.
template <typename F>
bool dispatch_float(Dtype t, F&& f) {
  switch (t) {
    case Dtype::float16: f(Tag<__half>{}); return true;
    case Dtype::bfloat16: f(Tag<__nv_bfloat16>{}); return true;
    case Dtype::float32: f(Tag<float>{}); return true;
    default: return false;
  }
}

template <typename To, typename From>
__device__ __forceinline__ To cast(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_half_v<From>) return static_cast<float>(x) != 0.0f;
    else return x != From(0);
  } else if constexpr (is_half_v<To>) {
    if constexpr (is_half_v<From>) return To(static_cast<float>(x));
    else if constexpr (std::is_same_v<From, bool>) return To(x ? 1.0f : 0.0f);
    else return To(static_cast<float>(x));
  } else if constexpr (is_half_v<From>) {
    return cast<To>(static_cast<float>(x));
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Out-of-range values wrap through int64, as on the CPU (x86 converts that way).
    if constexpr (std::is_same_v<To, uint64_t>) return x < From(0) ? static_cast<To>(static_cast<int64_t>(x)) : static_cast<To>(x);
    else return static_cast<To>(static_cast<int64_t>(x));
  } else {
    return static_cast<To>(x);
  }
}

// Element offset of linear index i in a collapsed layout for operand k.
__device__ __forceinline__ int64_t strided_offset(const Strided& s, int k, int64_t i) {
  int64_t off = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 0; --d) {
    if (d < s.ndim) {
      int64_t q = i / s.shape[d];
      off += (i - q * s.shape[d]) * s.strides[k][d];
      i = q;
    }
  }
  return off;
}

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

inline bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) % a) == 0; }

}  // namespace mlx::core::cu

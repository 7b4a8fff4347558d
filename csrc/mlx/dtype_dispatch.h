// The one switch from a runtime Dtype to a C++ type.
#pragma once
#include "mlx/dtype.h"

// MLX_DISPATCH_ALL(dtype, T, body): runs body with `T` bound to the C++ type.
#define MLX_DTYPE_CASE(D, TYPE, ...) \
  case ::mlx::core::Dtype::D: {      \
    using T = TYPE;                  \
    __VA_ARGS__;                     \
    break;                           \
  }

#define MLX_DISPATCH_ALL(dt, ...)                                   \
  switch (dt) {                                                     \
    MLX_DTYPE_CASE(bool_, bool, __VA_ARGS__)                        \
    MLX_DTYPE_CASE(uint8, uint8_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(uint16, uint16_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(uint32, uint32_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(uint64, uint64_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(int8, int8_t, __VA_ARGS__)                       \
    MLX_DTYPE_CASE(int16, int16_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(int32, int32_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(int64, int64_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(float16, ::mlx::core::float16_t, __VA_ARGS__)    \
    MLX_DTYPE_CASE(float32, float, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(float64, double, __VA_ARGS__)                    \
    MLX_DTYPE_CASE(bfloat16, ::mlx::core::bfloat16_t, __VA_ARGS__)  \
    MLX_DTYPE_CASE(complex64, ::mlx::core::complex64_t, __VA_ARGS__) \
  }

// Real types only (no complex).
#define MLX_DISPATCH_REAL(dt, ...)                                  \
  switch (dt) {                                                     \
    MLX_DTYPE_CASE(bool_, bool, __VA_ARGS__)                        \
    MLX_DTYPE_CASE(uint8, uint8_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(uint16, uint16_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(uint32, uint32_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(uint64, uint64_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(int8, int8_t, __VA_ARGS__)                       \
    MLX_DTYPE_CASE(int16, int16_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(int32, int32_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(int64, int64_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(float16, ::mlx::core::float16_t, __VA_ARGS__)    \
    MLX_DTYPE_CASE(float32, float, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(float64, double, __VA_ARGS__)                    \
    MLX_DTYPE_CASE(bfloat16, ::mlx::core::bfloat16_t, __VA_ARGS__)  \
    default: break;                                                 \
  }

#define MLX_DISPATCH_INT(dt, ...)                                   \
  switch (dt) {                                                     \
    MLX_DTYPE_CASE(bool_, bool, __VA_ARGS__)                        \
    MLX_DTYPE_CASE(uint8, uint8_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(uint16, uint16_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(uint32, uint32_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(uint64, uint64_t, __VA_ARGS__)                   \
    MLX_DTYPE_CASE(int8, int8_t, __VA_ARGS__)                       \
    MLX_DTYPE_CASE(int16, int16_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(int32, int32_t, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(int64, int64_t, __VA_ARGS__)                     \
    default: break;                                                 \
  }

#define MLX_DISPATCH_FLOAT(dt, ...)                                 \
  switch (dt) {                                                     \
    MLX_DTYPE_CASE(float16, ::mlx::core::float16_t, __VA_ARGS__)    \
    MLX_DTYPE_CASE(float32, float, __VA_ARGS__)                     \
    MLX_DTYPE_CASE(float64, double, __VA_ARGS__)                    \
    MLX_DTYPE_CASE(bfloat16, ::mlx::core::bfloat16_t, __VA_ARGS__)  \
    default: break;                                                 \
  }

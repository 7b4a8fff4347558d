// Dtypes, their categories and the promotion table.
#pragma once
#include <cstdint>
#include <string>
#include <ostream>

#include "mlx/types/half.h"

namespace mlx::core {

enum class Dtype : uint8_t {
  bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
  float16, float32, float64, bfloat16, complex64,
};
constexpr int num_dtypes = 14;

// Categories as in MLX: generic > number > {inexact > {floating, complexfloating}, integer > {signedinteger, unsignedinteger}}, bool_.
enum class DtypeCategory : uint8_t {
  complexfloating, floating, inexact, signedinteger, unsignedinteger, integer, number, generic,
};

namespace dtypes {
constexpr Dtype bool_ = Dtype::bool_;
constexpr Dtype uint8 = Dtype::uint8;
constexpr Dtype uint16 = Dtype::uint16;
constexpr Dtype uint32 = Dtype::uint32;
constexpr Dtype uint64 = Dtype::uint64;
constexpr Dtype int8 = Dtype::int8;
constexpr Dtype int16 = Dtype::int16;
constexpr Dtype int32 = Dtype::int32;
constexpr Dtype int64 = Dtype::int64;
constexpr Dtype float16 = Dtype::float16;
constexpr Dtype float32 = Dtype::float32;
constexpr Dtype float64 = Dtype::float64;
constexpr Dtype bfloat16 = Dtype::bfloat16;
constexpr Dtype complex64 = Dtype::complex64;
}  // namespace dtypes
using namespace dtypes;

// Size in bytes of one element.
int size_of(Dtype t);
const char* dtype_name(Dtype t);
Dtype promote_types(Dtype a, Dtype b);
bool issubdtype(Dtype a, Dtype b);
bool issubdtype(Dtype a, DtypeCategory c);
bool issubdtype(DtypeCategory a, DtypeCategory c);
bool issubdtype(DtypeCategory a, Dtype b);
const char* category_name(DtypeCategory c);

inline bool is_floating_point(Dtype t) {
  return t == float16 || t == float32 || t == float64 || t == bfloat16;
}
inline bool is_complex(Dtype t) { return t == complex64; }
inline bool is_inexact(Dtype t) { return is_floating_point(t) || is_complex(t); }
inline bool is_unsigned(Dtype t) {
  return t == uint8 || t == uint16 || t == uint32 || t == uint64;
}
inline bool is_signed_int(Dtype t) {
  return t == int8 || t == int16 || t == int32 || t == int64;
}
inline bool is_integral(Dtype t) { return is_unsigned(t) || is_signed_int(t); }
// The float type math on t is done in (float32 for ints and bools).
inline Dtype float_of(Dtype t) { return is_inexact(t) ? t : float32; }

std::ostream& operator<<(std::ostream& os, Dtype t);

template <typename T> struct TypeToDtype;
#define MLX_TYPE_DTYPE(T, D) template <> struct TypeToDtype<T> { static constexpr Dtype value = D; };
MLX_TYPE_DTYPE(bool, bool_)
MLX_TYPE_DTYPE(uint8_t, uint8)
MLX_TYPE_DTYPE(uint16_t, uint16)
MLX_TYPE_DTYPE(uint32_t, uint32)
MLX_TYPE_DTYPE(uint64_t, uint64)
MLX_TYPE_DTYPE(int8_t, int8)
MLX_TYPE_DTYPE(int16_t, int16)
MLX_TYPE_DTYPE(int32_t, int32)
MLX_TYPE_DTYPE(int64_t, int64)
MLX_TYPE_DTYPE(float16_t, float16)
MLX_TYPE_DTYPE(float, float32)
MLX_TYPE_DTYPE(double, float64)
MLX_TYPE_DTYPE(bfloat16_t, bfloat16)
MLX_TYPE_DTYPE(complex64_t, complex64)
#undef MLX_TYPE_DTYPE

}  // namespace mlx::core

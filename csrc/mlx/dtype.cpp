#include "mlx/dtype.h"

namespace mlx::core {

namespace {
constexpr int kSizes[num_dtypes] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2, 8};
constexpr const char* kNames[num_dtypes] = {
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
    "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"};

#define b bool_
#define u1 uint8
#define u2 uint16
#define u4 uint32
#define u8 uint64
#define i1 int8
#define i2 int16
#define i4 int32
#define i8 int64
#define f2 float16
#define f4 float32
#define f8 float64
#define bf bfloat16
#define c8 complex64
// Row and column order follow the Dtype enum.
constexpr Dtype kPromote[num_dtypes][num_dtypes] = {
    //  b   u1  u2  u4  u8  i1  i2  i4  i8  f2  f4  f8  bf  c8
    {b, u1, u2, u4, u8, i1, i2, i4, i8, f2, f4, f8, bf, c8},  // bool
    {u1, u1, u2, u4, u8, i2, i2, i4, i8, f2, f4, f8, bf, c8},  // uint8
    {u2, u2, u2, u4, u8, i4, i4, i4, i8, f2, f4, f8, bf, c8},  // uint16
    {u4, u4, u4, u4, u8, i8, i8, i8, i8, f2, f4, f8, bf, c8},  // uint32
    {u8, u8, u8, u8, u8, f4, f4, f4, f4, f2, f4, f8, bf, c8},  // uint64
    {i1, i2, i4, i8, f4, i1, i2, i4, i8, f2, f4, f8, bf, c8},  // int8
    {i2, i2, i4, i8, f4, i2, i2, i4, i8, f2, f4, f8, bf, c8},  // int16
    {i4, i4, i4, i8, f4, i4, i4, i4, i8, f2, f4, f8, bf, c8},  // int32
    {i8, i8, i8, i8, f4, i8, i8, i8, i8, f2, f4, f8, bf, c8},  // int64
    {f2, f2, f2, f2, f2, f2, f2, f2, f2, f2, f4, f8, f4, c8},  // float16
    {f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f8, f4, c8},  // float32
    {f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, c8},  // float64
    {bf, bf, bf, bf, bf, bf, bf, bf, bf, f4, f4, f8, bf, c8},  // bfloat16
    {c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8},  // complex64
};
#undef b
#undef u1
#undef u2
#undef u4
#undef u8
#undef i1
#undef i2
#undef i4
#undef i8
#undef f2
#undef f4
#undef f8
#undef bf
#undef c8

DtypeCategory category_of(Dtype t) {
  if (is_complex(t)) return DtypeCategory::complexfloating;
  if (is_floating_point(t)) return DtypeCategory::floating;
  if (is_signed_int(t)) return DtypeCategory::signedinteger;
  if (is_unsigned(t)) return DtypeCategory::unsignedinteger;
  return DtypeCategory::generic;  // bool
}
}  // namespace

int size_of(Dtype t) { return kSizes[static_cast<int>(t)]; }
const char* dtype_name(Dtype t) { return kNames[static_cast<int>(t)]; }
Dtype promote_types(Dtype a, Dtype b) {
  return kPromote[static_cast<int>(a)][static_cast<int>(b)];
}
std::ostream& operator<<(std::ostream& os, Dtype t) { return os << dtype_name(t); }

const char* category_name(DtypeCategory c) {
  switch (c) {
    case DtypeCategory::complexfloating: return "complexfloating";
    case DtypeCategory::floating: return "floating";
    case DtypeCategory::inexact: return "inexact";
    case DtypeCategory::signedinteger: return "signedinteger";
    case DtypeCategory::unsignedinteger: return "unsignedinteger";
    case DtypeCategory::integer: return "integer";
    case DtypeCategory::number: return "number";
    case DtypeCategory::generic: return "generic";
  }
  return "generic";
}

bool issubdtype(DtypeCategory a, DtypeCategory c) {
  if (a == c || c == DtypeCategory::generic) return true;
  switch (c) {
    case DtypeCategory::inexact:
      return a == DtypeCategory::floating || a == DtypeCategory::complexfloating;
    case DtypeCategory::integer:
      return a == DtypeCategory::signedinteger || a == DtypeCategory::unsignedinteger;
    case DtypeCategory::number:
      return a != DtypeCategory::generic;
    default:
      return false;
  }
}
bool issubdtype(Dtype a, DtypeCategory c) {
  if (a == bool_) return c == DtypeCategory::generic;
  return issubdtype(category_of(a), c);
}
bool issubdtype(Dtype a, Dtype b) { return a == b; }
bool issubdtype(DtypeCategory, Dtype) { return false; }

}  // namespace mlx::core

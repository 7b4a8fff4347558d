// Value conversion between any two element types (half types go through float).
#pragma once
#include <type_traits>

#include "mlx/types/half.h"

namespace mlx::core {

template <typename T> struct is_half : std::false_type {};
template <> struct is_half<float16_t> : std::true_type {};
template <> struct is_half<bfloat16_t> : std::true_type {};
template <typename T> struct is_cplx : std::false_type {};
template <> struct is_cplx<complex64_t> : std::true_type {};

// The type arithmetic on T is done in.
template <typename T>
using acc_t = std::conditional_t<is_half<T>::value || std::is_same_v<T, bool>, float, T>;

template <typename To, typename From>
inline To cast_to(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (is_cplx<From>::value) {
    if constexpr (is_cplx<To>::value) return To(x);
    else if constexpr (std::is_same_v<To, bool>) return x.real() != 0 || x.imag() != 0;
    else return cast_to<To>(x.real());
  } else if constexpr (is_cplx<To>::value) {
    return To(static_cast<float>(cast_to<float>(x)), 0.0f);
  } else if constexpr (is_half<From>::value) {
    return cast_to<To>(static_cast<float>(x));
  } else if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (is_half<To>::value) {
    return To(static_cast<float>(x));
  } else {
    return static_cast<To>(x);
  }
}

}  // namespace mlx::core

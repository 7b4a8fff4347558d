// Binary elementwise ops on the GPU: the per-op functor and its launch.
#pragma once
#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cu {

constexpr bool to_bool(BinaryOp op) {
  return op == BinaryOp::Equal || op == BinaryOp::NaNEqual || op == BinaryOp::NotEqual ||
         op == BinaryOp::Less || op == BinaryOp::LessEqual || op == BinaryOp::Greater ||
         op == BinaryOp::GreaterEqual || op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr;
}

template <BinaryOp op, typename T>
constexpr bool binary_supported() {
  if constexpr (op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr) return std::is_same_v<T, bool>;
  else if constexpr (op == BinaryOp::BitwiseAnd || op == BinaryOp::BitwiseOr || op == BinaryOp::BitwiseXor)
    return std::is_integral_v<T>;
  else if constexpr (op == BinaryOp::LeftShift || op == BinaryOp::RightShift)
    return std::is_integral_v<T> && !std::is_same_v<T, bool>;
  else if constexpr (op == BinaryOp::ArcTan2 || op == BinaryOp::LogAddExp) return is_float_v<T>;
  else if constexpr (op == BinaryOp::Remainder || op == BinaryOp::FloorDivide || op == BinaryOp::Power ||
                     op == BinaryOp::Subtract || op == BinaryOp::Divide)
    return !std::is_same_v<T, bool>;
  else return true;
}

template <BinaryOp op, typename T>
struct BinaryF {
  using Out = std::conditional_t<to_bool(op), bool, T>;
  __device__ __forceinline__ Out operator()(T va, T vb) const {
    using A = compute_t<T>;
    A a = static_cast<A>(va), b = static_cast<A>(vb);
    constexpr bool F = is_float_v<T>;
    if constexpr (op == BinaryOp::Add) {
      if constexpr (std::is_same_v<T, bool>) return a || b;
      else return cast<T>(A(a + b));
    } else if constexpr (op == BinaryOp::Subtract) {
      return cast<T>(A(a - b));
    } else if constexpr (op == BinaryOp::Multiply) {
      if constexpr (std::is_same_v<T, bool>) return a && b;
      else return cast<T>(A(a * b));
    } else if constexpr (op == BinaryOp::Divide) {
      if constexpr (F) return cast<T>(a / b);
      else return b == 0 ? T(0) : static_cast<T>(a / b);
    } else if constexpr (op == BinaryOp::FloorDivide) {
      if constexpr (F) return cast<T>(floorf(a / b));
      else {
        if (b == 0) return T(0);
        A q = a / b;
        if constexpr (std::is_signed_v<A>) {
          if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
        }
        return static_cast<T>(q);
      }
    } else if constexpr (op == BinaryOp::Remainder) {
      if constexpr (F) {
        A r = fmodf(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return cast<T>(r);
      } else {
        if (b == 0) return va;
        if constexpr (std::is_signed_v<A>) {
          if (b == A(-1)) return T(0);
          A r = a % b;
          if (r != 0 && ((r < 0) != (b < 0))) r += b;
          return static_cast<T>(r);
        } else {
          return static_cast<T>(a % b);
        }
      }
    } else if constexpr (op == BinaryOp::Power) {
      if constexpr (F) {
        if (b == 2.0f) return cast<T>(a * a);
        return cast<T>(powf(a, b));
      } else {
        if constexpr (std::is_signed_v<A>) {
          if (b < 0) return static_cast<T>(a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0));
        }
        A r = 1;
        while (b) {
          if (b & 1) r = static_cast<A>(r * a);
          a = static_cast<A>(a * a);
          b >>= 1;
        }
        return static_cast<T>(r);
      }
    } else if constexpr (op == BinaryOp::Maximum) {
      if constexpr (F) return (a != a || a > b) ? va : vb;
      else return a > b ? va : vb;
    } else if constexpr (op == BinaryOp::Minimum) {
      if constexpr (F) return (a != a || a < b) ? va : vb;
      else return a < b ? va : vb;
    } else if constexpr (op == BinaryOp::Equal) {
      return a == b;
    } else if constexpr (op == BinaryOp::NaNEqual) {
      if constexpr (F) return a == b || (a != a && b != b);
      else return a == b;
    } else if constexpr (op == BinaryOp::NotEqual) {
      return a != b;
    } else if constexpr (op == BinaryOp::Less) {
      return a < b;
    } else if constexpr (op == BinaryOp::LessEqual) {
      return a <= b;
    } else if constexpr (op == BinaryOp::Greater) {
      return a > b;
    } else if constexpr (op == BinaryOp::GreaterEqual) {
      return a >= b;
    } else if constexpr (op == BinaryOp::LogicalAnd) {
      return va && vb;
    } else if constexpr (op == BinaryOp::LogicalOr) {
      return va || vb;
    } else if constexpr (op == BinaryOp::BitwiseAnd) {
      return static_cast<T>(va & vb);
    } else if constexpr (op == BinaryOp::BitwiseOr) {
      return static_cast<T>(va | vb);
    } else if constexpr (op == BinaryOp::BitwiseXor) {
      return static_cast<T>(va ^ vb);
    } else if constexpr (op == BinaryOp::LeftShift) {
      if (b < 0 || b >= static_cast<A>(sizeof(A) * 8)) return T(0);
      return static_cast<T>(static_cast<std::make_unsigned_t<A>>(a) << b);
    } else if constexpr (op == BinaryOp::RightShift) {
      if (b < 0 || b >= static_cast<A>(sizeof(A) * 8)) return static_cast<T>(a < 0 ? -1 : 0);
      return static_cast<T>(a >> b);
    } else if constexpr (op == BinaryOp::ArcTan2) {
      return cast<T>(atan2f(a, b));
    } else {  // LogAddExp
      if (a != a || b != b) return cast<T>(a + b);
      A m = a > b ? a : b;
      if (isinf(m)) return cast<T>(m);
      A d = a > b ? b - a : a - b;
      return cast<T>(m + log1pf(expf(d)));
    }
  }
};

template <BinaryOp op>
bool binary_op(const array& a, const array& b, array& out) {
  if (a.dtype() != b.dtype()) return false;
  bool ok = false;
  dispatch(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (binary_supported<op, T>()) {
      using F = BinaryF<op, T>;
      using Out = typename F::Out;
      if (out.dtype() != (std::is_same_v<Out, bool> ? Dtype::bool_ : a.dtype())) return;
      size_t n = out.size();
      bool as = is_scalar_like(a), bs = is_scalar_like(b);
      if ((as || is_row_full(a, n)) && (bs || is_row_full(b, n))) {
        const T* pa = in_ptr<T>(a);
        const T* pb = in_ptr<T>(b);
        Out* y = static_cast<Out*>(alloc_out(out));
        map2_contig(pa, pb, y, static_cast<int64_t>(n), as, bs, F{});
        ok = true;
        return;
      }
      Strided s;
      if (!collapse(out.shape(), {&a, &b}, s)) return;
      const T* pa = in_ptr<T>(a);
      const T* pb = in_ptr<T>(b);
      Out* y = static_cast<Out*>(alloc_out(out));
      map2_strided(pa, pb, y, static_cast<int64_t>(n), s, F{});
      ok = true;
    }
  });
  return ok;
}

bool binary_arith(BinaryOp op, const array& a, const array& b, array& out);
bool binary_other(BinaryOp op, const array& a, const array& b, array& out);

}  // namespace mlx::core::cu

// Unary elementwise ops and dtype casts on the GPU.
#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cu {
namespace {

template <typename T>
constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

enum class Kind { Float, Numeric, Any, IntOrBool, Bool, Pred };
constexpr Kind kind_of(UnaryOp op) {
  switch (op) {
    case UnaryOp::Abs: case UnaryOp::Negative: case UnaryOp::Sign: case UnaryOp::Square:
    case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
      return Kind::Numeric;
    case UnaryOp::LogicalNot: return Kind::Bool;
    case UnaryOp::BitwiseInvert: return Kind::IntOrBool;
    case UnaryOp::IsNan: case UnaryOp::IsInf: case UnaryOp::IsPosInf: case UnaryOp::IsNegInf:
      return Kind::Pred;
    case UnaryOp::Conjugate: case UnaryOp::Real: case UnaryOp::Imag: case UnaryOp::StopGradient:
    case UnaryOp::Copy:
      return Kind::Any;
    default: return Kind::Float;
  }
}

template <UnaryOp op, typename T>
constexpr bool supported() {
  constexpr Kind k = kind_of(op);
  if constexpr (k == Kind::Float) return is_float_v<T>;
  else if constexpr (k == Kind::Numeric) return !std::is_same_v<T, bool>;
  else if constexpr (k == Kind::IntOrBool) return std::is_integral_v<T>;
  else if constexpr (k == Kind::Bool) return std::is_same_v<T, bool>;
  else return true;
}

template <UnaryOp op, typename T>
struct UnaryF {
  using Out = std::conditional_t<kind_of(op) == Kind::Pred, bool, T>;
  __device__ __forceinline__ Out operator()(T v) const {
    using A = compute_t<T>;
    A x = static_cast<A>(v);
    if constexpr (op == UnaryOp::Abs) {
      if constexpr (std::is_unsigned_v<A>) return v;
      else if constexpr (std::is_floating_point_v<A>) return cast<T>(A(fabs(x)));  // abs(-0.0) is +0.0
      else return cast<T>(x < A(0) ? A(-x) : x);
    } else if constexpr (op == UnaryOp::Negative) {
      // Floats: flip the sign bit (the hardware negate may drop a NaN's sign).
      if constexpr (std::is_same_v<T, float>) return __int_as_float(__float_as_int(v) ^ 0x80000000);
      else if constexpr (is_half_v<T>) {
        unsigned short bits;
        memcpy(&bits, &v, 2);
        bits ^= 0x8000u;
        T r;
        memcpy(&r, &bits, 2);
        return r;
      } else return cast<T>(A(-x));
    } else if constexpr (op == UnaryOp::Sign) {
      if constexpr (std::is_unsigned_v<A>) return cast<T>(A(x != 0));
      else return cast<T>(A((x > A(0)) - (x < A(0))));
    } else if constexpr (op == UnaryOp::Square) {
      return cast<T>(A(x * x));
    } else if constexpr (op == UnaryOp::Floor) {
      if constexpr (is_float_v<T>) return cast<T>(floorf(x));
      else return v;
    } else if constexpr (op == UnaryOp::Ceil) {
      if constexpr (is_float_v<T>) return cast<T>(ceilf(x));
      else return v;
    } else if constexpr (op == UnaryOp::Round) {
      if constexpr (is_float_v<T>) return cast<T>(rintf(x));
      else return v;
    } else if constexpr (op == UnaryOp::Sqrt) { return cast<T>(sqrtf(x));
    } else if constexpr (op == UnaryOp::Rsqrt) { return cast<T>(rsqrtf(x));
    } else if constexpr (op == UnaryOp::Reciprocal) { return cast<T>(1.0f / x);
    } else if constexpr (op == UnaryOp::Exp) { return cast<T>(expf(x));
    } else if constexpr (op == UnaryOp::Expm1) { return cast<T>(expm1f(x));
    } else if constexpr (op == UnaryOp::Log) { return cast<T>(logf(x));
    } else if constexpr (op == UnaryOp::Log1p) { return cast<T>(log1pf(x));
    } else if constexpr (op == UnaryOp::Log2) { return cast<T>(log2f(x));
    } else if constexpr (op == UnaryOp::Log10) { return cast<T>(log10f(x));
    } else if constexpr (op == UnaryOp::Sin) { return cast<T>(sinf(x));
    } else if constexpr (op == UnaryOp::Cos) { return cast<T>(cosf(x));
    } else if constexpr (op == UnaryOp::Tan) { return cast<T>(tanf(x));
    } else if constexpr (op == UnaryOp::ArcSin) { return cast<T>(asinf(x));
    } else if constexpr (op == UnaryOp::ArcCos) { return cast<T>(acosf(x));
    } else if constexpr (op == UnaryOp::ArcTan) { return cast<T>(atanf(x));
    } else if constexpr (op == UnaryOp::Sinh) { return cast<T>(sinhf(x));
    } else if constexpr (op == UnaryOp::Cosh) { return cast<T>(coshf(x));
    } else if constexpr (op == UnaryOp::Tanh) { return cast<T>(tanhf(x));
    } else if constexpr (op == UnaryOp::ArcSinh) { return cast<T>(asinhf(x));
    } else if constexpr (op == UnaryOp::ArcCosh) { return cast<T>(acoshf(x));
    } else if constexpr (op == UnaryOp::ArcTanh) { return cast<T>(atanhf(x));
    } else if constexpr (op == UnaryOp::Erf) { return cast<T>(erff(x));
    } else if constexpr (op == UnaryOp::ErfInv) { return cast<T>(erfinvf(x));
    } else if constexpr (op == UnaryOp::Sigmoid) { return cast<T>(1.0f / (1.0f + expf(-x)));
    } else if constexpr (op == UnaryOp::LogicalNot) { return !v;
    } else if constexpr (op == UnaryOp::BitwiseInvert) {
      if constexpr (std::is_same_v<T, bool>) return !v;
      else return static_cast<T>(~v);
    } else if constexpr (op == UnaryOp::Imag) {
      return cast<T>(0.0f);
    } else if constexpr (op == UnaryOp::IsNan) {
      if constexpr (is_float_v<T>) return x != x;
      else return false;
    } else if constexpr (op == UnaryOp::IsInf) {
      if constexpr (is_float_v<T>) return isinf(x);
      else return false;
    } else if constexpr (op == UnaryOp::IsPosInf) {
      if constexpr (is_float_v<T>) return isinf(x) && x > 0;
      else return false;
    } else if constexpr (op == UnaryOp::IsNegInf) {
      if constexpr (is_float_v<T>) return isinf(x) && x < 0;
      else return false;
    } else {
      return v;  // Copy, StopGradient, Conjugate and Real of real numbers
    }
  }
};

template <typename In, typename Out, typename F>
void run_map(const array& in, array& out, F f) {
  const In* x = in_ptr<In>(in);
  if (in.flags().contiguous && in.data_size() == in.size()) {
    // Dense in some order: map the buffer and keep its layout.
    Out* y = static_cast<Out*>(alloc_like(out, in));
    map1_contig(x, y, static_cast<int64_t>(in.data_size()), f);
    return;
  }
  Strided s;
  collapse(out.shape(), {&in}, s);
  Out* y = static_cast<Out*>(alloc_out(out));
  map1_strided(x, y, static_cast<int64_t>(out.size()), s, f);
}

template <UnaryOp op>
bool unary_op(const array& in, array& out) {
  bool ok = false;
  dispatch(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (supported<op, T>()) {
      using F = UnaryF<op, T>;
      using Out = typename F::Out;
      bool out_ok = std::is_same_v<Out, bool> ? out.dtype() == Dtype::bool_ : out.dtype() == in.dtype();
      if (!out_ok) return;
      Strided s;
      if (!(in.flags().contiguous && in.data_size() == in.size()) && !collapse(out.shape(), {&in}, s)) return;
      run_map<T, Out>(in, out, F{});
      ok = true;
    }
  });
  return ok;
}

bool eval_unary(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto op = static_cast<Unary&>(p).op();
  const array& in = inputs[0];
  // As on the CPU: stop_gradient and copies of row-contiguous data share the buffer; other
  // copies make the data row-contiguous.
  if (op == UnaryOp::StopGradient || (op == UnaryOp::Copy && in.flags().row_contiguous)) {
    outputs[0].copy_shared_buffer(in);
    return true;
  }
  if (op == UnaryOp::Copy) return copy_to_row_contiguous(in, outputs[0]);
  switch (op) {
#define MLX_UNARY(C, n) \
  case UnaryOp::C: return unary_op<UnaryOp::C>(inputs[0], outputs[0]);
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
  }
  return false;
}

// out (batch, R, C) row-major from x with x[b, r, c] at batch_offset(b) + r + c * sc.
template <typename In, typename Out, typename F>
__global__ void k_transpose(const In* __restrict__ x, Out* __restrict__ y, int64_t R, int64_t C, int64_t sc,
                            Strided b, F f) {
  __shared__ Out tile[32][33];
  int64_t bo = b.ndim > 0 ? strided_offset(b, 0, blockIdx.z) : 0;
  const In* xb = x + bo;
  Out* yb = y + int64_t(blockIdx.z) * R * C;
  int64_t r0 = int64_t(blockIdx.y) * 32, c0 = int64_t(blockIdx.x) * 32;
  // read: consecutive threads walk r (contiguous in x)
  for (int k = threadIdx.y; k < 32; k += 8) {
    int64_t c = c0 + k, r = r0 + threadIdx.x;
    if (r < R && c < C) tile[threadIdx.x][k] = f(xb[r + c * sc]);
  }
  __syncthreads();
  // write: consecutive threads walk c (contiguous in y)
  for (int k = threadIdx.y; k < 32; k += 8) {
    int64_t r = r0 + k, c = c0 + threadIdx.x;
    if (r < R && c < C) yb[r * C + c] = tile[k][threadIdx.x];
  }
}

template <typename In, typename Out>
struct CastF {
  __device__ __forceinline__ Out operator()(In x) const { return cast<Out>(x); }
};

bool eval_astype(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  Strided s;
  if (!(in.flags().contiguous && in.data_size() == in.size()) && !collapse(out.shape(), {&in}, s)) return false;
  bool ok = false;
  dispatch(in.dtype(), [&](auto ti) {
    using In = typename decltype(ti)::type;
    ok = dispatch(out.dtype(), [&](auto to) {
      using Out = typename decltype(to)::type;
      run_map<In, Out>(in, out, CastF<In, Out>{});
    });
  });
  return ok;
}

}  // namespace

MLX_CUDA_KERNEL(Unary, eval_unary);
MLX_CUDA_KERNEL(AsType, eval_astype);

// Copies `in` into `out` (same shape, any layout) as a row-contiguous array of out's dtype.
bool copy_to_row_contiguous(const array& in, array& out) {
  Strided s;
  if (!collapse(out.shape(), {&in}, s)) return false;
  if (out.size() == 0) {
    if (!dispatch(out.dtype(), [](auto) {})) return false;
    alloc_out(out);
    return true;
  }
  bool ok = false;
  dispatch(in.dtype(), [&](auto ti) {
    using In = typename decltype(ti)::type;
    ok = dispatch(out.dtype(), [&](auto to) {
      using Out = typename decltype(to)::type;
      const In* x = in_ptr<In>(in);
      Out* y = static_cast<Out*>(alloc_out(out));
      if (in.flags().row_contiguous && in.data_size() == in.size()) {
        map1_contig(x, y, static_cast<int64_t>(out.size()), CastF<In, Out>{});
      } else if (s.ndim >= 2 && s.strides[0][s.ndim - 2] == 1 && s.strides[0][s.ndim - 1] != 1 &&
                 (s.shape[s.ndim - 2] + 31) / 32 <= 65535 &&
                 static_cast<int64_t>(out.size()) / (s.shape[s.ndim - 2] * s.shape[s.ndim - 1]) <= 65535) {
        // A transpose of the last two collapsed dims (with batch dims before): tiled.
        int64_t R = s.shape[s.ndim - 2], C = s.shape[s.ndim - 1];
        int64_t batch = out.size() / std::max<int64_t>(R * C, 1);
        Strided b = s;  // batch layout: the leading dims
        b.ndim = s.ndim - 2;
        dim3 grid(static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>((R + 31) / 32),
                  static_cast<unsigned>(batch));
        k_transpose<<<grid, dim3(32, 8), 0, stream()>>>(x, y, R, C, s.strides[0][s.ndim - 1], b,
                                                       CastF<In, Out>{});
        check_launch("transpose kernel");
      } else {
        map1_strided(x, y, static_cast<int64_t>(out.size()), s, CastF<In, Out>{});
      }
    });
  });
  return ok;
}

}  // namespace mlx::core::cu

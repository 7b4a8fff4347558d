// Scans (cumsum, cumprod, cummax, cummin, logcumsumexp) on the GPU.
//
// Values are combined in an accumulator type A: float for the floating types; for integer
// sums and products the unsigned integer of 32 or 64 bits (wrapping, so the low bits equal the
// CPU's wrapped result in the narrow type); for max/min the 32-bit integer of the same
// signedness, or the 64-bit type. The identity of an exclusive scan is the identity of the
// element type (e.g. int8 cummin starts at 127), as on the CPU.
//
// Layouts (after a row-contiguous copy if needed), with the scan axis of length n:
// - inner == 1 (the axis is last): one block per row, cub::BlockScan over tiles with a running
//   prefix; a few very long rows: cub::DeviceScan per row on an accumulator copy.
// - inner > 1 with many lanes: one thread per (outer, inner) lane walks the axis (coalesced).
// - inner > 1 with few lanes: the axis is moved last by a transposed copy, scanned as rows,
//   and copied back.
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>

#include <climits>
#include <limits>

#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core::cu {

namespace {

template <ScanType R, typename T>
struct AccOf {
  using type = std::conditional_t<
      is_float_v<T>, float,
      std::conditional_t<
          (R == ScanType::Sum || R == ScanType::Prod || std::is_same_v<T, bool>),
          std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>,
          std::conditional_t<sizeof(T) == 8, T, std::conditional_t<std::is_signed_v<T>, int32_t, uint32_t>>>>;
};
template <ScanType R, typename T>
using acc_t = typename AccOf<R, T>::type;

template <typename T>
__host__ __device__ T lowest_of() {
  if constexpr (std::is_same_v<T, bool>) return false;
  else return std::numeric_limits<T>::lowest();
}
template <typename T>
__host__ __device__ T highest_of() {
  if constexpr (std::is_same_v<T, bool>) return true;
  else return std::numeric_limits<T>::max();
}

// The identity of scan R over element type T, as an accumulator value.
template <ScanType R, typename T, typename A>
__device__ __forceinline__ A identity() {
  if constexpr (R == ScanType::Sum) return A(0);
  else if constexpr (R == ScanType::Prod) return A(1);
  else if constexpr (is_float_v<T>) {
    return (R == ScanType::Min) ? A(INFINITY) : A(-INFINITY);
  } else if constexpr (R == ScanType::Max) {
    return static_cast<A>(lowest_of<T>());
  } else {
    return static_cast<A>(highest_of<T>());
  }
}

template <typename A, typename T>
__device__ __forceinline__ A to_acc(T x) {
  if constexpr (is_half_v<T>) return static_cast<float>(x);
  else if constexpr (std::is_same_v<T, bool>) return x ? A(1) : A(0);
  else return static_cast<A>(x);
}
template <typename T, typename A>
__device__ __forceinline__ T from_acc(A a) {
  if constexpr (is_half_v<T>) return T(a);
  else if constexpr (std::is_same_v<T, bool>) return a != A(0);
  else return static_cast<T>(a);
}

// The combine of scan R on accumulators; `a` is the earlier (left) operand.
template <ScanType R, typename A>
struct Op {
  __device__ __forceinline__ A operator()(const A& a, const A& b) const {
    if constexpr (R == ScanType::Sum) {
      return a + b;
    } else if constexpr (R == ScanType::Prod) {
      return a * b;
    } else if constexpr (R == ScanType::Max) {
      if constexpr (std::is_floating_point_v<A>) return (b > a || b != b) ? b : a;
      else return b > a ? b : a;
    } else if constexpr (R == ScanType::Min) {
      if constexpr (std::is_floating_point_v<A>) return (b < a || b != b) ? b : a;
      else return b < a ? b : a;
    } else {
      if (a == -INFINITY) return b;
      if (b == -INFINITY) return a;
      if (a == b) return a + 0.69314718055994530942f;
      A hi = a > b ? a : b;
      A d = a > b ? b - a : a - b;
      return hi + log1pf(expf(d));
    }
  }
};

// Index of logical position i of a row of n (reverse scans walk from the end).
__device__ __forceinline__ int64_t pos(int64_t i, int64_t n, bool reverse) { return reverse ? n - 1 - i : i; }

template <typename A, typename F>
struct RunningPrefix {
  A running;
  F op;
  __device__ __forceinline__ A operator()(A aggregate) {
    A old = running;
    running = op(running, aggregate);
    return old;
  }
};

// One block per row of n contiguous elements.
template <ScanType R, typename T, int TH, int IPT>
__global__ void __launch_bounds__(TH) k_scan_rows(const T* __restrict__ x, T* __restrict__ y, int64_t n, bool reverse,
                                                  bool inclusive) {
  using A = acc_t<R, T>;
  using BS = cub::BlockScan<A, TH>;
  __shared__ typename BS::TempStorage tmp;
  const T* xr = x + int64_t(blockIdx.x) * n;
  T* yr = y + int64_t(blockIdx.x) * n;
  Op<R, A> op;
  A id = identity<R, T, A>();
  RunningPrefix<A, Op<R, A>> prefix{id, op};
  for (int64_t t0 = 0; t0 < n; t0 += int64_t(TH) * IPT) {
    A v[IPT], o[IPT];
#pragma unroll
    for (int j = 0; j < IPT; ++j) {
      int64_t i = t0 + int64_t(threadIdx.x) * IPT + j;
      v[j] = i < n ? to_acc<A>(xr[pos(i, n, reverse)]) : id;
    }
    if (inclusive) BS(tmp).InclusiveScan(v, o, op, prefix);
    else BS(tmp).ExclusiveScan(v, o, op, prefix);
#pragma unroll
    for (int j = 0; j < IPT; ++j) {
      int64_t i = t0 + int64_t(threadIdx.x) * IPT + j;
      if (i < n) yr[pos(i, n, reverse)] = from_acc<T>(o[j]);
    }
    __syncthreads();  // tmp is reused by the next tile
  }
}

// One thread per lane (o, k) of an (outer, n, inner) array, walking the axis.
template <ScanType R, typename T>
__global__ void k_scan_lanes(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t n, int64_t inner,
                             bool reverse, bool inclusive) {
  using A = acc_t<R, T>;
  int64_t lane = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (lane >= outer * inner) return;
  int64_t o = lane / inner, k = lane % inner;
  const T* xl = x + o * n * inner + k;
  T* yl = y + o * n * inner + k;
  Op<R, A> op;
  A acc = identity<R, T, A>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t p = pos(i, n, reverse) * inner;
    A v = to_acc<A>(xl[p]);
    if (inclusive) {
      acc = op(acc, v);
      yl[p] = from_acc<T>(acc);
    } else {
      yl[p] = from_acc<T>(acc);
      acc = op(acc, v);
    }
  }
}

// ---- one long row: cub::DeviceScan on accumulators ----
template <typename A, typename T>
__global__ void k_row_to_acc(const T* __restrict__ x, A* __restrict__ a, int64_t n, bool reverse) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) a[i] = to_acc<A>(x[pos(i, n, reverse)]);
}
template <ScanType R, typename T, typename A>
__global__ void k_acc_to_row(const A* __restrict__ a, T* __restrict__ y, int64_t n, bool reverse, bool inclusive) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  A v = inclusive ? a[i] : (i == 0 ? identity<R, T, A>() : a[i - 1]);
  y[pos(i, n, reverse)] = from_acc<T>(v);
}

template <ScanType R, typename T>
void device_scan_rows(const T* x, T* y, int64_t rows, int64_t n, bool reverse, bool inclusive) {
  using A = acc_t<R, T>;
  size_t abytes = sizeof(A) * n;
  A* acc = static_cast<A*>(dev_malloc(abytes));
  size_t tbytes = 0;
  MLX_CUDA_CHECK(cub::DeviceScan::InclusiveScan(nullptr, tbytes, acc, acc, Op<R, A>{}, n, stream()));
  tbytes = std::max<size_t>(tbytes, 1);
  void* tmp = dev_malloc(tbytes);
  for (int64_t r = 0; r < rows; ++r) {
    k_row_to_acc<A, T><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(x + r * n, acc, n, reverse);
    check_launch("scan load");
    size_t b = tbytes;
    MLX_CUDA_CHECK(cub::DeviceScan::InclusiveScan(tmp, b, acc, acc, Op<R, A>{}, n, stream()));
    check_launch("cub scan");
    k_acc_to_row<R, T, A><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(acc, y + r * n, n, reverse, inclusive);
    check_launch("scan store");
  }
  dev_free(tmp, tbytes);
  dev_free(acc, abytes);
}

template <ScanType R, typename T>
void scan_rows(const T* x, T* y, int64_t rows, int64_t n, bool reverse, bool inclusive) {
  int sms = props().multiProcessorCount;
  if (n >= (1 << 16) && rows <= sms / 4) {
    device_scan_rows<R, T>(x, y, rows, n, reverse, inclusive);
    return;
  }
  unsigned g = static_cast<unsigned>(rows);
  if (n <= 128) k_scan_rows<R, T, 32, 4><<<g, 32, 0, stream()>>>(x, y, n, reverse, inclusive);
  else if (n <= 1024) k_scan_rows<R, T, 128, 4><<<g, 128, 0, stream()>>>(x, y, n, reverse, inclusive);
  else k_scan_rows<R, T, 256, 4><<<g, 256, 0, stream()>>>(x, y, n, reverse, inclusive);
  check_launch("scan rows");
}

template <ScanType R, typename T>
void scan_lanes(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool reverse, bool inclusive) {
  k_scan_lanes<R, T><<<blocks_for(outer * inner, kThreads), kThreads, 0, stream()>>>(x, y, outer, n, inner, reverse,
                                                                                      inclusive);
  check_launch("scan lanes");
}

bool row_major(const array& a) { return a.flags().row_contiguous && a.data_size() == a.size(); }

// Calls f(Tag<T>) for the dtypes scan R handles on the GPU; false otherwise.
template <ScanType R, typename F>
bool dispatch_scan(Dtype t, F&& f) {
  if constexpr (R == ScanType::LogAddExp) return dispatch_float(t, f);
  else return dispatch(t, f);
}

template <ScanType R>
bool scan_typed(const Scan& sp, const array& in_arg, array& out) {
  if (!dispatch_scan<R>(in_arg.dtype(), [](auto) {})) return false;
  if (out.dtype() != in_arg.dtype()) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  int nd = static_cast<int>(in_arg.ndim());
  int axis = sp.axis_;
  int64_t outer = 1, n = in_arg.shape(axis), inner = 1;
  for (int i = 0; i < axis; ++i) outer *= in_arg.shape(i);
  for (int i = axis + 1; i < nd; ++i) inner *= in_arg.shape(i);
  if (outer * inner > INT_MAX) return false;  // grid limits of the row kernel
  bool rev = sp.reverse_, inc = sp.inclusive_;
  bool lanes = inner > 1 && (outer * inner >= (1 << 16) || n <= 16);
  if (inner == 1 || lanes) {
    array in = in_arg;
    if (!row_major(in)) {
      array tmp(in.shape(), in.dtype(), nullptr, {});
      if (!copy_to_row_contiguous(in, tmp)) return false;
      in = tmp;
    }
    return dispatch_scan<R>(in.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in_ptr<T>(in);
      T* y = static_cast<T*>(alloc_out(out));
      if (inner == 1) scan_rows<R, T>(x, y, outer, n, rev, inc);
      else scan_lanes<R, T>(x, y, outer, n, inner, rev, inc);
    });
  }
  // Few long lanes: move the axis last, scan rows, move it back.
  return on_axis_last(in_arg, out, axis, [&](const array& tin, array& tout) {
    return dispatch_scan<R>(tin.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = in_ptr<T>(tin);
      T* y = static_cast<T*>(alloc_out(tout));
      scan_rows<R, T>(x, y, outer * inner, n, rev, inc);
    });
  });
}

bool eval_scan(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& sp = static_cast<Scan&>(p);
  switch (sp.type_) {
    case ScanType::Sum: return scan_typed<ScanType::Sum>(sp, inputs[0], outputs[0]);
    case ScanType::Prod: return scan_typed<ScanType::Prod>(sp, inputs[0], outputs[0]);
    case ScanType::Max: return scan_typed<ScanType::Max>(sp, inputs[0], outputs[0]);
    case ScanType::Min: return scan_typed<ScanType::Min>(sp, inputs[0], outputs[0]);
    case ScanType::LogAddExp: return scan_typed<ScanType::LogAddExp>(sp, inputs[0], outputs[0]);
  }
  return false;
}

}  // namespace

MLX_CUDA_KERNEL(Scan, eval_scan);

}  // namespace mlx::core::cu

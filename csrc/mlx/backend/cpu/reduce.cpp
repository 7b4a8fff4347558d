// Reductions, arg-reductions and the fused softmax.
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "mlx/backend/cpu/simd_math.h"
#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/primitives.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

template <typename A>
A lowest() {
  if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
  else return std::numeric_limits<A>::lowest();
}
template <typename A>
A highest() {
  if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
  else return std::numeric_limits<A>::max();
}

template <ReduceType R, typename A>
struct Op {
  static A init() {
    if constexpr (R == ReduceType::Sum || R == ReduceType::Or) return A(0);
    else if constexpr (R == ReduceType::Prod || R == ReduceType::And) return A(1);
    else if constexpr (R == ReduceType::Max) {
      if constexpr (is_cplx<A>::value) return A(-INFINITY, 0); else return lowest<A>();
    } else {
      if constexpr (is_cplx<A>::value) return A(INFINITY, 0); else return highest<A>();
    }
  }
  static A combine(A acc, A x) {
    if constexpr (R == ReduceType::Sum) {
      if constexpr (std::is_same_v<A, bool>) return acc || x; else return static_cast<A>(acc + x);
    } else if constexpr (R == ReduceType::Prod) {
      if constexpr (std::is_same_v<A, bool>) return acc && x; else return static_cast<A>(acc * x);
    } else if constexpr (R == ReduceType::And) {
      return static_cast<A>(acc && x);
    } else if constexpr (R == ReduceType::Or) {
      return static_cast<A>(acc || x);
    } else if constexpr (R == ReduceType::Max) {
      // Complex: lexicographic; a NaN real part gives NaN (as MLX).
      if constexpr (is_cplx<A>::value) {
        if (acc.real() != acc.real()) return acc;
        if (x.real() != x.real()) return A(NAN, 0.0f);
        return (x.real() > acc.real() || (x.real() == acc.real() && x.imag() > acc.imag())) ? x : acc;
      } else if constexpr (std::is_floating_point_v<A>) return (x > acc || x != x) ? x : acc;
      else return x > acc ? x : acc;
    } else {
      if constexpr (is_cplx<A>::value) {
        if (acc.real() != acc.real()) return acc;
        if (x.real() != x.real()) return A(NAN, 0.0f);
        return (x.real() < acc.real() || (x.real() == acc.real() && x.imag() < acc.imag())) ? x : acc;
      } else if constexpr (std::is_floating_point_v<A>) return (x < acc || x != x) ? x : acc;
      else return x < acc ? x : acc;
    }
  }
};

// Reduces n contiguous values; float sums use 8 independent lanes in blocks for accuracy and speed.
template <ReduceType R, typename T, typename A>
A reduce_row(const T* x, size_t n) {
  using O = Op<R, A>;
  if constexpr (R == ReduceType::Sum && std::is_floating_point_v<A>) {
    A total = 0;
    constexpr size_t B = 2048;
    for (size_t s = 0; s < n; s += B) {
      size_t e = std::min(n, s + B);
      // 32 lanes: four independent vector accumulators hide the add latency.
      A lanes[32] = {};
      size_t i = s;
      for (; i + 32 <= e; i += 32)
        for (int l = 0; l < 32; ++l) lanes[l] += static_cast<A>(x[i + l]);
      A blk = 0;
      for (; i < e; ++i) blk += static_cast<A>(x[i]);
      for (int l = 0; l < 32; ++l) blk += lanes[l];
      total += blk;
    }
    return total;
  } else if constexpr ((R == ReduceType::Max || R == ReduceType::Min) && std::is_floating_point_v<A>) {
    A lanes[16];
    for (auto& l : lanes) l = O::init();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; ++l) lanes[l] = O::combine(lanes[l], static_cast<A>(x[i + l]));
    A acc = O::init();
    for (; i < n; ++i) acc = O::combine(acc, static_cast<A>(x[i]));
    for (int l = 0; l < 16; ++l) acc = O::combine(acc, lanes[l]);
    return acc;
  } else {
    A acc = O::init();
    for (size_t i = 0; i < n; ++i) acc = O::combine(acc, static_cast<A>(x[i]));
    return acc;
  }
}

template <ReduceType R, typename T>
void reduce_impl(const array& in_arr, array& out, const std::vector<int>& axes) {
  using A = std::conditional_t<R == ReduceType::And || R == ReduceType::Or, bool, acc_t<T>>;
  using O = Op<R, A>;
  int nd = static_cast<int>(in_arr.ndim());
  std::vector<bool> red(nd, false);
  for (int a : axes) red[a] = true;
  // Collapse the problem to (outer, R, inner) blocks when the reduced axes are adjacent.
  array in = in_arr;
  int first = axes.front(), last = axes.back();
  bool adjacent = last - first + 1 == static_cast<int>(axes.size());
  if (!in.flags().row_contiguous || !adjacent) {
    // Move reduced axes last, copy, and reduce rows.
    std::vector<int> perm;
    for (int i = 0; i < nd; ++i) if (!red[i]) perm.push_back(i);
    for (int i = 0; i < nd; ++i) if (red[i]) perm.push_back(i);
    Shape psh(nd);
    Strides pst(nd);
    for (int i = 0; i < nd; ++i) { psh[i] = in.shape(perm[i]); pst[i] = in.strides(perm[i]); }
    array view(psh, in.dtype(), nullptr, {});
    view.copy_shared_buffer(in, pst, Flags{false, false, false}, in.data_size(), 0);
    array tmp = cpu::ensure_row_contiguous(view);
    in = tmp;
    first = nd - static_cast<int>(axes.size());
    last = nd - 1;
  }
  size_t outer = 1, rsize = 1, inner = 1;
  for (int i = 0; i < first; ++i) outer *= in.shape(i);
  for (int i = first; i <= last; ++i) rsize *= in.shape(i);
  for (int i = last + 1; i < nd; ++i) inner *= in.shape(i);
  const T* x = in.data<T>();
  cpu::alloc_out(out);
  T* o = out.data<T>();
  if (out.size() == 0) return;
  if (inner == 1) {
    if (outer >= static_cast<size_t>(cpu::num_threads()) || rsize < 2 * cpu::kElemGrain) {
      size_t grain = std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(rsize, 1));
      cpu::parallel_for(outer, grain, [&](size_t b, size_t e) {
        for (size_t r = b; r < e; ++r) o[r] = cast_to<T>(reduce_row<R, T, A>(x + r * rsize, rsize));
      });
    } else {
      // Few long rows: split each row across threads.
      size_t nchunk = static_cast<size_t>(cpu::num_threads()) * 4;
      std::unique_ptr<A[]> part(new A[nchunk]);
      for (size_t r = 0; r < outer; ++r) {
        const T* row = x + r * rsize;
        cpu::parallel_for(nchunk, 1, [&](size_t b, size_t e) {
          for (size_t c = b; c < e; ++c) {
            size_t s0 = rsize * c / nchunk, s1 = rsize * (c + 1) / nchunk;
            part[c] = reduce_row<R, T, A>(row + s0, s1 - s0);
          }
        });
        A acc = O::init();
        for (size_t c = 0; c < nchunk; ++c) acc = O::combine(acc, part[c]);
        o[r] = cast_to<T>(acc);
      }
    }
    return;
  }
  // Column reduction: accumulate rows of `inner` values in bands that stay in L1.
  size_t blk = 1024;
  size_t nblk = (inner + blk - 1) / blk;
  cpu::parallel_for(outer * nblk, std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(rsize * blk, 1)),
               [&](size_t b, size_t e) {
                 std::unique_ptr<A[]> acc(new A[blk]);
                 for (size_t t = b; t < e; ++t) {
                   size_t ob = t / nblk, ib = (t % nblk) * blk;
                   size_t w = std::min(blk, inner - ib);
                   for (size_t j = 0; j < w; ++j) acc[j] = O::init();
                   const T* base = x + ob * rsize * inner + ib;
                   size_t r = 0;
                   // Four rows per pass: one load and store of the accumulators per four rows.
                   for (; r + 4 <= rsize; r += 4) {
                     const T* r0 = base + r * inner;
                     const T* r1 = r0 + inner;
                     const T* r2 = r1 + inner;
                     const T* r3 = r2 + inner;
                     for (size_t j = 0; j < w; ++j)
                       acc[j] = O::combine(O::combine(acc[j], static_cast<A>(r0[j])),
                                           O::combine(O::combine(static_cast<A>(r1[j]), static_cast<A>(r2[j])),
                                                      static_cast<A>(r3[j])));
                   }
                   for (; r < rsize; ++r) {
                     const T* row = base + r * inner;
                     for (size_t j = 0; j < w; ++j) acc[j] = O::combine(acc[j], static_cast<A>(row[j]));
                   }
                   T* dst = o + ob * inner + ib;
                   for (size_t j = 0; j < w; ++j) dst[j] = cast_to<T>(acc[j]);
                 }
               });
}

template <ReduceType R>
void reduce_dispatch(const array& in, array& out, const std::vector<int>& axes) {
  if constexpr (R == ReduceType::And || R == ReduceType::Or) {
    reduce_impl<R, bool>(in, out, axes);
  } else {
    MLX_DISPATCH_ALL(in.dtype(), { reduce_impl<R, T>(in, out, axes); });
  }
}

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.size() == 0) {
    // Empty reductions give the identity.
    cpu::alloc_out(out);
    MLX_DISPATCH_ALL(out.dtype(), {
      T v = (type_ == ReduceType::Prod || type_ == ReduceType::And) ? cast_to<T>(1) : cast_to<T>(0);
      T* o = out.data<T>();
      for (size_t i = 0; i < out.size(); ++i) o[i] = v;
    });
    return;
  }
  switch (type_) {
    case ReduceType::Sum: reduce_dispatch<ReduceType::Sum>(in, out, axes_); break;
    case ReduceType::Prod: reduce_dispatch<ReduceType::Prod>(in, out, axes_); break;
    case ReduceType::Max: reduce_dispatch<ReduceType::Max>(in, out, axes_); break;
    case ReduceType::Min: reduce_dispatch<ReduceType::Min>(in, out, axes_); break;
    case ReduceType::And: reduce_dispatch<ReduceType::And>(in, out, axes_); break;
    case ReduceType::Or: reduce_dispatch<ReduceType::Or>(in, out, axes_); break;
  }
}

namespace {
template <typename T>
void argreduce_impl(const array& in, uint32_t* o, size_t outer, size_t n, size_t inner, bool is_max) {
  using A = acc_t<T>;
  const T* x = in.data<T>();
  cpu::parallel_for(outer * inner, std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(n, 1)), [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      size_t ob = t / inner, ib = t % inner;
      const T* p = x + ob * n * inner + ib;
      uint32_t best = 0;
      A bv = static_cast<A>(p[0]);
      for (size_t i = 1; i < n; ++i) {
        A v = static_cast<A>(p[i * inner]);
        bool better;
        if constexpr (is_cplx<A>::value) {
          better = is_max ? (v.real() > bv.real() || (v.real() == bv.real() && v.imag() > bv.imag()))
                          : (v.real() < bv.real() || (v.real() == bv.real() && v.imag() < bv.imag()));
        } else if constexpr (std::is_floating_point_v<A>) {
          better = (bv == bv) && (is_max ? (v > bv || v != v) : (v < bv || v != v));
        } else {
          better = is_max ? v > bv : v < bv;
        }
        if (better) { bv = v; best = static_cast<uint32_t>(i); }
      }
      o[t] = best;
    }
  });
}
}  // namespace

void ArgReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::ensure_row_contiguous(inputs[0]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  size_t outer = 1, n = in.shape(axis_), inner = 1;
  for (int i = 0; i < axis_; ++i) outer *= in.shape(i);
  for (size_t i = axis_ + 1; i < in.ndim(); ++i) inner *= in.shape(i);
  uint32_t* o = out.data<uint32_t>();
  bool is_max = type_ == ArgReduceType::ArgMax;
  MLX_DISPATCH_ALL(in.dtype(), { argreduce_impl<T>(in, o, outer, n, inner, is_max); });
}

namespace {
template <typename T>
void softmax_rows(const T* x, T* o, size_t rows, size_t n) {
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  cpu::parallel_for(rows, std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(n, 1)), [&](size_t b, size_t e) {
    std::vector<A> buf(n);
    for (size_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      T* orow = o + r * n;
      if constexpr (std::is_same_v<A, float>) {
        // Vectorized: max, exp(x - max) with its sum, scale. float rows go from the input to
        // the output; half rows are widened into buf first and work there.
        const float* in;
        float* w;
        if constexpr (std::is_same_v<T, float>) {
          in = xr;
          w = orow;
        } else {
          for (size_t i = 0; i < n; ++i) buf[i] = static_cast<A>(xr[i]);
          in = w = buf.data();
        }
        float m = simd::max_span(in, n, -std::numeric_limits<float>::infinity());
        if (m == -std::numeric_limits<float>::infinity()) m = 0;
        float inv = 1.0f / simd::exp_shift_sum(in, w, n, m);
        if constexpr (std::is_same_v<T, float>) simd::scale_span(orow, n, inv);
        else for (size_t i = 0; i < n; ++i) orow[i] = static_cast<T>(buf[i] * inv);
      } else {
        A m = -std::numeric_limits<A>::infinity();
        for (size_t i = 0; i < n; ++i) { A v = static_cast<A>(xr[i]); m = v > m ? v : m; }
        if (m == -std::numeric_limits<A>::infinity()) m = 0;
        A s = 0;
        for (size_t i = 0; i < n; ++i) {
          A v = std::exp(static_cast<A>(xr[i]) - m);
          buf[i] = v;
          s += v;
        }
        A inv = A(1) / s;
        for (size_t i = 0; i < n; ++i) orow[i] = static_cast<T>(buf[i] * inv);
      }
    }
  });
}
}  // namespace

void Softmax::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::ensure_row_contiguous(inputs[0]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  size_t n = in.shape(-1);
  size_t rows = n ? in.size() / n : 0;
  switch (in.dtype()) {
    case float32: softmax_rows(in.data<float>(), out.data<float>(), rows, n); break;
    case float64: softmax_rows(in.data<double>(), out.data<double>(), rows, n); break;
    case float16: softmax_rows(in.data<float16_t>(), out.data<float16_t>(), rows, n); break;
    case bfloat16: softmax_rows(in.data<bfloat16_t>(), out.data<bfloat16_t>(), rows, n); break;
    default: throw std::runtime_error(msg("[softmax] unsupported dtype ", in.dtype(), "."));
  }
}

}  // namespace mlx::core

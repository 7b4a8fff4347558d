// Gather/scatter kernels. Indices wrap once when negative and are clamped into range.
#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/primitives.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

template <typename I>
inline int64_t norm_index(I v, int64_t n) {
  int64_t i = static_cast<int64_t>(v);
  if constexpr (std::is_signed_v<I>) if (i < 0) i += n;
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

template <typename T>
inline void scatter_one(T& dst, T v, ScatterMode mode) {
  using A = acc_t<T>;
  switch (mode) {
    case ScatterMode::None: dst = v; break;
    case ScatterMode::Add:
      if constexpr (std::is_same_v<T, bool>) dst = dst || v;
      else dst = static_cast<T>(static_cast<A>(dst) + static_cast<A>(v));
      break;
    case ScatterMode::Prod:
      if constexpr (std::is_same_v<T, bool>) dst = dst && v;
      else dst = static_cast<T>(static_cast<A>(dst) * static_cast<A>(v));
      break;
    case ScatterMode::Max:
      if constexpr (!is_cplx<T>::value) { if (static_cast<A>(v) > static_cast<A>(dst) || v != v) dst = v; }
      break;
    case ScatterMode::Min:
      if constexpr (!is_cplx<T>::value) { if (static_cast<A>(v) < static_cast<A>(dst) || v != v) dst = v; }
      break;
  }
}

void outer_inner(const array& a, int axis, size_t& outer, size_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < axis; ++i) outer *= a.shape(i);
  for (size_t i = axis + 1; i < a.ndim(); ++i) inner *= a.shape(i);
}

// Returns a row-contiguous copy of `a` in out's buffer (or donates a's buffer).
void init_from_source(const array& a, array& out) {
  if (a.is_donatable()) {
    out.copy_shared_buffer(a);
  } else {
    cpu::alloc_out(out);
    cpu::copy_to_contiguous(a, out);
  }
}

}  // namespace

void Gather::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = cpu::ensure_row_contiguous(inputs[0]);
  array idx = cpu::ensure_row_contiguous(inputs[1]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  size_t outer, inner;
  outer_inner(a, axis_, outer, inner);
  int64_t n = a.shape(axis_);
  size_t m = idx.size();
  size_t isz = a.itemsize();
  const char* src = static_cast<const char*>(a.data<void>());
  char* dst = static_cast<char*>(out.raw_ptr());
  MLX_DISPATCH_INT(idx.dtype(), {
    const T* ip = idx.data<T>();
    cpu::parallel_for(outer * m, std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(inner, 1)), [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) {
        size_t o = t / m, j = t % m;
        int64_t k = norm_index(ip[j], n);
        std::memcpy(dst + t * inner * isz, src + (o * n + k) * inner * isz, inner * isz);
      }
    });
  });
}

void Scatter::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array idx = cpu::ensure_row_contiguous(inputs[1]);
  array upd = cpu::ensure_row_contiguous(inputs[2]);
  auto& out = outputs[0];
  init_from_source(inputs[0], out);
  if (upd.size() == 0 || out.size() == 0) return;
  size_t outer, inner;
  outer_inner(out, axis_, outer, inner);
  int64_t n = out.shape(axis_);
  size_t m = idx.size();
  MLX_DISPATCH_ALL(out.dtype(), {
    using V = T;
    V* o = out.data<V>();
    const V* u = upd.data<V>();
    MLX_DISPATCH_INT(idx.dtype(), {
      const T* ip = idx.data<T>();
      for (size_t oo = 0; oo < outer; ++oo)
        for (size_t j = 0; j < m; ++j) {
          int64_t k = norm_index(ip[j], n);
          V* d = o + (oo * n + k) * inner;
          const V* s = u + (oo * m + j) * inner;
          for (size_t i = 0; i < inner; ++i) scatter_one<V>(d[i], s[i], mode_);
        }
    });
  });
}

void GatherAxis::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = cpu::ensure_row_contiguous(inputs[0]);
  array idx = cpu::ensure_row_contiguous(inputs[1]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  size_t outer, inner;
  outer_inner(a, axis_, outer, inner);
  int64_t na = a.shape(axis_), ni = idx.shape(axis_);
  MLX_DISPATCH_ALL(a.dtype(), {
    using V = T;
    const V* src = a.data<V>();
    V* dst = out.data<V>();
    MLX_DISPATCH_INT(idx.dtype(), {
      const T* ip = idx.data<T>();
      cpu::parallel_for(outer, 1, [&](size_t b, size_t e) {
        for (size_t o = b; o < e; ++o)
          for (int64_t j = 0; j < ni; ++j)
            for (size_t i = 0; i < inner; ++i) {
              size_t p = (o * ni + j) * inner + i;
              dst[p] = src[(o * na + norm_index(ip[p], na)) * inner + i];
            }
      });
    });
  });
}

void ScatterAxis::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array idx = cpu::ensure_row_contiguous(inputs[1]);
  array upd = cpu::ensure_row_contiguous(inputs[2]);
  auto& out = outputs[0];
  init_from_source(inputs[0], out);
  if (upd.size() == 0 || out.size() == 0) return;
  size_t outer, inner;
  outer_inner(out, axis_, outer, inner);
  int64_t na = out.shape(axis_), ni = idx.shape(axis_);
  MLX_DISPATCH_ALL(out.dtype(), {
    using V = T;
    V* dst = out.data<V>();
    const V* u = upd.data<V>();
    MLX_DISPATCH_INT(idx.dtype(), {
      const T* ip = idx.data<T>();
      for (size_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < ni; ++j)
          for (size_t i = 0; i < inner; ++i) {
            size_t p = (o * ni + j) * inner + i;
            scatter_one<V>(dst[(o * na + norm_index(ip[p], na)) * inner + i], u[p], mode_);
          }
    });
  });
}

}  // namespace mlx::core

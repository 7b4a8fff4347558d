// Copies, casts and view primitives (reshape, transpose, broadcast, slice, as_strided).
#include <cstring>
#include <numeric>

#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/primitives.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace cpu {

namespace {

Flags flags_for(const Shape& shape, const Strides& strides) {
  Flags f;
  int64_t expect = 1;
  f.row_contiguous = true;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) { f.row_contiguous = false; break; }
    expect *= shape[i];
  }
  expect = 1;
  f.col_contiguous = true;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) { f.col_contiguous = false; break; }
    expect *= shape[i];
  }
  f.contiguous = f.row_contiguous || f.col_contiguous;
  return f;
}

// Elements spanned by a view with non-negative strides.
size_t span_of(const Shape& shape, const Strides& strides) {
  size_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return 0;
    span += static_cast<size_t>(shape[i] - 1) * static_cast<size_t>(std::abs(strides[i]));
  }
  return span;
}

template <typename In, typename Out>
void copy_rows(const array& in, array& out, const Shape& shape, const Strides& ost, int64_t ooff) {
  const In* src = in.data<In>();
  Out* dst = out.data<Out>() + ooff;
  std::array<Strides, 2> st{in.strides(), ost};
  Shape sh = shape;
  // Cache-blocked path for transposing copies of one type.
  if constexpr (std::is_same_v<In, Out>) {
    Shape cs = sh;
    auto cst = st;
    collapse(cs, cst);
    int nd = static_cast<int>(cs.size());
    if (nd >= 2 && cst[1][nd - 1] == 1 && cst[0][nd - 1] != 1 && cst[0][nd - 2] == 1 &&
        cs[nd - 1] >= 16 && cs[nd - 2] >= 16) {
      int64_t A = cs[nd - 2], B = cs[nd - 1];
      int64_t isA = cst[0][nd - 2], isB = cst[0][nd - 1], osA = cst[1][nd - 2];
      int64_t outer = 1;
      for (int i = 0; i < nd - 2; ++i) outer *= cs[i];
      constexpr int64_t T = 32;
      int64_t tilesA = (A + T - 1) / T, tilesB = (B + T - 1) / T;
      parallel_for(outer * tilesA, 4, [&](size_t t0, size_t t1) {
        for (size_t t = t0; t < t1; ++t) {
          int64_t o = static_cast<int64_t>(t) / tilesA, ta = static_cast<int64_t>(t) % tilesA;
          int64_t ioff = 0, ooff2 = 0, rem = o;
          for (int i = nd - 3; i >= 0; --i) {
            int64_t idx = rem % cs[i];
            rem /= cs[i];
            ioff += idx * cst[0][i];
            ooff2 += idx * cst[1][i];
          }
          int64_t a0 = ta * T, na = std::min(A - a0, T);
          // Each tile goes through an L1 buffer: read down the source's contiguous dim, then
          // written out row by row (reading or writing across rows directly touches one line
          // per element, and power-of-two strides crowd those lines into a few cache sets).
          alignas(64) In buf[T * T];
          for (int64_t tb = 0; tb < tilesB; ++tb) {
            int64_t b0 = tb * T, nb = std::min(B - b0, T);
            const In* s = src + ioff + a0 * isA + b0 * isB;
            for (int64_t b = 0; b < nb; ++b)
              for (int64_t a = 0; a < na; ++a) buf[a * T + b] = s[a + b * isB];
            for (int64_t a = 0; a < na; ++a)
              std::memcpy(dst + ooff2 + (a0 + a) * osA + b0, buf + a * T, nb * sizeof(In));
          }
        }
      });
      return;
    }
  }
  for_each_row<2>(sh, st, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& is) {
    const In* s = src + off[0];
    Out* d = dst + off[1];
    if (is[0] == 1 && is[1] == 1) {
      if constexpr (std::is_same_v<In, Out>) {
        std::memcpy(d, s, n * sizeof(In));
      } else {
        for (int64_t i = 0; i < n; ++i) d[i] = cast_to<Out>(s[i]);
      }
    } else if (is[0] == 0) {
      Out v = cast_to<Out>(s[0]);
      for (int64_t i = 0; i < n; ++i) d[i * is[1]] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * is[1]] = cast_to<Out>(s[i * is[0]]);
    }
  });
}

void copy_general(const array& in, array& out, const Shape& shape, const Strides& ost, int64_t ooff) {
  MLX_DISPATCH_ALL(in.dtype(), {
    using In = T;
    MLX_DISPATCH_ALL(out.dtype(), { copy_rows<In, T>(in, out, shape, ost, ooff); });
  });
}

}  // namespace

void alloc_like(array& out, const array& in) {
  if (in.is_donatable() && in.itemsize() == out.itemsize()) {
    out.copy_shared_buffer(in);
    return;
  }
  if (in.flags().row_contiguous) {
    alloc_out(out);
    return;
  }
  auto buf = allocator::malloc(std::max<size_t>(in.data_size() * out.itemsize(), 1));
  out.set_data(std::make_shared<Data>(buf), in.data_size(), in.strides(), in.flags());
}

void copy_to_contiguous(const array& in, array& out) {
  if (in.size() == 0) return;
  copy_general(in, out, in.shape(), out.strides(), 0);
}

array ensure_row_contiguous(const array& in) {
  if (in.flags().row_contiguous) return in;
  array out(in.shape(), in.dtype(), nullptr, {});
  alloc_out(out);
  copy_to_contiguous(in, out);
  return out;
}

void copy_strided(const array& src, array& dst, const Shape& shape, const Strides& dst_strides,
                  int64_t dst_offset) {
  if (shape_size(shape) == 0) return;
  copy_general(src, dst, shape, dst_strides, dst_offset);
}

// Makes `out` a view of `in` with the given strides and offset (elements of out's dtype).
void make_view(const array& in, array& out, const Strides& strides, int64_t offset) {
  Flags f = flags_for(out.shape(), strides);
  size_t ds = f.contiguous ? out.size() : span_of(out.shape(), strides);
  out.copy_shared_buffer(in, strides, f, ds, offset);
}

}  // namespace cpu

using namespace cpu;

namespace {

// d[i] = cast(s[i]). Bools are read as bytes: the loop on bool loads does not vectorize, and
// a bool to float mask (the vjp of relu, say) was six times slower than a multiply.
template <typename In, typename Out>
void cast_span(const In* s, Out* d, size_t n) {
  if constexpr (std::is_same_v<In, bool> && !std::is_same_v<Out, bool> && std::is_arithmetic_v<Out>) {
    const uint8_t* u = reinterpret_cast<const uint8_t*>(s);
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<Out>(u[i]);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(s[i]);
  }
}

}  // namespace

void AsType::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.data_size() == 1 && out.size() > 1) {
    // One broadcast value: cast it once and keep the broadcast layout.
    out.set_data(std::make_shared<Data>(allocator::malloc(out.itemsize())), 1, in.strides(), in.flags());
    MLX_DISPATCH_ALL(in.dtype(), {
      using In = T;
      MLX_DISPATCH_ALL(out.dtype(), { out.data<T>()[0] = cast_to<T>(in.data<In>()[0]); });
    });
    return;
  }
  if (in.flags().contiguous) {
    alloc_like(out, in);
    size_t n = in.data_size();
    MLX_DISPATCH_ALL(in.dtype(), {
      using In = T;
      const In* s = in.data<In>();
      MLX_DISPATCH_ALL(out.dtype(), {
        T* d = out.data<T>();
        parallel_for(n, kElemGrain, [&](size_t b, size_t e) { cast_span<In, T>(s + b, d + b, e - b); });
      });
    });
    return;
  }
  alloc_out(out);
  copy_to_contiguous(in, out);
}

void Reshape::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.flags().row_contiguous) {
    make_view(in, out, row_strides(out.shape()), 0);
    return;
  }
  // Try to express the new shape with strides over the existing layout (no copy).
  Shape ish, osh = out.shape();
  Strides ist;
  for (size_t i = 0; i < in.ndim(); ++i)
    if (in.shape(i) != 1) { ish.push_back(in.shape(i)); ist.push_back(in.strides(i)); }
  Strides ost(osh.size(), 0);
  bool ok = true;
  size_t oi = 0, ii = 0;
  while (ok && ii < ish.size()) {
    int64_t isz = ish[ii], osz = 1;
    size_t ostart = oi;
    while (oi < osh.size() && osh[oi] == 1) ost[oi++] = 0;
    ostart = oi;
    size_t istart = ii;
    isz = ish[ii++];
    while (oi < osh.size() && osz * osh[oi] <= isz) osz *= osh[oi++];
    while (osz != isz && ii < ish.size()) {
      isz *= ish[ii++];
      while (oi < osh.size() && osz * osh[oi] <= isz) osz *= osh[oi++];
    }
    if (osz != isz) { ok = false; break; }
    for (size_t k = istart; k + 1 < ii; ++k)
      if (ist[k] != ist[k + 1] * ish[k + 1]) ok = false;
    int64_t st = ist[ii - 1];
    for (size_t k = oi; k-- > ostart;) {
      ost[k] = st;
      st *= osh[k];
    }
  }
  if (ok) {
    for (; oi < osh.size(); ++oi) {
      if (osh[oi] != 1) ok = false;
      ost[oi] = 0;
    }
  }
  if (ok && out.size() > 0) {
    make_view(in, out, ost, 0);
    return;
  }
  array tmp = ensure_row_contiguous(in);
  make_view(tmp, out, row_strides(out.shape()), 0);
}

void Transpose::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  Strides st(perm_.size());
  for (size_t i = 0; i < perm_.size(); ++i) st[i] = in.strides(perm_[i]);
  Flags f = flags_for(out.shape(), st);
  f.contiguous = in.flags().contiguous;  // a permutation keeps a dense layout dense
  out.copy_shared_buffer(in, st, f, in.data_size(), 0);
}

void Broadcast::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  Strides st(out.ndim(), 0);
  size_t diff = out.ndim() - in.ndim();
  for (size_t i = 0; i < in.ndim(); ++i)
    st[i + diff] = (in.shape(i) == 1 && out.shape(i + diff) != 1) ? 0 : in.strides(i);
  Flags f = flags_for(out.shape(), st);
  size_t ds = f.contiguous ? out.size() : in.data_size();
  if (out.size() == 0) ds = 0;
  out.copy_shared_buffer(in, st, f, ds, 0);
}

void Slice::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (out.size() == 0) {
    alloc_out(out);
    return;
  }
  Strides st(in.ndim());
  int64_t off = 0;
  for (size_t i = 0; i < in.ndim(); ++i) {
    st[i] = in.strides(i) * strides_[i];
    off += static_cast<int64_t>(start_[i]) * in.strides(i);
  }
  bool neg = false;
  for (auto v : st) neg |= v < 0;
  if (neg) {
    // Negative strides: copy so that every buffer view keeps non-negative strides.
    array view(out.shape(), in.dtype(), nullptr, {});
    Flags f{false, false, false};
    view.copy_shared_buffer(in, st, f, 1, off);
    alloc_out(out);
    copy_to_contiguous(view, out);
    return;
  }
  make_view(in, out, st, off);
}

void AsStrided::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  // offset_ counts elements of the output dtype from the input's start.
  Flags f = flags_for(out.shape(), strides_);
  size_t ds = f.contiguous ? out.size() : span_of(out.shape(), strides_);
  out.copy_shared_buffer(in, strides_, f, ds, static_cast<int64_t>(offset_));
  (void)in;
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& src = inputs[0];
  auto& upd = inputs[1];
  auto& out = outputs[0];
  if (src.is_donatable()) {
    out.copy_shared_buffer(src);
  } else {
    alloc_out(out);
    copy_to_contiguous(src, out);
  }
  Strides st(out.ndim());
  int64_t off = 0;
  for (size_t i = 0; i < out.ndim(); ++i) {
    st[i] = out.strides(i) * strides_[i];
    off += static_cast<int64_t>(start_[i]) * out.strides(i);
  }
  copy_strided(upd, out, upd.shape(), st, off);
}

void Concatenate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  alloc_out(out);
  int64_t off = 0;
  for (auto& in : inputs) {
    copy_strided(in, out, in.shape(), out.strides(), off * out.strides(axis_));
    off += in.shape(axis_);
  }
}

namespace {
template <typename T>
void arange_impl(T* d, size_t n, double start, double step) {
  if constexpr (is_cplx<T>::value) {
    for (size_t i = 0; i < n; ++i) d[i] = T(static_cast<float>(start + i * step), 0.0f);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<T>(start + i * step);
  }
}
}  // namespace

void Arange::eval_cpu(const std::vector<array>&, std::vector<array>& outputs) {
  auto& out = outputs[0];
  alloc_out(out);
  MLX_DISPATCH_ALL(out.dtype(), { arange_impl<T>(out.data<T>(), out.size(), start_, step_); });
}

}  // namespace mlx::core

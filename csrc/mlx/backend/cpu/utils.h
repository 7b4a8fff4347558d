// Shared helpers for CPU kernels: collapsing dims and walking strided rows.
#pragma once
#include <array>
#include <vector>

#include "mlx/array.h"
#include "mlx/backend/cpu/threadpool.h"

namespace mlx::core::cpu {

constexpr size_t kElemGrain = 1 << 15;  // elements per thread chunk for elementwise work

// Merges adjacent dims that are contiguous in every stride set; drops size-1 dims.
template <size_t K>
void collapse(Shape& shape, std::array<Strides, K>& st) {
  Shape ns;
  std::array<Strides, K> nst;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    bool merge = !ns.empty();
    if (merge)
      for (size_t k = 0; k < K; ++k) merge &= nst[k].back() == st[k][i] * shape[i];
    if (merge) {
      ns.back() *= shape[i];
      for (size_t k = 0; k < K; ++k) nst[k].back() = st[k][i];
    } else {
      ns.push_back(shape[i]);
      for (size_t k = 0; k < K; ++k) nst[k].push_back(st[k][i]);
    }
  }
  if (ns.empty()) {
    ns.push_back(1);
    for (size_t k = 0; k < K; ++k) nst[k].push_back(0);
  }
  shape = std::move(ns);
  st = std::move(nst);
}

// Calls f(offsets, n, inner_strides) for every row (all dims but the last) of the
// collapsed iteration space, split over the pool. Offsets are in elements.
template <size_t K, typename F>
void for_each_row(Shape shape, std::array<Strides, K> st, F&& f) {
  collapse(shape, st);
  int nd = static_cast<int>(shape.size());
  int64_t inner = shape.back();
  int64_t rows = 1;
  for (int i = 0; i < nd - 1; ++i) rows *= shape[i];
  std::array<int64_t, K> istr;
  for (size_t k = 0; k < K; ++k) istr[k] = st[k].back();
  size_t grain = std::max<size_t>(1, kElemGrain / std::max<int64_t>(inner, 1));
  parallel_for(rows, grain, [&](size_t r0, size_t r1) {
    std::vector<int64_t> idx(std::max(nd - 1, 1), 0);
    std::array<int64_t, K> off{};
    // Decompose r0.
    int64_t r = static_cast<int64_t>(r0);
    for (int i = nd - 2; i >= 0; --i) {
      idx[i] = r % shape[i];
      r /= shape[i];
      for (size_t k = 0; k < K; ++k) off[k] += idx[i] * st[k][i];
    }
    for (size_t row = r0; row < r1; ++row) {
      f(off, inner, istr);
      for (int i = nd - 2; i >= 0; --i) {
        for (size_t k = 0; k < K; ++k) off[k] += st[k][i];
        if (++idx[i] < shape[i]) break;
        for (size_t k = 0; k < K; ++k) off[k] -= st[k][i] * shape[i];
        idx[i] = 0;
      }
    }
  });
}

// Allocates row-contiguous data for `out`.
inline void alloc_out(array& out) { out.set_data(allocator::malloc(std::max<size_t>(out.nbytes(), 1))); }

// Gives `out` the same dense layout as `in` (which must be flags().contiguous), reusing
// in's buffer when it can be donated.
void alloc_like(array& out, const array& in);

// Copies `in` (any layout) into `out` (row-contiguous, allocated), converting dtypes.
void copy_to_contiguous(const array& in, array& out);
// Returns a row-contiguous version of `in` (itself if already so).
array ensure_row_contiguous(const array& in);
// Copies src (any layout) into dst viewed with the given shape/strides/offset (in elements).
void copy_strided(const array& src, array& dst, const Shape& shape, const Strides& dst_strides,
                  int64_t dst_offset);

}  // namespace mlx::core::cpu

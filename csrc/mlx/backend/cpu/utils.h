// Shared helpers for CPU kernels: collapsing dims and walking strided rows.
#pragma once
#include <array>
#include <cstring>
#include <vector>
#ifdef __AVX__
#include <immintrin.h>
#endif

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

// Copies bytes to dst with streaming (non-temporal) stores where the CPU has them: no
// read-for-ownership of the destination, which cuts the traffic of large outputs by a third.
inline void stream_store(void* dst, const void* src, size_t bytes) {
#ifdef __AVX__
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  size_t head = (32 - (reinterpret_cast<uintptr_t>(d) & 31)) & 31;
  if (head > bytes) head = bytes;
  std::memcpy(d, s, head);
  d += head;
  s += head;
  bytes -= head;
  size_t body = bytes & ~size_t(31);
  for (size_t i = 0; i < body; i += 32)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
  std::memcpy(d + body, s + body, bytes - body);
#else
  std::memcpy(dst, src, bytes);
#endif
}

inline void stream_fence() {
#ifdef __AVX__
  _mm_sfence();
#endif
}

// Outputs at least this large bypass the caches.
constexpr size_t kStreamBytes = size_t(16) << 20;

// Fills out[0, n) in parallel; fill(begin, end, dst) writes elements [begin, end) to
// dst[0, end - begin). Large outputs are computed in L1-sized chunks and streamed out.
// Each chunk reads only the positions it writes, so out may alias an input.
template <typename Out, typename F>
void parallel_fill(Out* out, size_t n, F&& fill) {
  bool stream = n * sizeof(Out) >= kStreamBytes;
  parallel_for(n, kElemGrain, [&](size_t s, size_t e) {
    if (!stream) {
      fill(s, e, out + s);
      return;
    }
    constexpr size_t K = 16384 / sizeof(Out);
    alignas(64) Out tmp[K];
    for (size_t c = s; c < e; c += K) {
      size_t ce = std::min(e, c + K);
      fill(c, ce, tmp);
      stream_store(out + c, tmp, (ce - c) * sizeof(Out));
    }
    stream_fence();
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

// Sort, ArgSort, Partition, ArgPartition and SearchSorted on the GPU.
//
// Every dtype is sorted as unsigned integer keys of its own width whose order is the sort
// order of the values (NaNs last). Sort/Partition use an invertible key (-0.0 before +0.0,
// NaNs decoded with the sign bit cleared, as on the CPU); ArgSort/ArgPartition use a canonical
// key (-0.0 == +0.0, every NaN the largest key) and a stable sort, so ties keep index order.
// Partition and ArgPartition sort the whole row (a sorted row is a valid partition).
//
// Rows of up to 4096 elements: one block per row, cub::BlockRadixSort in shared memory.
// Longer rows: cub::DeviceRadixSort (one row) or cub::DeviceSegmentedRadixSort (several).
// Sorting along another axis sorts a transposed row-contiguous copy and copies it back.
#include <cub/block/block_radix_sort.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include <climits>

#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core::cu {

namespace {

// How the bits of a dtype map to keys: 0 unsigned (and bool), 1 signed, 2 floating (with the
// bit pattern of +inf, so that a NaN is a magnitude above it).
struct Codec {
  int kind;
  uint64_t inf;
};

bool codec_of(Dtype t, Codec& c, int& width) {
  switch (t) {
    case Dtype::bool_:
    case Dtype::uint8: c = {0, 0}; width = 1; return true;
    case Dtype::uint16: c = {0, 0}; width = 2; return true;
    case Dtype::uint32: c = {0, 0}; width = 4; return true;
    case Dtype::uint64: c = {0, 0}; width = 8; return true;
    case Dtype::int8: c = {1, 0}; width = 1; return true;
    case Dtype::int16: c = {1, 0}; width = 2; return true;
    case Dtype::int32: c = {1, 0}; width = 4; return true;
    case Dtype::int64: c = {1, 0}; width = 8; return true;
    case Dtype::float16: c = {2, 0x7c00u}; width = 2; return true;
    case Dtype::bfloat16: c = {2, 0x7f80u}; width = 2; return true;
    case Dtype::float32: c = {2, 0x7f800000u}; width = 4; return true;
    default: return false;
  }
}

template <typename K>
__device__ __forceinline__ K all_ones() {
  return static_cast<K>(~static_cast<K>(0));
}

// Bits -> key. `canonical`: -0.0 -> +0.0 and every NaN -> the largest key.
template <typename K>
__device__ __forceinline__ K encode(K b, const Codec& c, bool canonical) {
  constexpr K sign = static_cast<K>(K(1) << (sizeof(K) * 8 - 1));
  if (c.kind == 0) return b;
  if (c.kind == 1) return static_cast<K>(b ^ sign);
  K mag = static_cast<K>(b & static_cast<K>(~sign));
  if (mag > static_cast<K>(c.inf)) return canonical ? all_ones<K>() : static_cast<K>(b | sign);
  if (canonical && b == sign) b = 0;
  return (b & sign) ? static_cast<K>(~b) : static_cast<K>(b | sign);
}

// Inverse of encode(.., false).
template <typename K>
__device__ __forceinline__ K decode(K k, const Codec& c) {
  constexpr K sign = static_cast<K>(K(1) << (sizeof(K) * 8 - 1));
  if (c.kind == 0) return k;
  if (c.kind == 1) return static_cast<K>(k ^ sign);
  return (k & sign) ? static_cast<K>(k & static_cast<K>(~sign)) : static_cast<K>(~k);
}

// ---- short rows: one block per row ----
// Items are loaded blocked (thread t holds positions t*IPT .. t*IPT+IPT-1) so the stable block
// sort keeps index order among equal keys; padding (the largest key) comes after every real
// item, equal keys included. The result is striped, so the stores are coalesced.
template <typename K, int TH, int IPT, bool ARG>
__global__ void __launch_bounds__(TH) k_block_sort(const K* __restrict__ x, K* __restrict__ yk,
                                                   uint32_t* __restrict__ yi, int n, Codec c) {
  using V = std::conditional_t<ARG, uint32_t, cub::NullType>;
  using Sorter = cub::BlockRadixSort<K, TH, IPT, V>;
  __shared__ typename Sorter::TempStorage tmp;
  int64_t base = int64_t(blockIdx.x) * n;
  const K* xr = x + base;
  K keys[IPT];
  uint32_t idx[IPT];
#pragma unroll
  for (int j = 0; j < IPT; ++j) {
    int i = threadIdx.x * IPT + j;
    keys[j] = i < n ? encode(xr[i], c, ARG) : all_ones<K>();
    idx[j] = static_cast<uint32_t>(i);
  }
  if constexpr (ARG) {
    Sorter(tmp).SortBlockedToStriped(keys, idx);
  } else {
    Sorter(tmp).SortBlockedToStriped(keys);
  }
#pragma unroll
  for (int j = 0; j < IPT; ++j) {
    int i = j * TH + threadIdx.x;
    if (i < n) {
      if constexpr (ARG) yi[base + i] = idx[j];
      else yk[base + i] = decode(keys[j], c);
    }
  }
}

template <typename K, int TH, int IPT>
void launch_block_sort(const K* x, K* yk, uint32_t* yi, int64_t rows, int n, const Codec& c, bool arg) {
  if (arg) k_block_sort<K, TH, IPT, true><<<static_cast<unsigned>(rows), TH, 0, stream()>>>(x, yk, yi, n, c);
  else k_block_sort<K, TH, IPT, false><<<static_cast<unsigned>(rows), TH, 0, stream()>>>(x, yk, yi, n, c);
  check_launch("block sort");
}

constexpr int kMaxBlockSort = 4096;

template <typename K>
void block_sort(const K* x, K* yk, uint32_t* yi, int64_t rows, int n, const Codec& c, bool arg) {
  if (n <= 32) launch_block_sort<K, 32, 1>(x, yk, yi, rows, n, c, arg);
  else if (n <= 256) launch_block_sort<K, 64, 4>(x, yk, yi, rows, n, c, arg);
  else if (n <= 1024) launch_block_sort<K, 128, 8>(x, yk, yi, rows, n, c, arg);
  else launch_block_sort<K, 512, 8>(x, yk, yi, rows, n, c, arg);
}

// ---- long rows: device-wide radix sorts ----
template <typename K>
__global__ void k_encode(const K* __restrict__ x, K* __restrict__ k, uint32_t* __restrict__ idx, int64_t total,
                         int64_t n, Codec c, bool canonical) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  k[i] = encode(x[i], c, canonical);
  if (idx) idx[i] = static_cast<uint32_t>(i % n);
}

template <typename K>
__global__ void k_decode(K* __restrict__ k, int64_t total, Codec c) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < total) k[i] = decode(k[i], c);
}

__global__ void k_offsets(int* __restrict__ off, int64_t rows, int n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i <= rows) off[i] = static_cast<int>(i * n);
}

template <typename K>
void device_sort(const K* x, K* yk, uint32_t* yi, int64_t rows, int n, const Codec& c, bool arg) {
  int64_t total = rows * n;
  Scratch kin(sizeof(K) * total);
  Scratch vin(arg ? sizeof(uint32_t) * total : 0);
  Scratch kout(arg ? sizeof(K) * total : 0);
  K* keys_out = arg ? kout.as<K>() : yk;
  k_encode<K><<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(x, kin.as<K>(), vin.as<uint32_t>(), total, n,
                                                                       c, arg);
  check_launch("sort encode");
  int items = static_cast<int>(total);
  if (rows == 1) {
    size_t bytes = 0;
    if (arg) {
      MLX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin.as<K>(), keys_out, vin.as<uint32_t>(), yi,
                                                     items, 0, int(sizeof(K) * 8), stream()));
      Scratch tmp(bytes);
      MLX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(tmp.p, bytes, kin.as<K>(), keys_out, vin.as<uint32_t>(), yi,
                                                     items, 0, int(sizeof(K) * 8), stream()));
    } else {
      MLX_CUDA_CHECK(
          cub::DeviceRadixSort::SortKeys(nullptr, bytes, kin.as<K>(), keys_out, items, 0, int(sizeof(K) * 8), stream()));
      Scratch tmp(bytes);
      MLX_CUDA_CHECK(
          cub::DeviceRadixSort::SortKeys(tmp.p, bytes, kin.as<K>(), keys_out, items, 0, int(sizeof(K) * 8), stream()));
    }
  } else {
    Scratch off(sizeof(int) * (rows + 1));
    int* o = off.as<int>();
    k_offsets<<<blocks_for(rows + 1, kThreads), kThreads, 0, stream()>>>(o, rows, n);
    check_launch("sort offsets");
    int segs = static_cast<int>(rows);
    size_t bytes = 0;
    if (arg) {
      MLX_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(nullptr, bytes, kin.as<K>(), keys_out,
                                                              vin.as<uint32_t>(), yi, items, segs, o, o + 1, 0,
                                                              int(sizeof(K) * 8), stream()));
      Scratch tmp(bytes);
      MLX_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(tmp.p, bytes, kin.as<K>(), keys_out, vin.as<uint32_t>(),
                                                              yi, items, segs, o, o + 1, 0, int(sizeof(K) * 8),
                                                              stream()));
    } else {
      MLX_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortKeys(nullptr, bytes, kin.as<K>(), keys_out, items, segs, o,
                                                             o + 1, 0, int(sizeof(K) * 8), stream()));
      Scratch tmp(bytes);
      MLX_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortKeys(tmp.p, bytes, kin.as<K>(), keys_out, items, segs, o,
                                                             o + 1, 0, int(sizeof(K) * 8), stream()));
    }
  }
  check_launch("cub radix sort");
  if (!arg) {
    k_decode<K><<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(yk, total, c);
    check_launch("sort decode");
  }
}

// Sorts the rows of a row-contiguous `in` (last axis) into `out` (fresh row-contiguous memory):
// the values (arg=false, out of in's dtype) or the permutation (arg=true, out uint32).
bool sort_rows(const array& in, array& out, bool arg) {
  Codec c;
  int width;
  if (!codec_of(in.dtype(), c, width)) return false;
  int64_t n = in.shape(-1);
  int64_t total = static_cast<int64_t>(in.size());
  if (total > INT_MAX || n <= 0) return false;
  int64_t rows = total / n;
  const void* x = in_ptr(in);
  void* y = alloc_out(out);
  int ni = static_cast<int>(n);
  auto run = [&](auto tag) {
    using K = typename decltype(tag)::type;
    const K* xk = static_cast<const K*>(x);
    K* yk = arg ? nullptr : static_cast<K*>(y);
    uint32_t* yi = arg ? static_cast<uint32_t*>(y) : nullptr;
    if (n <= kMaxBlockSort) block_sort<K>(xk, yk, yi, rows, ni, c, arg);
    else device_sort<K>(xk, yk, yi, rows, ni, c, arg);
  };
  switch (width) {
    case 1: run(Tag<uint8_t>{}); break;
    case 2: run(Tag<uint16_t>{}); break;
    case 4: run(Tag<uint32_t>{}); break;
    default: run(Tag<uint64_t>{}); break;
  }
  return true;
}

bool row_major(const array& a) { return a.flags().row_contiguous && a.data_size() == a.size(); }

// Runs sort_rows along `axis`: on the input itself when the axis is last (copying it to
// row-contiguous memory first if needed), else on a copy with the axis moved last, whose
// result is copied back in the original axis order.
bool sort_along(const array& in_arg, array& out, int axis, bool arg) {
  Codec c;
  int width;
  if (!codec_of(in_arg.dtype(), c, width)) return false;
  if (arg ? out.dtype() != Dtype::uint32 : out.dtype() != in_arg.dtype()) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  if (in_arg.size() > static_cast<size_t>(INT_MAX)) return false;
  int nd = static_cast<int>(in_arg.ndim());
  if (axis == nd - 1) {
    array in = in_arg;
    if (!row_major(in)) {
      array tmp(in.shape(), in.dtype(), nullptr, {});
      if (!copy_to_row_contiguous(in, tmp)) return false;
      in = tmp;
    }
    return sort_rows(in, out, arg);
  }
  return on_axis_last(in_arg, out, axis, [&](const array& tin, array& tout) { return sort_rows(tin, tout, arg); });
}

bool eval_sort(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  return sort_along(inputs[0], outputs[0], static_cast<Sort&>(p).axis_, false);
}
bool eval_argsort(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  return sort_along(inputs[0], outputs[0], static_cast<ArgSort&>(p).axis_, true);
}
bool eval_partition(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  return sort_along(inputs[0], outputs[0], static_cast<Partition&>(p).axis_, false);
}
bool eval_argpartition(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  return sort_along(inputs[0], outputs[0], static_cast<ArgPartition&>(p).axis_, true);
}

// ---- searchsorted: one thread per value, binary search with NaNs last ----
template <typename T>
__device__ __forceinline__ bool less_nan_last(T a, T b) {
  if constexpr (is_float_v<T>) {
    float fa = static_cast<float>(a), fb = static_cast<float>(b);
    return fa < fb || (fb != fb && fa == fa);
  } else {
    return a < b;
  }
}

template <typename T>
__global__ void k_searchsorted(const T* __restrict__ s, int64_t n, const T* __restrict__ v, uint32_t* __restrict__ y,
                               int64_t m, bool right) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= m) return;
  T x = v[i];
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    // left: first position with !(s < x); right: first position with x < s.
    bool go_right = right ? !less_nan_last(x, s[mid]) : less_nan_last(s[mid], x);
    if (go_right) lo = mid + 1;
    else hi = mid;
  }
  y[i] = static_cast<uint32_t>(lo);
}

bool eval_searchsorted(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  bool right = static_cast<SearchSorted&>(p).right_;
  array a = inputs[0], v = inputs[1];
  array& out = outputs[0];
  if (a.dtype() != v.dtype() || out.dtype() != Dtype::uint32) return false;
  if (!dispatch(a.dtype(), [](auto) {})) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  if (!row_major(a)) {
    array tmp(a.shape(), a.dtype(), nullptr, {});
    if (!copy_to_row_contiguous(a, tmp)) return false;
    a = tmp;
  }
  if (!row_major(v)) {
    array tmp(v.shape(), v.dtype(), nullptr, {});
    if (!copy_to_row_contiguous(v, tmp)) return false;
    v = tmp;
  }
  return dispatch(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    int64_t n = static_cast<int64_t>(a.size()), m = static_cast<int64_t>(v.size());
    const T* s = n ? in_ptr<T>(a) : nullptr;
    const T* x = in_ptr<T>(v);
    uint32_t* y = static_cast<uint32_t*>(alloc_out(out));
    k_searchsorted<T><<<blocks_for(m, kThreads), kThreads, 0, stream()>>>(s, n, x, y, m, right);
    check_launch("searchsorted");
  });
}

}  // namespace

MLX_CUDA_KERNEL(Sort, eval_sort);
MLX_CUDA_KERNEL(ArgSort, eval_argsort);
MLX_CUDA_KERNEL(Partition, eval_partition);
MLX_CUDA_KERNEL(ArgPartition, eval_argpartition);
MLX_CUDA_KERNEL(SearchSorted, eval_searchsorted);

}  // namespace mlx::core::cu

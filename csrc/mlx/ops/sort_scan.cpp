// Ops of the sort/scan family: validation, dtype rules and graph construction.
#include "mlx/ops/sort_scan.h"
#include "mlx/transforms.h"

#include <numeric>

namespace mlx::core {

namespace {

// Flattens for axis=None; returns the array to work on and the normalized axis.
std::pair<array, int> resolve_axis(const array& a, std::optional<int> axis, const char* op, SD s) {
  if (!axis) return {reshape(a, {-1}, s), 0};
  if (a.ndim() == 0)
    throw AxisError(msg("[", op, "] axis ", *axis, " is out of bounds for an array with 0 dimensions; got axis=",
                        *axis, "."));
  return {a, normalize_axis(*axis, static_cast<int>(a.ndim()), op)};
}

Dtype trace_sum_dtype(Dtype t) {
  switch (t) {
    case bool_:
    case int8:
    case int16: return int32;
    case uint8:
    case uint16: return uint32;
    default: return t;
  }
}

}  // namespace

// ---------------- scans ----------------
array scan(const array& a_in, ScanType type, std::optional<int> axis, bool reverse, bool inclusive,
           const char* op, SD s) {
  auto [a, ax] = resolve_axis(a_in, axis, op, s);
  Dtype t = a.dtype();
  switch (type) {
    case ScanType::Sum:
      if (t == bool_) t = int32;
      break;
    case ScanType::LogAddExp:
      t = float_of(t);
      break;
    default:
      break;
  }
  array x = t == a.dtype() ? a : astype(a, t, s);
  return array(x.shape(), t, std::make_shared<Scan>(to_stream(s), type, ax, reverse, inclusive), {x});
}

array cumsum(const array& a, std::optional<int> axis, bool reverse, bool inclusive, SD s) {
  return scan(a, ScanType::Sum, axis, reverse, inclusive, "cumsum", s);
}
array cumprod(const array& a, std::optional<int> axis, bool reverse, bool inclusive, SD s) {
  return scan(a, ScanType::Prod, axis, reverse, inclusive, "cumprod", s);
}
array cummax(const array& a, std::optional<int> axis, bool reverse, bool inclusive, SD s) {
  return scan(a, ScanType::Max, axis, reverse, inclusive, "cummax", s);
}
array cummin(const array& a, std::optional<int> axis, bool reverse, bool inclusive, SD s) {
  return scan(a, ScanType::Min, axis, reverse, inclusive, "cummin", s);
}
array logcumsumexp(const array& a, std::optional<int> axis, bool reverse, bool inclusive, SD s) {
  return scan(a, ScanType::LogAddExp, axis, reverse, inclusive, "logcumsumexp", s);
}

// ---------------- sorting ----------------
array sort(const array& a_in, std::optional<int> axis, SD s) {
  auto [a, ax] = resolve_axis(a_in, axis, "sort", s);
  return array(a.shape(), a.dtype(), std::make_shared<Sort>(to_stream(s), ax), {a});
}

array argsort(const array& a_in, std::optional<int> axis, SD s) {
  auto [a, ax] = resolve_axis(a_in, axis, "argsort", s);
  return array(a.shape(), uint32, std::make_shared<ArgSort>(to_stream(s), ax), {a});
}

namespace {
int check_kth(const array& a, int kth, int ax, const char* op) {
  int n = a.shape(ax);
  if (kth < -n || kth >= n)
    throw ValueError(msg("[", op, "] kth must be in [-", n, ", ", n, ") along axis ", ax, " of an array with shape ",
                         a.shape(), "; got kth=", kth, "."));
  return kth < 0 ? kth + n : kth;
}
}  // namespace

array partition(const array& a_in, int kth, std::optional<int> axis, SD s) {
  auto [a, ax] = resolve_axis(a_in, axis, "partition", s);
  int k = check_kth(a, kth, ax, "partition");
  return array(a.shape(), a.dtype(), std::make_shared<Partition>(to_stream(s), k, ax), {a});
}

array argpartition(const array& a_in, int kth, std::optional<int> axis, SD s) {
  auto [a, ax] = resolve_axis(a_in, axis, "argpartition", s);
  int k = check_kth(a, kth, ax, "argpartition");
  return array(a.shape(), uint32, std::make_shared<ArgPartition>(to_stream(s), k, ax), {a});
}

array topk(const array& a_in, int k, std::optional<int> axis, SD s) {
  auto [a, ax] = resolve_axis(a_in, axis, "topk", s);
  int n = a.shape(ax);
  if (k < 0 || k > n)
    throw ValueError(msg("[topk] k must be in [0, ", n, "] along axis ", ax, " of an array with shape ", a.shape(),
                         "; got k=", k, "."));
  int nd = static_cast<int>(a.ndim());
  Shape start(nd, 0), stop = a.shape(), str(nd, 1);
  if (k == 0) {
    stop[ax] = 0;
    return slice(a, start, stop, str, s);
  }
  array p(a.shape(), a.dtype(), std::make_shared<Partition>(to_stream(s), n - k, ax), {a});
  start[ax] = n - k;
  return slice(p, start, stop, str, s);
}

array searchsorted(const array& sorted, const array& values, bool right, SD s) {
  if (sorted.ndim() != 1)
    throw ValueError(msg("[searchsorted] the sorted sequence must be 1-D; got an array with ", sorted.ndim(),
                         " dimensions."));
  Dtype t = promote_types(sorted.dtype(), values.dtype());
  array a = astype(sorted, t, s), v = astype(values, t, s);
  return array(v.shape(), uint32, std::make_shared<SearchSorted>(to_stream(s), right), {a, v});
}

// ---------------- diagonals ----------------
array diagonal(const array& a, int offset, int axis1, int axis2, SD s) {
  int nd = static_cast<int>(a.ndim());
  if (nd < 2)
    throw ValueError(msg("[diagonal] the array must have at least two dimensions; got an array with ", nd,
                         " dimensions."));
  int a1 = normalize_axis(axis1, nd, "diagonal");
  int a2 = normalize_axis(axis2, nd, "diagonal");
  if (a1 == a2)
    throw ValueError(msg("[diagonal] axis1 and axis2 must be different axes; got axis1=", axis1, ", axis2=", axis2,
                         "."));
  std::vector<int> perm;
  for (int i = 0; i < nd; ++i)
    if (i != a1 && i != a2) perm.push_back(i);
  perm.push_back(a1);
  perm.push_back(a2);
  array x = transpose(a, perm, s);
  int64_t n1 = a.shape(a1), n2 = a.shape(a2);
  int64_t len = offset >= 0 ? std::min<int64_t>(n1, n2 - offset) : std::min<int64_t>(n1 + offset, n2);
  len = std::max<int64_t>(len, 0);
  Shape batch(x.shape().begin(), x.shape().end() - 2);
  Shape flat_shape = batch;
  flat_shape.push_back(static_cast<int>(n1 * n2));
  array flat = reshape(x, flat_shape, s);
  int bd = static_cast<int>(batch.size());
  Shape start(bd + 1, 0), stop = flat_shape, str(bd + 1, 1);
  if (len == 0) {
    stop[bd] = 0;
  } else {
    int64_t first = offset >= 0 ? offset : -static_cast<int64_t>(offset) * n2;
    start[bd] = static_cast<int>(first);
    stop[bd] = static_cast<int>(first + (len - 1) * (n2 + 1) + 1);
    str[bd] = static_cast<int>(n2 + 1);
  }
  return slice(flat, start, stop, str, s);
}

array diag(const array& a, int k, SD s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1)
    throw ValueError(msg("[diag] the array must be 1-D or 2-D; got an array with ", a.ndim(), " dimensions."));
  int64_t len = a.shape(0);
  int64_t n = len + std::abs(static_cast<int64_t>(k));
  array flat = zeros({static_cast<int>(n * n)}, a.dtype(), s);
  if (len > 0) {
    int64_t first = k >= 0 ? k : -static_cast<int64_t>(k) * n;
    flat = slice_update(flat, a, {static_cast<int>(first)},
                        {static_cast<int>(first + (len - 1) * (n + 1) + 1)}, {static_cast<int>(n + 1)}, s);
  }
  return reshape(flat, {static_cast<int>(n), static_cast<int>(n)}, s);
}

array trace(const array& a, int offset, int axis1, int axis2, std::optional<Dtype> dtype, SD s) {
  if (a.ndim() < 2)
    throw ValueError(msg("[trace] the array must have at least two dimensions; got an array with ", a.ndim(),
                         " dimensions."));
  array d = diagonal(a, offset, axis1, axis2, s);
  Dtype t = dtype ? *dtype : trace_sum_dtype(a.dtype());
  // sum widens small integers; the requested dtype is applied to the result.
  return astype(sum(astype(d, t, s), {-1}, false, s), t, s);
}

// ---------------- Hadamard ----------------
array hadamard_transform(const array& a_in, std::optional<float> scale, SD s) {
  Dtype t = a_in.dtype();
  if (t == float64 || t == complex64)
    throw ValueError(msg("[hadamard_transform] only float32, float16, bfloat16 and integer inputs are supported; got ",
                         t, "."));
  if (!is_floating_point(t)) t = float32;
  array a = a_in.ndim() == 0 ? reshape(a_in, {1}, s) : a_in;
  int64_t n = a.shape(-1);
  int64_t m = n;
  while (m > 0 && m % 2 == 0) m /= 2;
  if (n == 0 || (m != 1 && m != 3 && m != 5 && m != 7)) {
    throw ValueError(msg("[hadamard_transform] the last dimension must be m * 2^k with m in (1, 12, 20, 28); got ",
                         n, "."));
  }
  // m odd part: 3 -> needs a factor 12 = 3 * 4; 5 -> 20 = 5 * 4; 7 -> 28 = 7 * 4.
  if (m != 1 && n % (m * 4) != 0)
    throw ValueError(msg("[hadamard_transform] the last dimension must be m * 2^k with m in (1, 12, 20, 28); got ",
                         n, "."));
  float sc = scale ? *scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  array x = astype(a, t, s);
  array out(x.shape(), t, std::make_shared<Hadamard>(to_stream(s), sc, false), {x});
  return a_in.ndim() == 0 ? reshape(out, {}, s) : out;
}

// ---------------- gather_mm / segmented_mm ----------------
namespace {
Dtype mm_dtype(const array& a, const array& b, const char* op) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_floating_point(t))
    throw ValueError(msg("[", op, "] only real floating point types are supported; got ", a.dtype(), " and ",
                         b.dtype(), " which give ", t, "."));
  return t;
}
Shape batch_of(const array& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }
}  // namespace

array gather_mm(const array& a_in, const array& b_in, std::optional<array> lhs, std::optional<array> rhs,
                bool sorted_indices, SD s) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0)
    throw ValueError(msg("[gather_mm] both inputs must have at least one dimension; got a.shape=", a_in.shape(),
                         ", b.shape=", b_in.shape(), "."));
  Dtype t = mm_dtype(a_in, b_in, "gather_mm");
  for (auto* idx : {&lhs, &rhs})
    if (*idx && !is_integral((*idx)->dtype()))
      throw ValueError(msg("[gather_mm] indices must be integral; got indices of dtype ", (*idx)->dtype(), "."));
  bool a1 = a_in.ndim() == 1, b1 = b_in.ndim() == 1;
  array a = a1 ? reshape(a_in, {1, a_in.shape(0)}, s) : a_in;
  array b = b1 ? reshape(b_in, {b_in.shape(0), 1}, s) : b_in;
  if (a.shape(-1) != b.shape(-2))
    throw ValueError(msg("[gather_mm] a.shape[-1] must equal b.shape[-2]; got a.shape=", a_in.shape(),
                         ", b.shape=", b_in.shape(), "."));
  a = astype(a, t, s);
  b = astype(b, t, s);
  Shape ab = batch_of(a), bb = batch_of(b);
  int64_t na = shape_size(ab), nb = shape_size(bb);
  array li = lhs ? *lhs : reshape(arange(0, static_cast<double>(na), 1, int32, s), ab, s);
  array ri = rhs ? *rhs : reshape(arange(0, static_cast<double>(nb), 1, int32, s), bb, s);
  Shape ob = broadcast_shapes(li.shape(), ri.shape(), "gather_mm");
  int M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  array a3 = reshape(a, {static_cast<int>(na), M, K}, s);
  array b3 = reshape(b, {static_cast<int>(nb), K, N}, s);
  array lf = reshape(astype(broadcast_to(li, ob, s), uint32, s), {-1}, s);
  array rf = reshape(astype(broadcast_to(ri, ob, s), uint32, s), {-1}, s);
  int B = static_cast<int>(shape_size(ob));
  array out({B, M, N}, t, std::make_shared<GatherMM>(to_stream(s), sorted_indices), {a3, b3, lf, rf});
  Shape os = ob;
  if (!a1) os.push_back(M);
  if (!b1) os.push_back(N);
  return reshape(out, os, s);
}

array segmented_mm(const array& a_in, const array& b_in, const array& segments, SD s) {
  if (a_in.ndim() != 2 || b_in.ndim() != 2)
    throw ValueError(msg("[segmented_mm] batched matmul is not supported, a and b must be 2-D; got a.shape=",
                         a_in.shape(), ", b.shape=", b_in.shape(), "."));
  Dtype t = mm_dtype(a_in, b_in, "segmented_mm");
  if (!is_integral(segments.dtype()))
    throw ValueError(msg("[segmented_mm] segments must be integral; got segments of dtype ", segments.dtype(), "."));
  if (segments.ndim() == 0 || segments.shape(-1) != 2)
    throw ValueError(msg("[segmented_mm] segments must have shape (..., 2); got shape ", segments.shape(), "."));
  if (a_in.shape(1) != b_in.shape(0))
    throw ValueError(msg("[segmented_mm] a.shape[-1] must equal b.shape[-2]; got a.shape=", a_in.shape(),
                         ", b.shape=", b_in.shape(), "."));
  array a = astype(a_in, t, s), b = astype(b_in, t, s);
  Shape sb(segments.shape().begin(), segments.shape().end() - 1);
  int S = static_cast<int>(shape_size(sb));
  array seg = reshape(astype(segments, int32, s), {S, 2}, s);
  int M = a.shape(0), N = b.shape(1);
  array out({S, M, N}, t, std::make_shared<SegmentedMM>(to_stream(s)), {a, b, seg});
  Shape os = sb;
  os.push_back(M);
  os.push_back(N);
  return reshape(out, os, s);
}

// ---------------- depends ----------------
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& deps) {
  if (inputs.empty()) return {};
  std::vector<array> all = inputs;
  all.insert(all.end(), deps.begin(), deps.end());
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& x : inputs) {
    shapes.push_back(x.shape());
    dtypes.push_back(x.dtype());
  }
  detail::wait_async_for(inputs[0]);  // stream() reads the primitive, which evaluation drops
  auto prim = std::make_shared<Depends>(inputs[0].stream(), static_cast<int>(inputs.size()));
  if (inputs.size() == 1) return {array(shapes[0], dtypes[0], prim, all)};
  return array::make_arrays(shapes, dtypes, prim, all);
}

}  // namespace mlx::core

// Bindings for the sort_scan family: scans, sorting, diagonals, Hadamard, gathered matmuls.
#include "convert.h"
#include "mlx/ops/sort_scan.h"

using namespace nb::literals;

namespace {

array maybe_cast(array a, std::optional<Dtype> dtype, StreamArg s) {
  return dtype && *dtype != a.dtype() ? astype(a, *dtype, sd(s)) : a;
}

}  // namespace

void init_sort_scan(nb::module_& m) {
  auto kw = nb::kw_only();
  auto st = "stream"_a = nb::none();

  // ---- scans ----
  m.def("cumsum", [](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype,
                     StreamArg s) {
        return cumsum(maybe_cast(to_array(a), dtype, s), axis, reverse, inclusive, sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, "reverse"_a = false, "inclusive"_a = true, "dtype"_a = nb::none(), st,
      "Cumulative sum of the elements along an axis (the flattened array when axis is None).");
  m.def("cumprod", [](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype,
                      StreamArg s) {
        return cumprod(maybe_cast(to_array(a), dtype, s), axis, reverse, inclusive, sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, "reverse"_a = false, "inclusive"_a = true, "dtype"_a = nb::none(), st,
      "Cumulative product of the elements along an axis (the flattened array when axis is None).");
  m.def("cummax", [](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, StreamArg s) {
        return cummax(to_array(a), axis, reverse, inclusive, sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, "reverse"_a = false, "inclusive"_a = true, st,
      "Cumulative maximum of the elements along an axis.");
  m.def("cummin", [](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, StreamArg s) {
        return cummin(to_array(a), axis, reverse, inclusive, sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, "reverse"_a = false, "inclusive"_a = true, st,
      "Cumulative minimum of the elements along an axis.");
  m.def("logcumsumexp", [](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, StreamArg s) {
        return logcumsumexp(to_array(a), axis, reverse, inclusive, sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, "reverse"_a = false, "inclusive"_a = true, st,
      "Cumulative log-sum-exp of the elements along an axis.");
  m.attr("cumulative_sum") = m.attr("cumsum");
  m.attr("cumulative_prod") = m.attr("cumprod");

  // ---- sorting ----
  m.def("sort", [](nb::handle a, std::optional<int> axis, StreamArg s) { return sort(to_array(a), axis, sd(s)); },
        "a"_a, "axis"_a.none() = -1, kw, st, "Sorted copy of the array along an axis (NaNs last).");
  m.def("argsort", [](nb::handle a, std::optional<int> axis, StreamArg s) { return argsort(to_array(a), axis, sd(s)); },
        "a"_a, "axis"_a.none() = -1, kw, st, "Indices that sort the array along an axis (stable).");
  m.def("partition", [](nb::handle a, int kth, std::optional<int> axis, StreamArg s) {
        return partition(to_array(a), kth, axis, sd(s));
      }, "a"_a, "kth"_a, "axis"_a.none() = -1, kw, st,
      "Partitioned copy: the kth element is in sorted position, smaller ones before, larger after.");
  m.def("argpartition", [](nb::handle a, int kth, std::optional<int> axis, StreamArg s) {
        return argpartition(to_array(a), kth, axis, sd(s));
      }, "a"_a, "kth"_a, "axis"_a.none() = -1, kw, st, "Indices that partition the array along an axis.");
  m.def("topk", [](nb::handle a, int k, std::optional<int> axis, StreamArg s) {
        return topk(to_array(a), k, axis, sd(s));
      }, "a"_a, "k"_a, "axis"_a.none() = -1, kw, st, "The k largest elements along an axis (in no particular order).");
  m.def("searchsorted", [](nb::handle sorted, nb::handle values, const std::string& side, StreamArg s) {
        if (side != "left" && side != "right")
          throw ValueError(msg("[searchsorted] side must be 'left' or 'right'; got '", side, "'."));
        auto [a, v] = to_arrays(sorted, values);
        return searchsorted(a, v, side == "right", sd(s));
      }, "sorted_sequence"_a, "values"_a, "side"_a = "left", kw, st,
      "Indices where values would be inserted into a sorted 1-D sequence to keep it sorted.");

  // ---- diagonals ----
  m.def("diagonal", [](nb::handle a, int offset, int axis1, int axis2, StreamArg s) {
        return diagonal(to_array(a), offset, axis1, axis2, sd(s));
      }, "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "stream"_a = nb::none(),
      "The diagonal of the 2-D slices over axis1 and axis2, as the last axis.");
  m.def("diag", [](nb::handle a, int k, StreamArg s) { return diag(to_array(a), k, sd(s)); },
        "a"_a, "k"_a = 0, kw, st, "Extract a diagonal (2-D input) or build a diagonal matrix (1-D input).");
  m.def("trace", [](nb::handle a, int offset, int axis1, int axis2, std::optional<Dtype> dtype, StreamArg s) {
        return trace(to_array(a), offset, axis1, axis2, dtype, sd(s));
      }, "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "dtype"_a = nb::none(), kw, st,
      "Sum along a diagonal.");

  // ---- Hadamard and matmul variants ----
  m.def("hadamard_transform", [](nb::handle a, std::optional<float> scale, StreamArg s) {
        return hadamard_transform(to_array(a), scale, sd(s));
      }, "a"_a, "scale"_a = nb::none(), "stream"_a = nb::none(),
      "Walsh-Hadamard transform along the last axis (default scale 1/sqrt(n)).");
  m.def("gather_mm", [](nb::handle a, nb::handle b, std::optional<array> lhs, std::optional<array> rhs,
                        bool sorted_indices, StreamArg s) {
        return gather_mm(to_array(a), to_array(b), lhs, rhs, sorted_indices, sd(s));
      }, "a"_a, "b"_a, "lhs_indices"_a = nb::none(), "rhs_indices"_a = nb::none(), kw, "sorted_indices"_a = false, st,
      "Matrix multiplication of matrices gathered from the batches of a and b.");
  m.def("segmented_mm", [](nb::handle a, nb::handle b, nb::handle segments, StreamArg s) {
        return segmented_mm(to_array(a), to_array(b), to_array(segments), sd(s));
      }, "a"_a, "b"_a, "segments"_a, kw, st,
      "Matrix products a[:, s0:s1] @ b[s0:s1, :] for each segment (s0, s1).");
  m.def("depends", [](nb::handle inputs, nb::handle deps) -> nb::object {
        auto to_list = [](nb::handle h) {
          std::vector<array> v;
          if (nb::isinstance<array>(h)) {
            v.push_back(nb::cast<array>(h));
          } else {
            for (auto x : h) v.push_back(nb::cast<array>(x));
          }
          return v;
        };
        bool single = nb::isinstance<array>(inputs);
        auto outs = depends(to_list(inputs), to_list(deps));
        if (single) return nb::cast(outs[0]);
        nb::list l;
        for (auto& o : outs) l.append(o);
        return l;
      }, "inputs"_a, "dependencies"_a,
      "The inputs unchanged, but only computed after the dependencies.");
}

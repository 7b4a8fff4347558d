// Primitives of the sort/scan family: scans, sorting and partitioning, searchsorted, the
// Hadamard transform, gathered and segmented matmuls, and `depends`.
#pragma once
#include "mlx/primitives/primitives.h"

namespace mlx::core {

enum class ScanType : uint8_t { Sum, Prod, Max, Min, LogAddExp };

// Cumulative reduction along `axis`; `reverse` scans from the end, an exclusive scan
// (inclusive=false) leaves out the element itself and starts from the identity.
class Scan : public Primitive {
 public:
  Scan(Stream s, ScanType t, int axis, bool reverse, bool inclusive)
      : Primitive(s), type_(t), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  MLX_PRIM_COMMON("Scan")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  ScanType type_;
  int axis_;
  bool reverse_, inclusive_;
};

// Sorted values along `axis` (NaNs last).
class Sort : public Primitive {
 public:
  Sort(Stream s, int axis) : Primitive(s), axis_(axis) {}
  MLX_PRIM_COMMON("Sort")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
};

// Stable sorting permutation along `axis` (uint32).
class ArgSort : public Primitive {
 public:
  ArgSort(Stream s, int axis) : Primitive(s), axis_(axis) {}
  MLX_PRIM_COMMON("ArgSort")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
};

// Values rearranged so that position kth holds the element that sorting would put there,
// smaller-or-equal ones before it and greater-or-equal ones after (kth already normalized).
class Partition : public Primitive {
 public:
  Partition(Stream s, int kth, int axis) : Primitive(s), kth_(kth), axis_(axis) {}
  MLX_PRIM_COMMON("Partition")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int kth_, axis_;
};

// The permutation of Partition (uint32); Partition's values are take_along_axis of it.
class ArgPartition : public Primitive {
 public:
  ArgPartition(Stream s, int kth, int axis) : Primitive(s), kth_(kth), axis_(axis) {}
  MLX_PRIM_COMMON("ArgPartition")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int kth_, axis_;
};

// Inputs (sorted 1-d sequence, values) of one dtype; output uint32 insertion points.
class SearchSorted : public Primitive {
 public:
  SearchSorted(Stream s, bool right) : Primitive(s), right_(right) {}
  MLX_PRIM_COMMON("SearchSorted")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool right_;
};

// y = scale * H x along the last axis, H = M (x) H_2^k with M a fixed m x m Hadamard matrix
// (m in 1, 12, 20, 28); `transpose` applies H^T instead (used by the vjp).
class Hadamard : public Primitive {
 public:
  Hadamard(Stream s, float scale, bool transpose) : Primitive(s), scale_(scale), transpose_(transpose) {}
  MLX_PRIM_COMMON("Hadamard")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  float scale_;
  bool transpose_;
};

// Inputs a (Ba, M, K), b (Bb, K, N), lhs (B,), rhs (B,) uint32; out[i] = a[lhs[i]] @ b[rhs[i]].
class GatherMM : public Primitive {
 public:
  GatherMM(Stream s, bool sorted) : Primitive(s), sorted_(sorted) {}
  MLX_PRIM_COMMON("GatherMM")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool sorted_;
};

// Inputs a (M, K), b (K, N), segments (S, 2) int32; out[s] = a[:, s0:s1] @ b[s0:s1, :].
class SegmentedMM : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("SegmentedMM")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// Outputs are the first n inputs unchanged; the remaining inputs are evaluated first.
class Depends : public Primitive {
 public:
  Depends(Stream s, int n) : Primitive(s), n_(n) {}
  MLX_PRIM_COMMON("Depends")
  MLX_PRIM_RULES
  int n_;
};

// The m x m (+1/-1) matrix used by the Hadamard transform for n = m * 2^k.
const std::vector<int8_t>& hadamard_base_matrix(int m);

}  // namespace mlx::core

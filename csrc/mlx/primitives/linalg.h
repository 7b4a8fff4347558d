// Primitives of mx.linalg: LAPACK-backed factorizations and solves over the last two axes,
// batched over the leading ones. Kernels in backend/cpu/linalg.cpp, rules in linalg_rules.cpp.
#pragma once
#include "mlx/primitives/primitives.h"

namespace mlx::core {

// inv(A), or with `tri` the inverse of the lower (upper) triangle of A; the other triangle is
// ignored and the output's is zero.
class Inverse : public Primitive {
 public:
  Inverse(Stream s, bool tri, bool upper) : Primitive(s), tri_(tri), upper_(upper) {}
  MLX_PRIM_COMMON("Inverse")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool tri_, upper_;
};

// L with A = L L^T (reads the lower triangle), or U with A = U^T U (reads the upper one).
class Cholesky : public Primitive {
 public:
  Cholesky(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  MLX_PRIM_COMMON("Cholesky")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool upper_;
};

// Reduced QR: outputs Q (M x K) and R (K x N), K = min(M, N).
class QRF : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("QRF")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// A = U diag(S) Vt with full U (M x M) and Vt (N x N); with !compute_uv the one output is S.
class SVD : public Primitive {
 public:
  SVD(Stream s, bool compute_uv) : Primitive(s), compute_uv_(compute_uv) {}
  MLX_PRIM_COMMON("SVD")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool compute_uv_;
};

// Eigenvalues (complex64) and, with compute_vectors, right eigenvectors as columns.
class Eig : public Primitive {
 public:
  Eig(Stream s, bool compute_vectors) : Primitive(s), compute_vectors_(compute_vectors) {}
  MLX_PRIM_COMMON("Eig")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool compute_vectors_;
};

// Eigenvalues (ascending, real) of a symmetric/Hermitian matrix read from one triangle and,
// with compute_vectors, orthonormal eigenvectors as columns.
class Eigh : public Primitive {
 public:
  Eigh(Stream s, bool upper, bool compute_vectors)
      : Primitive(s), upper_(upper), compute_vectors_(compute_vectors) {}
  MLX_PRIM_COMMON("Eigh")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool upper_, compute_vectors_;
};

// LU with partial pivoting. Outputs: packed LU (M x N, unit-diagonal L below the diagonal),
// LAPACK pivots (K, 0-based, uint32), perm p and its inverse q (M, uint32) with
// A[i] = (L U)[p[i]] and (L U)[i] = A[q[i]].
class LUF : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("LUF")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// X = A^-1 B for A (..., N, N) and B (..., N, K) with equal batch shapes.
class Solve : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("Solve")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// X = T^-1 B with T the lower (upper) triangle of A; shapes as in Solve.
class SolveTriangular : public Primitive {
 public:
  SolveTriangular(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  MLX_PRIM_COMMON("SolveTriangular")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool upper_;
};

}  // namespace mlx::core

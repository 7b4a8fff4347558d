// Ops of mx.linalg. Matrices are the last two axes; leading axes are a batch.
// Ops that need LAPACK run on the CPU only (a GPU stream raises ValueError, as in MLX).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mlx/ops.h"
#include "mlx/primitives/linalg.h"

namespace mlx::core::linalg {

// Vector or matrix norm with NumPy's `ord` and `axis` semantics; ord = nullopt is the
// 2-norm (Frobenius for matrices, of the flattened array when axis is also nullopt).
array norm(const array& a, std::optional<double> ord,
           const std::optional<std::vector<int>>& axis = std::nullopt, bool keepdims = false,
           SD s = {});
// Matrix norm by name: "fro" or "nuc".
array norm(const array& a, const std::string& ord,
           const std::optional<std::vector<int>>& axis = std::nullopt, bool keepdims = false,
           SD s = {});

array inv(const array& a, SD s = {});
array tri_inv(const array& a, bool upper = false, SD s = {});
array cholesky(const array& a, bool upper = false, SD s = {});
// inv(A) from its Cholesky factor L (A = L L^T) or U (A = U^T U).
array cholesky_inv(const array& l, bool upper = false, SD s = {});
array pinv(const array& a, SD s = {});

// Reduced QR: (Q, R).
std::pair<array, array> qr(const array& a, SD s = {});
// (U, S, Vt) with full U and Vt, or {S} when !compute_uv.
std::vector<array> svd(const array& a, bool compute_uv = true, SD s = {});
std::pair<array, array> eig(const array& a, SD s = {});
array eigvals(const array& a, SD s = {});
std::pair<array, array> eigh(const array& a, const std::string& uplo = "L", SD s = {});
array eigvalsh(const array& a, const std::string& uplo = "L", SD s = {});

// (p, L, U) with A = (L U)[p] (row i of A is row p[i] of L U).
std::vector<array> lu(const array& a, SD s = {});
// (LU, pivots): LAPACK's packed factors and 0-based row interchanges.
std::pair<array, array> lu_factor(const array& a, SD s = {});
array det(const array& a, SD s = {});
// (sign, log|det|).
std::pair<array, array> slogdet(const array& a, SD s = {});

// Solves A X = B; a 1-d B is a vector, otherwise B's last two axes are the right-hand sides.
array solve(const array& a, const array& b, SD s = {});
array solve_triangular(const array& a, const array& b, bool upper = false, SD s = {});

// Cross product of 2- or 3-vectors along `axis` (2-vectors get a zero third component).
array cross(const array& a, const array& b, int axis = -1, SD s = {});

}  // namespace mlx::core::linalg

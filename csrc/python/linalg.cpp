// Bindings of mlx.core.linalg.
#include "convert.h"
#include "mlx/ops/linalg.h"

using namespace nb::literals;
namespace la = mlx::core::linalg;

namespace {

nb::tuple tup(const std::vector<array>& xs) {
  nb::list l;
  for (auto& x : xs) l.append(nb::cast(x));
  return nb::tuple(l);
}

}  // namespace

void init_linalg(nb::module_& parent) {
  auto m = parent.def_submodule("linalg", "Linear algebra (LAPACK on the CPU).");
  auto kw = nb::kw_only();
  auto st = "stream"_a = nb::none();

  m.def(
      "norm",
      [](nb::handle a_, nb::handle ord, nb::handle axis, bool keepdims, StreamArg s) {
        array a = to_array(a_);
        std::optional<std::vector<int>> ax;
        if (!axis.is_none()) {
          if (nb::isinstance<nb::int_>(axis)) ax = std::vector<int>{nb::cast<int>(axis)};
          else ax = nb::cast<std::vector<int>>(axis);
        }
        if (ord.is_none()) return la::norm(a, std::nullopt, ax, keepdims, sd(s));
        if (nb::isinstance<nb::str>(ord)) return la::norm(a, nb::cast<std::string>(ord), ax, keepdims, sd(s));
        double p = 0;
        if (nb::isinstance<nb::bool_>(ord) || !nb::try_cast<double>(ord, p))
          throw TypeError(msg("[linalg::norm] ord must be None, a number or a string; got ",
                              nb::cast<std::string>(nb::str(ord.type().attr("__name__"))), "."));
        return la::norm(a, p, ax, keepdims, sd(s));
      },
      "a"_a, nb::arg("ord").none() = nb::none(), nb::arg("axis").none() = nb::none(), "keepdims"_a = false, kw, st,
      nb::sig("def norm(a: array, /, ord: None | int | float | str = None, axis: None | int | list[int] = None, "
              "keepdims: bool = False, *, stream: None | Stream | Device = None) -> array"),
      R"(Matrix or vector norm.

Args:
    a: Input array. With ``axis=None`` and ``ord=None`` the 2-norm of the flattened array;
      with ``ord`` given and ``axis=None`` it must be 1-D or 2-D.
    ord: Order of the norm: a number (``inf``, ``-inf``, ``0``, ``p``) for vectors;
      ``'fro'``, ``'nuc'``, ``inf``, ``-inf``, ``1``, ``-1``, ``2``, ``-2`` for matrices.
    axis: One axis (vector norm) or two axes (matrix norm).
    keepdims: Keep the reduced axes with size one.

Returns:
    array: The norm (real for complex inputs).

Example:
    >>> mx.linalg.norm(mx.array([3.0, 4.0]))
    array(5, dtype=float32)
)");

#define UNARY_LA(NAME, DOC)                                                                   \
  m.def(#NAME, [](nb::handle a, StreamArg s) { return la::NAME(to_array(a), sd(s)); }, "a"_a, kw, st, \
        nb::sig("def " #NAME "(a: array, *, stream: None | Stream | Device = None) -> array"), DOC);
  UNARY_LA(inv, "Inverse of square matrices (last two axes). A singular matrix raises RuntimeError.")
  UNARY_LA(pinv, "Moore-Penrose pseudo-inverse computed from the SVD.")
  UNARY_LA(eigvals, "Eigenvalues (complex64) of square matrices.")
  UNARY_LA(det, "Determinant of square matrices, from the LU factorization.")
#undef UNARY_LA

  m.def("tri_inv", [](nb::handle a, bool upper, StreamArg s) { return la::tri_inv(to_array(a), upper, sd(s)); },
        "a"_a, "upper"_a = false, kw, st,
        nb::sig("def tri_inv(a: array, upper: bool = False, *, stream: None | Stream | Device = None) -> array"),
        "Inverse of the lower (or upper) triangle of square matrices; the other triangle is ignored.");
  m.def("cholesky", [](nb::handle a, bool upper, StreamArg s) { return la::cholesky(to_array(a), upper, sd(s)); },
        "a"_a, "upper"_a = false, kw, st,
        nb::sig("def cholesky(a: array, upper: bool = False, *, stream: None | Stream | Device = None) -> array"),
        "Cholesky factor L (A = L L^T) or, with upper=True, U (A = U^T U) of symmetric positive "
        "definite matrices. Reads one triangle; a matrix that is not positive definite raises RuntimeError.");
  m.def("cholesky_inv",
        [](nb::handle a, bool upper, StreamArg s) { return la::cholesky_inv(to_array(a), upper, sd(s)); }, "a"_a,
        "upper"_a = false, kw, st,
        nb::sig("def cholesky_inv(a: array, upper: bool = False, *, stream: None | Stream | Device = None) -> array"),
        "Inverse of A given its Cholesky factor (lower L, or upper U with upper=True).");
  m.def("cross",
        [](nb::handle a, nb::handle b, int axis, StreamArg s) {
          auto [x, y] = to_arrays(a, b);
          return la::cross(x, y, axis, sd(s));
        },
        "a"_a, "b"_a, "axis"_a = -1, kw, st,
        nb::sig("def cross(a: array, b: array, axis: int = -1, *, stream: None | Stream | Device = None) -> array"),
        "Cross product of 2- or 3-element vectors along axis.");
  m.def("qr", [](nb::handle a, StreamArg s) {
          auto [q, r] = la::qr(to_array(a), sd(s));
          return nb::make_tuple(q, r);
        },
        "a"_a, kw, st,
        nb::sig("def qr(a: array, *, stream: None | Stream | Device = None) -> tuple[array, array]"),
        "Reduced QR factorization: Q (M x K) with orthonormal columns and upper-triangular R (K x N).");
  m.def("svd",
        [](nb::handle a, bool compute_uv, StreamArg s) -> nb::object {
          auto r = la::svd(to_array(a), compute_uv, sd(s));
          if (!compute_uv) return nb::cast(r[0]);
          return tup(r);
        },
        "a"_a, "compute_uv"_a = true, kw, st,
        nb::sig("def svd(a: array, compute_uv: bool = True, *, stream: None | Stream | Device = None) "
                "-> tuple[array, array, array] | array"),
        "Singular value decomposition A = U diag(S) Vt with full U and Vt; S only with compute_uv=False.");
  m.def("eig", [](nb::handle a, StreamArg s) {
          auto [w, v] = la::eig(to_array(a), sd(s));
          return nb::make_tuple(w, v);
        },
        "a"_a, kw, st,
        nb::sig("def eig(a: array, *, stream: None | Stream | Device = None) -> tuple[array, array]"),
        "Eigenvalues and right eigenvectors (as columns), both complex64.");
  m.def("eigh", [](nb::handle a, std::string uplo, StreamArg s) {
          auto [w, v] = la::eigh(to_array(a), uplo, sd(s));
          return nb::make_tuple(w, v);
        },
        "a"_a, "UPLO"_a = "L", kw, st,
        nb::sig("def eigh(a: array, UPLO: str = 'L', *, stream: None | Stream | Device = None) -> tuple[array, array]"),
        "Eigenvalues (ascending) and orthonormal eigenvectors (columns) of symmetric/Hermitian matrices, "
        "read from the UPLO triangle.");
  m.def("eigvalsh", [](nb::handle a, std::string uplo, StreamArg s) { return la::eigvalsh(to_array(a), uplo, sd(s)); },
        "a"_a, "UPLO"_a = "L", kw, st,
        nb::sig("def eigvalsh(a: array, UPLO: str = 'L', *, stream: None | Stream | Device = None) -> array"),
        "Eigenvalues (ascending) of symmetric/Hermitian matrices.");
  m.def("lu", [](nb::handle a, StreamArg s) { return tup(la::lu(to_array(a), sd(s))); }, "a"_a, kw, st,
        nb::sig("def lu(a: array, *, stream: None | Stream | Device = None) -> tuple[array, array, array]"),
        "LU factorization with partial pivoting: (p, L, U) with A = (L @ U)[p].");
  m.def("lu_factor", [](nb::handle a, StreamArg s) {
          auto [lu, piv] = la::lu_factor(to_array(a), sd(s));
          return nb::make_tuple(lu, piv);
        },
        "a"_a, kw, st,
        nb::sig("def lu_factor(a: array, *, stream: None | Stream | Device = None) -> tuple[array, array]"),
        "Packed LU factors and 0-based pivots (uint32), as LAPACK's getrf.");
  m.def("slogdet", [](nb::handle a, StreamArg s) {
          auto [sg, ld] = la::slogdet(to_array(a), sd(s));
          return nb::make_tuple(sg, ld);
        },
        "a"_a, kw, st,
        nb::sig("def slogdet(a: array, *, stream: None | Stream | Device = None) -> tuple[array, array]"),
        "Sign and natural log of the absolute value of the determinant.");
  m.def("solve",
        [](nb::handle a, nb::handle b, StreamArg s) {
          auto [x, y] = to_arrays(a, b);
          return la::solve(x, y, sd(s));
        },
        "a"_a, "b"_a, kw, st,
        nb::sig("def solve(a: array, b: array, *, stream: None | Stream | Device = None) -> array"),
        "Solves a @ x = b; a 1-D b is one vector. A singular a raises RuntimeError.");
  m.def("solve_triangular",
        [](nb::handle a, nb::handle b, bool upper, StreamArg s) {
          auto [x, y] = to_arrays(a, b);
          return la::solve_triangular(x, y, upper, sd(s));
        },
        "a"_a, "b"_a, kw, "upper"_a = false, st,
        nb::sig("def solve_triangular(a: array, b: array, *, upper: bool = False, "
                "stream: None | Stream | Device = None) -> array"),
        "Solves T @ x = b for T the lower (upper) triangle of a.");
}

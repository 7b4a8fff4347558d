// The linalg primitives on the GPU through cuSOLVER (64-bit generic API where it exists) and
// cuBLAS: float32, and complex64 for SVD and Eigh (as the CPU kernels). Each batch of matrices is
// gathered into one scratch buffer in the layout the solver wants, the solver runs matrix by
// matrix on the one stream, and small kernels (linalg_kernels.cu) write row-major outputs.
//
// Layout: LAPACK/cuSOLVER are column-major. A row-major copy of A is the column-major A^T, which
// some ops use as is (Cholesky, triangular inverse, inverse, solve_triangular: see each one);
// the others gather a column-major copy and transpose the results back.
//
// Errors: where the CPU kernel raises on a LAPACK info (singular matrix, not positive definite,
// no convergence), the infos are read back (one stream synchronization) and the same
// RuntimeError is raised. Empty matrices and other dtypes go to the host (return false).
#ifdef MLX_CUDA_HAS_CUSOLVER

#include <cublas_v2.h>
#include <cusolverDn.h>

#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mlx/backend/cuda/cuda.h"
#include "mlx/backend/cuda/linalg_kernels.h"
#include "mlx/errors.h"
#include "mlx/primitives/linalg.h"

namespace mlx::core::cu {

namespace {

void check(cusolverStatus_t s, const char* what) {
  if (s != CUSOLVER_STATUS_SUCCESS)
    throw std::runtime_error(msg("[linalg] ", what, " failed; got cusolverStatus ", static_cast<int>(s), "."));
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(msg("[linalg] ", what, " failed; got ", cublasGetStatusString(s), "."));
}

cusolverDnHandle_t solver() {
  static cusolverDnHandle_t h = [] {
    cusolverDnHandle_t x;
    check(cusolverDnCreate(&x), "cusolverDnCreate");
    return x;
  }();
  static cudaStream_t last = nullptr;
  bind_stream(last, [&](cudaStream_t s) { check(cusolverDnSetStream(h, s), "cusolverDnSetStream"); });
  return h;
}

cusolverDnParams_t params() {
  static cusolverDnParams_t p = [] {
    cusolverDnParams_t x;
    check(cusolverDnCreateParams(&x), "cusolverDnCreateParams");
    return x;
  }();
  return p;
}

cublasHandle_t blas() {
  static cublasHandle_t h = [] {
    cublasHandle_t x;
    check(cublasCreate(&x), "cublasCreate");
    return x;
  }();
  static cudaStream_t last = nullptr;
  bind_stream(last, [&](cudaStream_t s) { check(cublasSetStream(h, s), "cublasSetStream"); });
  return h;
}

// Solver workspaces: device scratch, and a host buffer (most routines ask for none; where one
// does, the stream is synchronized after each call so that the buffer can be reused and freed).
struct Work {
  Scratch dev;
  std::vector<char> host;
  Work(size_t d, size_t h) : dev(std::max<size_t>(d, 1)), host(h) {}
  void* d() const { return dev.p; }
  size_t dn() const { return dev.n; }
  void* h() { return host.empty() ? nullptr : host.data(); }
  size_t hn() const { return host.size(); }
  void after_call() {
    if (!host.empty()) MLX_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
};

int64_t batch_count(const array& x) {
  int64_t b = 1;
  for (int i = 0; i + 2 < static_cast<int>(x.ndim()); ++i) b *= x.shape(i);
  return b;
}

std::string batch_note(const array& x, int64_t b) {
  return batch_count(x) > 1 ? msg(" (matrix ", b, " of the batch)") : std::string();
}

bool handled(Dtype t, bool complex_ok) { return t == Dtype::float32 || (complex_ok && t == Dtype::complex64); }

cudaDataType cuda_type(Dtype t) { return t == Dtype::complex64 ? CUDA_C_32F : CUDA_R_32F; }

// The layout in which the matrices of x are read into a dense buffer: row by row (their
// row-major copy), or with `swap` column by column (their column-major copy). False when the
// layout has too many dims for the gather kernel.
bool plan(const array& x, bool swap, Strided& s) {
  int nd = static_cast<int>(x.ndim());
  Shape sh = x.shape();
  Strides st = x.strides();
  if (swap) {
    std::swap(sh[nd - 1], sh[nd - 2]);
    std::swap(st[nd - 1], st[nd - 2]);
  }
  array v(sh, x.dtype(), nullptr, {});
  v.set_data(std::make_shared<Data>(Buffer{nullptr, 0}, nullptr), 0, st, Flags{false, false, false});
  return collapse(sh, {&v}, s);
}

void load(const array& x, const Strided& s, void* dst) {
  la::gather(in_ptr(x), dst, static_cast<int64_t>(x.size()), s, static_cast<int>(x.itemsize()));
}

// First matrix (lowest index) whose info is not 0, and that info; {-1, 0} if none. Waits for
// the stream.
std::pair<int64_t, int> first_bad(const int* dinfo, int64_t batch) {
  std::vector<int> h(batch);
  MLX_CUDA_CHECK(cudaMemcpyAsync(h.data(), dinfo, sizeof(int) * batch, cudaMemcpyDeviceToHost, stream()));
  MLX_CUDA_CHECK(cudaStreamSynchronize(stream()));
  for (int64_t b = 0; b < batch; ++b)
    if (h[b] != 0) return {b, h[b]};
  return {-1, 0};
}

void check_internal(int info, const char* op) {
  if (info < 0)
    throw std::runtime_error(msg("[", op, "] cuSOLVER rejected argument ", -info, "; got an internal error."));
}

// Raises as the CPU does when an iterative decomposition of some matrix did not converge.
void check_converged(const int* dinfo, int64_t batch, const array& a, const char* op, const char* what) {
  auto [bad, code] = first_bad(dinfo, batch);
  check_internal(code, op);
  if (bad >= 0)
    throw std::runtime_error(msg("[", op, "] ", what, " did not converge", batch_note(a, bad), "; got LAPACK info ",
                                 code, "."));
}

// ---- Inverse ----

bool eval_inverse(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Inverse&>(prim);
  const array& a = inputs[0];
  array& out = outputs[0];
  if (!handled(a.dtype(), false) || out.dtype() != a.dtype()) return false;
  int64_t n = a.shape(-1), batch = batch_count(a);
  if (n == 0 || batch == 0) return false;
  Strided s;
  if (!plan(a, false, s)) return false;
  const char* op = p.tri_ ? "linalg::tri_inv" : "linalg::inv";
  Scratch info(sizeof(int) * batch);
  float* o = static_cast<float*>(alloc_out(out));
  if (p.tri_) {
    // The row-major copy is the column-major A^T, whose other triangle holds T^T; trtri inverts
    // it in place to (T^-1)^T, which read row-major is T^-1. The rest is then zeroed.
    load(a, s, o);
    cublasFillMode_t uplo = p.upper_ ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
    size_t dws = 0, hws = 0;
    check(cusolverDnXtrtri_bufferSize(solver(), uplo, CUBLAS_DIAG_NON_UNIT, n, CUDA_R_32F, o, n, &dws, &hws),
          "cusolverDnXtrtri_bufferSize");
    Work w(dws, hws);
    for (int64_t b = 0; b < batch; ++b) {
      check(cusolverDnXtrtri(solver(), uplo, CUBLAS_DIAG_NON_UNIT, n, CUDA_R_32F, o + b * n * n, n, w.d(), w.dn(),
                             w.h(), w.hn(), info.as<int>() + b),
            "cusolverDnXtrtri");
      w.after_call();
    }
    la::store(o, n * n, n, 1, o, batch, n, n, p.upper_ ? la::kUpper : la::kLower, 4);
  } else {
    // LU of the row-major copy (the column-major A^T), then solve A^T X = I: X = (A^-1)^T in
    // column-major order is A^-1 in row-major order.
    Scratch lu(sizeof(float) * batch * n * n), ipiv(sizeof(int64_t) * batch * n), info2(sizeof(int));
    load(a, s, lu.p);
    la::eye(o, batch, n);
    size_t dws = 0, hws = 0;
    check(cusolverDnXgetrf_bufferSize(solver(), params(), n, n, CUDA_R_32F, lu.p, n, CUDA_R_32F, &dws, &hws),
          "cusolverDnXgetrf_bufferSize");
    Work w(dws, hws);
    for (int64_t b = 0; b < batch; ++b) {
      float* ab = lu.as<float>() + b * n * n;
      int64_t* pb = ipiv.as<int64_t>() + b * n;
      check(cusolverDnXgetrf(solver(), params(), n, n, CUDA_R_32F, ab, n, pb, CUDA_R_32F, w.d(), w.dn(), w.h(),
                             w.hn(), info.as<int>() + b),
            "cusolverDnXgetrf");
      w.after_call();
      check(cusolverDnXgetrs(solver(), params(), CUBLAS_OP_N, n, n, CUDA_R_32F, ab, n, pb, CUDA_R_32F,
                             o + b * n * n, n, info2.as<int>()),
            "cusolverDnXgetrs");
    }
  }
  auto [bad, code] = first_bad(info.as<int>(), batch);
  check_internal(code, op);
  if (bad >= 0)
    throw std::runtime_error(msg("[", op, "] the matrix is singular", batch_note(a, bad),
                                 "; got a zero pivot at diagonal entry ", code - 1, "."));
  return true;
}

// ---- Cholesky ----

bool eval_cholesky(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Cholesky&>(prim);
  const array& a = inputs[0];
  array& out = outputs[0];
  if (!handled(a.dtype(), false) || out.dtype() != a.dtype()) return false;
  int64_t n = a.shape(-1), batch = batch_count(a);
  if (n == 0 || batch == 0) return false;
  Strided s;
  if (!plan(a, false, s)) return false;
  // The row-major copy is the column-major A^T: its other triangle holds the one the CPU reads
  // (the symmetric matrix is the same), and the factor it returns there, read row-major, is
  // L (A = L L^T) or U (A = U^T U).
  float* o = static_cast<float*>(alloc_out(out));
  load(a, s, o);
  cublasFillMode_t uplo = p.upper_ ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  size_t dws = 0, hws = 0;
  check(cusolverDnXpotrf_bufferSize(solver(), params(), uplo, n, CUDA_R_32F, o, n, CUDA_R_32F, &dws, &hws),
        "cusolverDnXpotrf_bufferSize");
  Work w(dws, hws);
  Scratch info(sizeof(int) * batch);
  for (int64_t b = 0; b < batch; ++b) {
    check(cusolverDnXpotrf(solver(), params(), uplo, n, CUDA_R_32F, o + b * n * n, n, CUDA_R_32F, w.d(), w.dn(),
                           w.h(), w.hn(), info.as<int>() + b),
          "cusolverDnXpotrf");
    w.after_call();
  }
  la::store(o, n * n, n, 1, o, batch, n, n, p.upper_ ? la::kUpper : la::kLower, 4);
  auto [bad, code] = first_bad(info.as<int>(), batch);
  check_internal(code, "linalg::cholesky");
  if (bad >= 0)
    throw std::runtime_error(msg("[linalg::cholesky] the matrix is not positive definite", batch_note(a, bad),
                                 "; got a non-positive pivot at diagonal entry ", code - 1, "."));
  return true;
}

// ---- QR ----

bool eval_qrf(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  if (!handled(a.dtype(), false) || outputs[0].dtype() != a.dtype()) return false;
  int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n), batch = batch_count(a);
  if (k == 0 || batch == 0 || m > INT_MAX || n > INT_MAX) return false;
  Strided s;
  if (!plan(a, true, s)) return false;
  Scratch buf(sizeof(float) * batch * m * n), tau(sizeof(float) * batch * k), info(sizeof(int) * batch);
  load(a, s, buf.p);
  float* A = buf.as<float>();
  float* T = tau.as<float>();
  size_t dws = 0, hws = 0;
  check(cusolverDnXgeqrf_bufferSize(solver(), params(), m, n, CUDA_R_32F, A, m, CUDA_R_32F, T, CUDA_R_32F, &dws,
                                    &hws),
        "cusolverDnXgeqrf_bufferSize");
  int lwork = 0;
  check(cusolverDnSorgqr_bufferSize(solver(), int(m), int(k), int(k), A, int(m), T, &lwork),
        "cusolverDnSorgqr_bufferSize");
  Work w(std::max(dws, sizeof(float) * std::max(lwork, 1)), hws);
  for (int64_t b = 0; b < batch; ++b) {
    check(cusolverDnXgeqrf(solver(), params(), m, n, CUDA_R_32F, A + b * m * n, m, CUDA_R_32F, T + b * k,
                           CUDA_R_32F, w.d(), w.dn(), w.h(), w.hn(), info.as<int>() + b),
          "cusolverDnXgeqrf");
    w.after_call();
  }
  // R: the upper triangle of the first k rows (column-major, leading dim m).
  la::store(A, m * n, 1, m, alloc_out(outputs[1]), batch, k, n, la::kUpper, 4);
  int lw = static_cast<int>(w.dn() / sizeof(float));
  for (int64_t b = 0; b < batch; ++b)
    check(cusolverDnSorgqr(solver(), int(m), int(k), int(k), A + b * m * n, int(m), T + b * k, w.dev.as<float>(),
                           lw, info.as<int>() + b),
          "cusolverDnSorgqr");
  // Q: the first k columns.
  la::store(A, m * n, 1, m, alloc_out(outputs[0]), batch, m, k, la::kAll, 4);
  return true;
}

// ---- SVD ----

bool eval_svd(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<SVD&>(prim);
  const array& a = inputs[0];
  Dtype dt = a.dtype();
  if (!handled(dt, true)) return false;
  bool uv = p.compute_uv_;
  if (uv && (outputs[0].dtype() != dt || outputs[2].dtype() != dt)) return false;
  if ((uv ? outputs[1] : outputs[0]).dtype() != Dtype::float32) return false;
  int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n), batch = batch_count(a);
  if (k == 0 || batch == 0) return false;
  // gesvd needs rows >= cols: a wide A is factored as A^T = U' S V'^H (its row-major copy is the
  // column-major A^T), so that U = (V'^H)^T and V^H = U'^T: the column-major V'^H and U' are the
  // row-major U and V^H, written straight into the outputs.
  bool wide = m < n;
  int64_t mm = wide ? n : m, nn = wide ? m : n;
  Strided s;
  if (!plan(a, !wide, s)) return false;
  size_t isz = a.itemsize();
  cudaDataType ta = cuda_type(dt);
  Scratch buf(isz * batch * m * n), info(sizeof(int) * batch);
  load(a, s, buf.p);
  char* A = buf.as<char>();
  float* S = static_cast<float*>(alloc_out(uv ? outputs[1] : outputs[0]));
  char* U = nullptr;
  char* VT = nullptr;
  int64_t u_stride = mm * mm, vt_stride = nn * nn;  // elements per matrix
  std::unique_ptr<Scratch> su, svt;
  char *uo = nullptr, *vo = nullptr;
  if (uv) {
    uo = static_cast<char*>(alloc_out(outputs[0]));
    vo = static_cast<char*>(alloc_out(outputs[2]));
    if (wide) {
      U = vo;   // U' (n x n) is the row-major V^H
      VT = uo;  // V'^H (m x m) is the row-major U
    } else {
      su = std::make_unique<Scratch>(isz * batch * u_stride);
      svt = std::make_unique<Scratch>(isz * batch * vt_stride);
      U = su->as<char>();
      VT = svt->as<char>();
    }
  }
  signed char job = uv ? 'A' : 'N';
  size_t dws = 0, hws = 0;
  check(cusolverDnXgesvd_bufferSize(solver(), params(), job, job, mm, nn, ta, A, mm, CUDA_R_32F, S, ta, U, mm, ta,
                                    VT, nn, ta, &dws, &hws),
        "cusolverDnXgesvd_bufferSize");
  Work w(dws, hws);
  for (int64_t b = 0; b < batch; ++b) {
    check(cusolverDnXgesvd(solver(), params(), job, job, mm, nn, ta, A + b * m * n * isz, mm, CUDA_R_32F, S + b * k,
                           ta, uv ? U + b * u_stride * isz : nullptr, mm, ta,
                           uv ? VT + b * vt_stride * isz : nullptr, nn, ta, w.d(), w.dn(), w.h(), w.hn(),
                           info.as<int>() + b),
          "cusolverDnXgesvd");
    w.after_call();
  }
  if (uv && !wide) {
    la::store(U, m * m, 1, m, uo, batch, m, m, la::kAll, int(isz));
    la::store(VT, n * n, 1, n, vo, batch, n, n, la::kAll, int(isz));
  }
  check_converged(info.as<int>(), batch, a, "linalg::svd", "the decomposition");
  return true;
}

// ---- Eigh ----

bool eval_eigh(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Eigh&>(prim);
  const array& a = inputs[0];
  Dtype dt = a.dtype();
  if (!handled(dt, true) || outputs[0].dtype() != Dtype::float32) return false;
  bool vecs = p.compute_vectors_;
  if (vecs && outputs[1].dtype() != dt) return false;
  int64_t n = a.shape(-1), batch = batch_count(a);
  if (n == 0 || batch == 0) return false;
  Strided s;
  if (!plan(a, true, s)) return false;
  size_t isz = a.itemsize();
  cudaDataType ta = cuda_type(dt);
  Scratch buf(isz * batch * n * n), info(sizeof(int) * batch);
  load(a, s, buf.p);
  char* A = buf.as<char>();
  float* W = static_cast<float*>(alloc_out(outputs[0]));
  cusolverEigMode_t jobz = vecs ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  cublasFillMode_t uplo = p.upper_ ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
  size_t dws = 0, hws = 0;
  check(cusolverDnXsyevd_bufferSize(solver(), params(), jobz, uplo, n, ta, A, n, CUDA_R_32F, W, ta, &dws, &hws),
        "cusolverDnXsyevd_bufferSize");
  Work w(dws, hws);
  for (int64_t b = 0; b < batch; ++b) {
    check(cusolverDnXsyevd(solver(), params(), jobz, uplo, n, ta, A + b * n * n * isz, n, CUDA_R_32F, W + b * n, ta,
                           w.d(), w.dn(), w.h(), w.hn(), info.as<int>() + b),
          "cusolverDnXsyevd");
    w.after_call();
  }
  // Eigenvectors are the columns of the column-major result.
  if (vecs) la::store(A, n * n, 1, n, alloc_out(outputs[1]), batch, n, n, la::kAll, int(isz));
  check_converged(info.as<int>(), batch, a, "linalg::eigh", "the eigensolver");
  return true;
}

// ---- Eig ----

// cusolverDnXgeev on complex64 matrices (a float32 input is widened first: the complex QR
// algorithm gives its eigenpairs directly as complex values). Right eigenvectors only, in
// LAPACK's normalization (unit norm, largest component real), as columns.
bool eval_eig(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Eig&>(prim);
  const array& a = inputs[0];
  Dtype dt = a.dtype();
  if (!handled(dt, true) || outputs[0].dtype() != Dtype::complex64) return false;
  bool vecs = p.compute_vectors_;
  if (vecs && outputs[1].dtype() != Dtype::complex64) return false;
  int64_t n = a.shape(-1), batch = batch_count(a);
  if (n == 0 || batch == 0) return false;
  Strided s;
  if (!plan(a, true, s)) return false;
  const int64_t nn = n * n;
  const size_t csz = 8;  // complex64
  Scratch buf(a.itemsize() * batch * nn), info(sizeof(int) * batch);
  load(a, s, buf.p);
  Scratch wide;
  char* A = buf.as<char>();
  if (dt == Dtype::float32) {
    // Each float becomes the real part of a complex64 (imaginary parts zero).
    wide.alloc(csz * batch * nn);
    MLX_CUDA_CHECK(cudaMemsetAsync(wide.p, 0, csz * batch * nn, stream()));
    MLX_CUDA_CHECK(cudaMemcpy2DAsync(wide.p, csz, buf.p, sizeof(float), sizeof(float), static_cast<size_t>(batch * nn),
                                     cudaMemcpyDeviceToDevice, stream()));
    A = wide.as<char>();
  }
  char* W = static_cast<char*>(alloc_out(outputs[0]));
  Scratch vr(vecs ? csz * batch * nn : 0);
  cusolverEigMode_t jobvr = vecs ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  size_t dws = 0, hws = 0;
  // A cuSOLVER without geev for this configuration leaves the node to the host.
  if (cusolverDnXgeev_bufferSize(solver(), params(), CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, CUDA_C_32F, A, n, CUDA_C_32F,
                                 W, CUDA_C_32F, nullptr, n, CUDA_C_32F, vr.p, n, CUDA_C_32F, &dws,
                                 &hws) != CUSOLVER_STATUS_SUCCESS) {
    return false;  // the host kernel's allocation replaces the output's device buffer
  }
  Work w(dws, hws);
  for (int64_t b = 0; b < batch; ++b) {
    check(cusolverDnXgeev(solver(), params(), CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, CUDA_C_32F, A + b * nn * csz, n,
                          CUDA_C_32F, W + b * n * csz, CUDA_C_32F, nullptr, n, CUDA_C_32F,
                          vecs ? vr.as<char>() + b * nn * csz : nullptr, n, CUDA_C_32F, w.d(), w.dn(), w.h(), w.hn(),
                          info.as<int>() + b),
          "cusolverDnXgeev");
    w.after_call();
  }
  // Eigenvectors are the columns of the column-major result.
  if (vecs) la::store(vr.p, nn, 1, n, alloc_out(outputs[1]), batch, n, n, la::kAll, int(csz));
  check_converged(info.as<int>(), batch, a, "linalg::eig", "the QR algorithm");
  return true;
}

// ---- LU ----

bool eval_luf(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  if (!handled(a.dtype(), false) || outputs[0].dtype() != a.dtype()) return false;
  for (int i = 1; i < 4; ++i)
    if (outputs[i].dtype() != Dtype::uint32) return false;
  int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n), batch = batch_count(a);
  if (k == 0 || batch == 0) return false;
  Strided s;
  if (!plan(a, true, s)) return false;
  Scratch buf(sizeof(float) * batch * m * n), ipiv(sizeof(int64_t) * batch * k), info(sizeof(int) * batch);
  load(a, s, buf.p);
  float* A = buf.as<float>();
  size_t dws = 0, hws = 0;
  check(cusolverDnXgetrf_bufferSize(solver(), params(), m, n, CUDA_R_32F, A, m, CUDA_R_32F, &dws, &hws),
        "cusolverDnXgetrf_bufferSize");
  Work w(dws, hws);
  for (int64_t b = 0; b < batch; ++b) {
    // info > 0 (an exactly zero pivot) is not an error here, as on the CPU.
    check(cusolverDnXgetrf(solver(), params(), m, n, CUDA_R_32F, A + b * m * n, m, ipiv.as<int64_t>() + b * k,
                           CUDA_R_32F, w.d(), w.dn(), w.h(), w.hn(), info.as<int>() + b),
          "cusolverDnXgetrf");
    w.after_call();
  }
  la::store(A, m * n, 1, m, alloc_out(outputs[0]), batch, m, n, la::kAll, 4);
  auto* piv = static_cast<uint32_t*>(alloc_out(outputs[1]));
  auto* pp = static_cast<uint32_t*>(alloc_out(outputs[2]));
  auto* pq = static_cast<uint32_t*>(alloc_out(outputs[3]));
  la::lu_perms(ipiv.as<int64_t>(), batch, m, k, piv, pp, pq);
  return true;
}

// ---- Solve ----

bool solve_shapes_ok(const array& a, const array& b, const array& out) {
  if (a.ndim() != out.ndim() || b.ndim() != out.ndim()) return false;
  for (int i = 0; i + 2 < static_cast<int>(out.ndim()); ++i)
    if (a.shape(i) != out.shape(i) || b.shape(i) != out.shape(i)) return false;
  return true;
}

bool eval_solve(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &bm = inputs[1];
  array& out = outputs[0];
  if (!handled(out.dtype(), false) || a.dtype() != out.dtype() || bm.dtype() != out.dtype()) return false;
  if (!solve_shapes_ok(a, bm, out)) return false;
  int64_t n = a.shape(-1), k = bm.shape(-1), batch = batch_count(out);
  if (n == 0 || k == 0 || batch == 0) return false;
  Strided sa, sb;
  if (!plan(a, true, sa) || !plan(bm, true, sb)) return false;
  Scratch abuf(sizeof(float) * batch * n * n), bbuf(sizeof(float) * batch * n * k),
      ipiv(sizeof(int64_t) * batch * n), info(sizeof(int) * batch), info2(sizeof(int));
  load(a, sa, abuf.p);
  load(bm, sb, bbuf.p);
  float* A = abuf.as<float>();
  float* B = bbuf.as<float>();
  size_t dws = 0, hws = 0;
  check(cusolverDnXgetrf_bufferSize(solver(), params(), n, n, CUDA_R_32F, A, n, CUDA_R_32F, &dws, &hws),
        "cusolverDnXgetrf_bufferSize");
  Work w(dws, hws);
  for (int64_t b = 0; b < batch; ++b) {
    float* ab = A + b * n * n;
    int64_t* pb = ipiv.as<int64_t>() + b * n;
    check(cusolverDnXgetrf(solver(), params(), n, n, CUDA_R_32F, ab, n, pb, CUDA_R_32F, w.d(), w.dn(), w.h(), w.hn(),
                           info.as<int>() + b),
          "cusolverDnXgetrf");
    w.after_call();
    check(cusolverDnXgetrs(solver(), params(), CUBLAS_OP_N, n, k, CUDA_R_32F, ab, n, pb, CUDA_R_32F, B + b * n * k,
                           n, info2.as<int>()),
          "cusolverDnXgetrs");
  }
  la::store(B, n * k, 1, n, alloc_out(out), batch, n, k, la::kAll, 4);
  auto [bad, code] = first_bad(info.as<int>(), batch);
  check_internal(code, "linalg::solve");
  if (bad >= 0)
    throw std::runtime_error(msg("[linalg::solve] the matrix is singular", batch_note(out, bad),
                                 "; got a zero pivot at diagonal entry ", code - 1, "."));
  return true;
}

// ---- SolveTriangular ----

bool eval_solve_triangular(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<SolveTriangular&>(prim);
  const array &a = inputs[0], &bm = inputs[1];
  array& out = outputs[0];
  if (!handled(out.dtype(), false) || a.dtype() != out.dtype() || bm.dtype() != out.dtype()) return false;
  if (!solve_shapes_ok(a, bm, out)) return false;
  int64_t n = a.shape(-1), k = bm.shape(-1), batch = batch_count(out);
  if (n == 0 || k == 0 || batch == 0 || n > INT_MAX || k > INT_MAX) return false;
  Strided sa, sb;
  if (!plan(a, false, sa) || !plan(bm, false, sb)) return false;
  // Row-major copies are the column-major A^T (n x n) and B^T (k x n). X = T^-1 B is solved as
  // X^T T^T = B^T (trsm from the right), T^T being the other triangle of A^T; X^T column-major
  // is X row-major, computed in place in the output.
  Scratch abuf(sizeof(float) * batch * n * n), info(sizeof(int) * batch);
  load(a, sa, abuf.p);
  float* X = static_cast<float*>(alloc_out(out));
  load(bm, sb, X);
  float* A = abuf.as<float>();
  la::diag_zero_info(A, n * n, n, n, info.as<int>(), batch);
  cublasFillMode_t uplo = p.upper_ ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  const float one = 1.0f;
  for (int64_t b = 0; b < batch; ++b)
    check(cublasStrsm(blas(), CUBLAS_SIDE_RIGHT, uplo, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, int(k), int(n), &one,
                      A + b * n * n, int(n), X + b * n * k, int(k)),
          "cublasStrsm");
  auto [bad, code] = first_bad(info.as<int>(), batch);
  if (bad >= 0)
    throw std::runtime_error(msg("[linalg::solve_triangular] the matrix is singular", batch_note(out, bad),
                                 "; got a zero pivot at diagonal entry ", code - 1, "."));
  return true;
}

}  // namespace

// cuSOLVER calls allocate and read results back on the host: none of it can be captured into
// a CUDA graph.
template <bool (*F)(Primitive&, const std::vector<array>&, std::vector<array>&)>
bool uncaptured(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  graph_break();
  return F(p, inputs, outputs);
}

MLX_CUDA_KERNEL(Inverse, uncaptured<eval_inverse>);
MLX_CUDA_KERNEL(Cholesky, uncaptured<eval_cholesky>);
MLX_CUDA_KERNEL(QRF, uncaptured<eval_qrf>);
MLX_CUDA_KERNEL(SVD, uncaptured<eval_svd>);
MLX_CUDA_KERNEL(Eigh, uncaptured<eval_eigh>);
MLX_CUDA_KERNEL(Eig, uncaptured<eval_eig>);
MLX_CUDA_KERNEL(LUF, uncaptured<eval_luf>);
MLX_CUDA_KERNEL(Solve, uncaptured<eval_solve>);
MLX_CUDA_KERNEL(SolveTriangular, uncaptured<eval_solve_triangular>);

}  // namespace mlx::core::cu

#endif  // MLX_CUDA_HAS_CUSOLVER

// CPU kernels of the linalg primitives through LAPACK (scipy-openblas32). Each matrix of the
// batch is copied into a column-major scratch buffer, factored, and copied out row-major.
#include "mlx/backend/cpu/blas.h"

#include <atomic>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/linalg.h"

namespace mlx::core {

namespace {

using cf = std::complex<float>;
using cd = std::complex<double>;

template <typename T> struct RealOf { using type = T; };
template <typename T> struct RealOf<std::complex<T>> { using type = T; };
template <typename T> using real_t = typename RealOf<T>::type;

// ---- LAPACK wrappers, overloaded on the element type ----
void getrf(int m, int n, float* a, int lda, int* ipiv, int* info) { LAPACK_sgetrf(&m, &n, a, &lda, ipiv, info); }
void getrf(int m, int n, double* a, int lda, int* ipiv, int* info) { LAPACK_dgetrf(&m, &n, a, &lda, ipiv, info); }
void getri(int n, float* a, int lda, const int* ipiv, float* w, int lw, int* info) { LAPACK_sgetri(&n, a, &lda, ipiv, w, &lw, info); }
void getri(int n, double* a, int lda, const int* ipiv, double* w, int lw, int* info) { LAPACK_dgetri(&n, a, &lda, ipiv, w, &lw, info); }
void trtri(char uplo, int n, float* a, int lda, int* info) { scipy_LAPACK_strtri(&uplo, "N", &n, a, &lda, info); }
void trtri(char uplo, int n, double* a, int lda, int* info) { scipy_LAPACK_dtrtri(&uplo, "N", &n, a, &lda, info); }
void potrf(char uplo, int n, float* a, int lda, int* info) { scipy_LAPACK_spotrf(&uplo, &n, a, &lda, info); }
void potrf(char uplo, int n, double* a, int lda, int* info) { scipy_LAPACK_dpotrf(&uplo, &n, a, &lda, info); }
void geqrf(int m, int n, float* a, int lda, float* tau, float* w, int lw, int* info) { LAPACK_sgeqrf(&m, &n, a, &lda, tau, w, &lw, info); }
void geqrf(int m, int n, double* a, int lda, double* tau, double* w, int lw, int* info) { LAPACK_dgeqrf(&m, &n, a, &lda, tau, w, &lw, info); }
void orgqr(int m, int n, int k, float* a, int lda, const float* tau, float* w, int lw, int* info) { LAPACK_sorgqr(&m, &n, &k, a, &lda, tau, w, &lw, info); }
void orgqr(int m, int n, int k, double* a, int lda, const double* tau, double* w, int lw, int* info) { LAPACK_dorgqr(&m, &n, &k, a, &lda, tau, w, &lw, info); }
void gesv(int n, int k, float* a, int lda, int* ipiv, float* b, int ldb, int* info) { LAPACK_sgesv(&n, &k, a, &lda, ipiv, b, &ldb, info); }
void gesv(int n, int k, double* a, int lda, int* ipiv, double* b, int ldb, int* info) { LAPACK_dgesv(&n, &k, a, &lda, ipiv, b, &ldb, info); }
void trtrs(char uplo, int n, int k, const float* a, int lda, float* b, int ldb, int* info) { scipy_LAPACK_strtrs(&uplo, "N", "N", &n, &k, a, &lda, b, &ldb, info); }
void trtrs(char uplo, int n, int k, const double* a, int lda, double* b, int ldb, int* info) { scipy_LAPACK_dtrtrs(&uplo, "N", "N", &n, &k, a, &lda, b, &ldb, info); }

// gesdd: `rwork` is used by the complex variant only.
void gesdd(char job, int m, int n, float* a, int lda, float* s, float* u, int ldu, float* vt, int ldvt,
           float* w, int lw, float*, int* iw, int* info) {
  scipy_LAPACK_sgesdd(&job, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, w, &lw, iw, info);
}
void gesdd(char job, int m, int n, double* a, int lda, double* s, double* u, int ldu, double* vt, int ldvt,
           double* w, int lw, double*, int* iw, int* info) {
  scipy_LAPACK_dgesdd(&job, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, w, &lw, iw, info);
}
void gesdd(char job, int m, int n, cf* a, int lda, float* s, cf* u, int ldu, cf* vt, int ldvt,
           cf* w, int lw, float* rw, int* iw, int* info) {
  scipy_LAPACK_cgesdd(&job, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, w, &lw, rw, iw, info);
}

// syevd/heevd: `rwork` is used by the complex variant only.
void syevd(char job, char uplo, int n, float* a, int lda, float* w, float* wk, int lw, float*, int,
           int* iw, int liw, int* info) {
  scipy_LAPACK_ssyevd(&job, &uplo, &n, a, &lda, w, wk, &lw, iw, &liw, info);
}
void syevd(char job, char uplo, int n, double* a, int lda, double* w, double* wk, int lw, double*, int,
           int* iw, int liw, int* info) {
  scipy_LAPACK_dsyevd(&job, &uplo, &n, a, &lda, w, wk, &lw, iw, &liw, info);
}
void syevd(char job, char uplo, int n, cf* a, int lda, float* w, cf* wk, int lw, float* rw, int lrw,
           int* iw, int liw, int* info) {
  scipy_LAPACK_cheevd(&job, &uplo, &n, a, &lda, w, wk, &lw, rw, &lrw, iw, &liw, info);
}

// ---- moving matrices between strided arrays and column-major scratch ----

// Offset (elements) of matrix b of x, walking its batch strides (broadcast batches have stride 0).
int64_t batch_offset(const array& x, int64_t b) {
  int64_t off = 0;
  for (int i = static_cast<int>(x.ndim()) - 3; i >= 0; --i) {
    off += (b % x.shape(i)) * x.strides(i);
    b /= x.shape(i);
  }
  return off;
}

// dst[i + j*ld] = x[b][i][j] (converting to T).
template <typename T>
void load_cm(const array& x, int64_t b, T* dst, int ld) {
  int nd = static_cast<int>(x.ndim());
  int rows = x.shape(nd - 2), cols = x.shape(nd - 1);
  int64_t rs = x.strides(nd - 2), cs = x.strides(nd - 1);
  const T* src = x.data<T>() + batch_offset(x, b);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) dst[i + int64_t(j) * ld] = src[i * rs + j * cs];
}

// Row-major dst (rows x cols) from column-major src with leading dim ld.
template <typename T, typename U>
void store_rm(const U* src, int ld, T* dst, int rows, int cols) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) dst[int64_t(i) * cols + j] = static_cast<T>(src[i + int64_t(j) * ld]);
}

int64_t num_matrices(const array& x) {
  int64_t r = x.shape(-2), c = x.shape(-1);
  return r * c == 0 ? 0 : static_cast<int64_t>(x.size()) / (r * c);
}
int64_t batch_count(const array& x) {
  int64_t b = 1;
  for (int i = 0; i + 2 < static_cast<int>(x.ndim()); ++i) b *= x.shape(i);
  return b;
}

// Runs f(b) for each matrix; small matrices are spread over the pool. f returns a LAPACK info
// code; the first failing matrix's code is returned (exceptions must not cross the pool).
template <typename F>
std::pair<int64_t, int> for_each_matrix(int64_t batch, int n, F&& f) {
  std::atomic<int64_t> bad{-1};
  std::atomic<int> bad_info{0};
  auto run = [&](size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; ++b) {
      int info = f(static_cast<int64_t>(b));
      if (info != 0) {
        int64_t expected = -1;
        if (bad.compare_exchange_strong(expected, static_cast<int64_t>(b))) bad_info = info;
      }
    }
  };
  if (n <= 32 && batch > 1) {
    size_t grain = std::max<size_t>(1, 8192 / std::max<size_t>(1, size_t(n) * n * n));
    cpu::parallel_for(batch, grain, run);
  } else {
    run(0, batch);
  }
  return {bad.load(), bad_info.load()};
}

std::string batch_note(const array& x, int64_t b) {
  return batch_count(x) > 1 ? msg(" (matrix ", b, " of the batch)") : std::string();
}

void check_internal(int info, const char* op) {
  if (info < 0) throw std::runtime_error(msg("[", op, "] LAPACK rejected argument ", -info, "; got an internal error."));
}

// ---- kernels ----

template <typename T>
void inverse_impl(const array& a, array& out, bool tri, bool upper) {
  int n = a.shape(-1);
  int64_t batch = num_matrices(a);
  T* o = out.data<T>();
  int lwork = -1;
  if (!tri && n > 0) {
    T q;
    int info;
    std::vector<int> ip(1);
    getri(n, static_cast<T*>(nullptr), std::max(n, 1), ip.data(), &q, -1, &info);
    lwork = std::max<int>(n, static_cast<int>(q));
  }
  auto [bad, info] = for_each_matrix(batch, n, [&](int64_t b) {
    std::vector<T> buf(size_t(n) * n);
    load_cm(a, b, buf.data(), n);
    int info = 0;
    if (tri) {
      trtri(upper ? 'U' : 'L', n, buf.data(), n, &info);
      if (info != 0) return info;
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i)
          if (upper ? i > j : i < j) buf[i + size_t(j) * n] = T(0);
    } else {
      std::vector<int> ipiv(n);
      std::vector<T> work(lwork);
      getrf(n, n, buf.data(), n, ipiv.data(), &info);
      if (info != 0) return info;
      getri(n, buf.data(), n, ipiv.data(), work.data(), lwork, &info);
      if (info != 0) return info;
    }
    store_rm(buf.data(), n, o + b * n * n, n, n);
    return 0;
  });
  const char* op = tri ? "linalg::tri_inv" : "linalg::inv";
  check_internal(info, op);
  if (bad >= 0)
    throw std::runtime_error(msg("[", op, "] the matrix is singular", batch_note(a, bad),
                                 "; got a zero pivot at diagonal entry ", info - 1, "."));
}

template <typename T>
void cholesky_impl(const array& a, array& out, bool upper) {
  int n = a.shape(-1);
  T* o = out.data<T>();
  auto [bad, info] = for_each_matrix(num_matrices(a), n, [&](int64_t b) {
    std::vector<T> buf(size_t(n) * n);
    load_cm(a, b, buf.data(), n);
    int info = 0;
    potrf(upper ? 'U' : 'L', n, buf.data(), n, &info);
    if (info != 0) return info;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i)
        if (upper ? i > j : i < j) buf[i + size_t(j) * n] = T(0);
    store_rm(buf.data(), n, o + b * n * n, n, n);
    return 0;
  });
  check_internal(info, "linalg::cholesky");
  if (bad >= 0)
    throw std::runtime_error(msg("[linalg::cholesky] the matrix is not positive definite", batch_note(a, bad),
                                 "; got a non-positive pivot at diagonal entry ", info - 1, "."));
}

template <typename T>
void qr_impl(const array& a, array& q, array& r) {
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  int64_t batch = num_matrices(a);
  if (k == 0) return;
  T* qo = q.data<T>();
  T* ro = r.data<T>();
  int lwork;
  {
    T q1, q2;
    int info;
    T* nul = nullptr;
    geqrf(m, n, nul, m, nul, &q1, -1, &info);
    orgqr(m, k, k, nul, m, nul, &q2, -1, &info);
    lwork = std::max<int>({1, n, static_cast<int>(q1), static_cast<int>(q2)});
  }
  auto res = for_each_matrix(batch, std::max(m, n), [&](int64_t b) {
    std::vector<T> buf(size_t(m) * n), tau(k), work(lwork);
    load_cm(a, b, buf.data(), m);
    int info = 0;
    geqrf(m, n, buf.data(), m, tau.data(), work.data(), lwork, &info);
    if (info != 0) return info;
    T* rb = ro + b * int64_t(k) * n;
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < n; ++j) rb[int64_t(i) * n + j] = j >= i ? buf[i + size_t(j) * m] : T(0);
    orgqr(m, k, k, buf.data(), m, tau.data(), work.data(), lwork, &info);
    if (info != 0) return info;
    store_rm(buf.data(), m, qo + b * int64_t(m) * k, m, k);
    return 0;
  });
  check_internal(res.second, "linalg::qr");
}

template <typename T>
void set_identity(T* p, int n) {
  std::fill(p, p + size_t(n) * n, T(0));
  for (int i = 0; i < n; ++i) p[size_t(i) * n + i] = T(1);
}

template <typename T>
void svd_impl(const array& a, std::vector<array>& outs, bool uv) {
  using R = real_t<T>;
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  int64_t batch = batch_count(a);
  T* uo = uv ? outs[0].data<T>() : nullptr;
  R* so = (uv ? outs[1] : outs[0]).template data<R>();
  T* vo = uv ? outs[2].data<T>() : nullptr;
  if (k == 0) {
    if (uv)
      for (int64_t b = 0; b < batch; ++b) {
        set_identity(uo + b * int64_t(m) * m, m);
        set_identity(vo + b * int64_t(n) * n, n);
      }
    return;
  }
  char job = uv ? 'A' : 'N';
  int ldu = uv ? m : 1, ldvt = uv ? n : 1;
  int mx = std::max(m, n);
  size_t lrwork = uv ? std::max<size_t>(size_t(5) * k * k + 5 * k, size_t(2) * mx * k + size_t(2) * k * k + k)
                     : size_t(7) * k;
  int lwork;
  {
    T q;
    int info;
    std::vector<int> iw(8 * k);
    std::vector<R> rw(lrwork);
    T* nul = nullptr;
    gesdd(job, m, n, nul, m, static_cast<R*>(nullptr), nul, ldu, nul, ldvt, &q, -1, rw.data(), iw.data(), &info);
    lwork = std::max(1, static_cast<int>(std::real(q)) + 1);
  }
  auto res = for_each_matrix(batch, mx, [&](int64_t b) {
    std::vector<T> buf(size_t(m) * n), u(uv ? size_t(m) * m : 1), vt(uv ? size_t(n) * n : 1), work(lwork);
    std::vector<R> s(k), rw(std::is_same_v<T, R> ? 1 : lrwork);
    std::vector<int> iw(8 * k);
    load_cm(a, b, buf.data(), m);
    int info = 0;
    gesdd(job, m, n, buf.data(), m, s.data(), u.data(), ldu, vt.data(), ldvt, work.data(), lwork, rw.data(),
          iw.data(), &info);
    if (info != 0) return info;
    std::copy(s.begin(), s.end(), so + b * k);
    if (uv) {
      store_rm(u.data(), m, uo + b * int64_t(m) * m, m, m);
      store_rm(vt.data(), n, vo + b * int64_t(n) * n, n, n);
    }
    return 0;
  });
  check_internal(res.second, "linalg::svd");
  if (res.first >= 0)
    throw std::runtime_error(msg("[linalg::svd] the decomposition did not converge", batch_note(a, res.first),
                                 "; got LAPACK info ", res.second, "."));
}

// geev for real T (eigenvalues in wr/wi, paired real vectors) and complex T.
template <typename T>
int geev_one(int n, T* a, std::vector<cf>& w, std::vector<cf>& v, bool vecs) {
  int info = 0;
  char jl = 'N', jr = vecs ? 'V' : 'N';
  int ldvr = vecs ? n : 1, one = 1;
  if constexpr (std::is_same_v<T, cf>) {
    std::vector<cf> wc(n), vr(vecs ? size_t(n) * n : 1);
    std::vector<float> rw(2 * size_t(n));
    cf q;
    int lw = -1;
    scipy_LAPACK_cgeev(&jl, &jr, &n, a, &n, wc.data(), nullptr, &one, vr.data(), &ldvr, &q, &lw, rw.data(), &info);
    lw = std::max(1, static_cast<int>(q.real()));
    std::vector<cf> work(lw);
    scipy_LAPACK_cgeev(&jl, &jr, &n, a, &n, wc.data(), nullptr, &one, vr.data(), &ldvr, work.data(), &lw,
                       rw.data(), &info);
    if (info != 0) return info;
    w = wc;
    if (vecs) v = vr;
  } else {
    std::vector<T> wr(n), wi(n), vr(vecs ? size_t(n) * n : 1);
    T q;
    int lw = -1;
    auto call = [&](T* work, int lwk) {
      if constexpr (std::is_same_v<T, float>)
        scipy_LAPACK_sgeev(&jl, &jr, &n, a, &n, wr.data(), wi.data(), nullptr, &one, vr.data(), &ldvr, work, &lwk, &info);
      else
        scipy_LAPACK_dgeev(&jl, &jr, &n, a, &n, wr.data(), wi.data(), nullptr, &one, vr.data(), &ldvr, work, &lwk, &info);
    };
    call(&q, lw);
    lw = std::max(1, static_cast<int>(q));
    std::vector<T> work(lw);
    call(work.data(), lw);
    if (info != 0) return info;
    w.resize(n);
    for (int j = 0; j < n; ++j) w[j] = cf(static_cast<float>(wr[j]), static_cast<float>(wi[j]));
    if (vecs) {
      v.assign(size_t(n) * n, cf(0));
      for (int j = 0; j < n; ++j) {
        if (wi[j] != 0 && j + 1 < n) {
          // A conjugate pair: columns j and j+1 hold the real and imaginary parts.
          for (int i = 0; i < n; ++i) {
            T re = vr[i + size_t(j) * n], im = vr[i + size_t(j + 1) * n];
            v[i + size_t(j) * n] = cf(static_cast<float>(re), static_cast<float>(im));
            v[i + size_t(j + 1) * n] = cf(static_cast<float>(re), static_cast<float>(-im));
          }
          ++j;
        } else {
          for (int i = 0; i < n; ++i) v[i + size_t(j) * n] = cf(static_cast<float>(vr[i + size_t(j) * n]), 0.f);
        }
      }
    }
  }
  return 0;
}

template <typename T>
void eig_impl(const array& a, std::vector<array>& outs, bool vecs) {
  int n = a.shape(-1);
  int64_t batch = num_matrices(a);
  cf* wo = outs[0].data<cf>();
  cf* vo = vecs ? outs[1].data<cf>() : nullptr;
  auto res = for_each_matrix(batch, n, [&](int64_t b) {
    std::vector<T> buf(size_t(n) * n);
    load_cm(a, b, buf.data(), n);
    std::vector<cf> w, v;
    int info = geev_one<T>(n, buf.data(), w, v, vecs);
    if (info != 0) return info;
    std::copy(w.begin(), w.end(), wo + b * n);
    if (vecs) store_rm(v.data(), n, vo + b * int64_t(n) * n, n, n);
    return 0;
  });
  check_internal(res.second, "linalg::eig");
  if (res.first >= 0)
    throw std::runtime_error(msg("[linalg::eig] the QR algorithm did not converge", batch_note(a, res.first),
                                 "; got LAPACK info ", res.second, "."));
}

template <typename T>
void eigh_impl(const array& a, std::vector<array>& outs, bool upper, bool vecs) {
  using R = real_t<T>;
  int n = a.shape(-1);
  int64_t batch = num_matrices(a);
  R* wo = outs[0].data<R>();
  T* vo = vecs ? outs[1].data<T>() : nullptr;
  char job = vecs ? 'V' : 'N', uplo = upper ? 'U' : 'L';
  int lwork, lrwork = 1, liwork;
  {
    T q;
    R rq = 1;
    int iq, info;
    syevd(job, uplo, n, static_cast<T*>(nullptr), std::max(n, 1), static_cast<R*>(nullptr), &q, -1, &rq, -1, &iq,
          -1, &info);
    lwork = std::max(1, static_cast<int>(std::real(q)));
    lrwork = std::max(1, static_cast<int>(rq));
    liwork = std::max(1, iq);
  }
  auto res = for_each_matrix(batch, n, [&](int64_t b) {
    std::vector<T> buf(size_t(n) * n), work(lwork);
    std::vector<R> w(n), rw(lrwork);
    std::vector<int> iw(liwork);
    load_cm(a, b, buf.data(), n);
    int info = 0;
    syevd(job, uplo, n, buf.data(), n, w.data(), work.data(), lwork, rw.data(), lrwork, iw.data(), liwork, &info);
    if (info != 0) return info;
    std::copy(w.begin(), w.end(), wo + b * n);
    if (vecs) store_rm(buf.data(), n, vo + b * int64_t(n) * n, n, n);
    return 0;
  });
  check_internal(res.second, "linalg::eigh");
  if (res.first >= 0)
    throw std::runtime_error(msg("[linalg::eigh] the eigensolver did not converge", batch_note(a, res.first),
                                 "; got LAPACK info ", res.second, "."));
}

template <typename T>
void luf_impl(const array& a, std::vector<array>& outs) {
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  int64_t batch = batch_count(a);
  T* lo = outs[0].data<T>();
  uint32_t* po = outs[1].data<uint32_t>();
  uint32_t* pp = outs[2].data<uint32_t>();
  uint32_t* pq = outs[3].data<uint32_t>();
  auto res = for_each_matrix(batch, std::max(m, n), [&](int64_t b) {
    std::vector<int> q(m);
    std::iota(q.begin(), q.end(), 0);
    if (k > 0) {
      std::vector<T> buf(size_t(m) * n);
      std::vector<int> ipiv(k);
      load_cm(a, b, buf.data(), m);
      int info = 0;
      getrf(m, n, buf.data(), m, ipiv.data(), &info);  // info > 0 (a zero pivot) is not an error here
      if (info < 0) return info;
      store_rm(buf.data(), m, lo + b * int64_t(m) * n, m, n);
      for (int i = 0; i < k; ++i) {
        po[b * k + i] = static_cast<uint32_t>(ipiv[i] - 1);
        std::swap(q[i], q[ipiv[i] - 1]);
      }
    }
    for (int i = 0; i < m; ++i) {
      pq[b * m + i] = static_cast<uint32_t>(q[i]);
      pp[b * m + q[i]] = static_cast<uint32_t>(i);
    }
    return 0;
  });
  check_internal(res.second, "linalg::lu");
}

template <typename T>
void solve_impl(const array& a, const array& bm, array& out, bool tri, bool upper) {
  int n = a.shape(-1), k = bm.shape(-1);
  int64_t batch = batch_count(out);
  if (n == 0 || k == 0) return;
  T* o = out.data<T>();
  auto res = for_each_matrix(batch, n, [&](int64_t b) {
    std::vector<T> abuf(size_t(n) * n), bbuf(size_t(n) * k);
    load_cm(a, b, abuf.data(), n);
    load_cm(bm, b, bbuf.data(), n);
    int info = 0;
    if (tri) {
      trtrs(upper ? 'U' : 'L', n, k, abuf.data(), n, bbuf.data(), n, &info);
    } else {
      std::vector<int> ipiv(n);
      gesv(n, k, abuf.data(), n, ipiv.data(), bbuf.data(), n, &info);
    }
    if (info != 0) return info;
    store_rm(bbuf.data(), n, o + b * int64_t(n) * k, n, k);
    return 0;
  });
  const char* op = tri ? "linalg::solve_triangular" : "linalg::solve";
  check_internal(res.second, op);
  if (res.first >= 0)
    throw std::runtime_error(msg("[", op, "] the matrix is singular", batch_note(out, res.first),
                                 "; got a zero pivot at diagonal entry ", res.second - 1, "."));
}

template <typename F>
void dispatch_real(Dtype t, const char* op, F&& f) {
  if (t == float32) f(float{});
  else if (t == float64) f(double{});
  else throw std::runtime_error(msg("[", op, "] unsupported dtype ", t, "."));
}
template <typename F>
void dispatch_inexact(Dtype t, const char* op, F&& f) {
  if (t == complex64) f(cf{});
  else dispatch_real(t, op, f);
}

void alloc_all(std::vector<array>& outs) {
  for (auto& o : outs) cpu::alloc_out(o);
}

}  // namespace

void Inverse::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_real(in[0].dtype(), "linalg::inv", [&](auto t) {
    inverse_impl<decltype(t)>(in[0], out[0], tri_, upper_);
  });
}

void Cholesky::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_real(in[0].dtype(), "linalg::cholesky", [&](auto t) {
    cholesky_impl<decltype(t)>(in[0], out[0], upper_);
  });
}

void QRF::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_real(in[0].dtype(), "linalg::qr", [&](auto t) { qr_impl<decltype(t)>(in[0], out[0], out[1]); });
}

void SVD::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_inexact(in[0].dtype(), "linalg::svd", [&](auto t) { svd_impl<decltype(t)>(in[0], out, compute_uv_); });
}

void Eig::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_inexact(in[0].dtype(), "linalg::eig", [&](auto t) {
    eig_impl<decltype(t)>(in[0], out, compute_vectors_);
  });
}

void Eigh::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_inexact(in[0].dtype(), "linalg::eigh", [&](auto t) {
    eigh_impl<decltype(t)>(in[0], out, upper_, compute_vectors_);
  });
}

void LUF::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_real(in[0].dtype(), "linalg::lu", [&](auto t) { luf_impl<decltype(t)>(in[0], out); });
}

void Solve::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_real(out[0].dtype(), "linalg::solve", [&](auto t) {
    solve_impl<decltype(t)>(in[0], in[1], out[0], false, false);
  });
}

void SolveTriangular::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  alloc_all(out);
  dispatch_real(out[0].dtype(), "linalg::solve_triangular", [&](auto t) {
    solve_impl<decltype(t)>(in[0], in[1], out[0], true, upper_);
  });
}

}  // namespace mlx::core

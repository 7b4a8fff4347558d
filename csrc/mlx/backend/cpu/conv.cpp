// Convolution on the CPU. float32 with C_out/groups a multiple of 8 (on AVX2 machines) runs an
// indirect register-blocked kernel: no unfolding, one pointer per output row and kernel
// position. Otherwise tiles of output rows are unfolded (im2col) into per-thread buffers and
// multiplied by the weights with BLAS gemm. float16/bfloat16 run in float32.
#include "mlx/backend/cpu/blas.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/conv.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MLX_CONV_AVX2 1
#endif

namespace mlx::core {

namespace {

constexpr int kMaxDims = 8;

struct Geometry {
  int D = 0;
  int64_t N = 0, c_in = 0, c_out = 0, groups = 1, cig = 0, cog = 0;
  int64_t S[kMaxDims], K[kMaxDims], O[kMaxDims];
  int64_t stride[kMaxDims], lo[kMaxDims], kdil[kMaxDims], idil[kMaxDims];
  int64_t xstride[kMaxDims];  // element strides of the (row-contiguous) input's spatial dims
  int64_t xbatch = 0;         // element stride of the input's batch dim
  int64_t k_total = 1;        // kernel positions
  int64_t kc = 0;             // columns of one group's unfolded row: k_total * cig
  int64_t o_total = 1;        // output positions per example
  int64_t rows = 0;           // N * o_total
  int64_t inner[kMaxDims];    // unfolded columns spanned by one step of kernel dim d
  bool flip = false;
};

Geometry make_geometry(const Convolution& p, const array& x, const array& w, const array& out) {
  Geometry g;
  g.D = static_cast<int>(x.ndim()) - 2;
  g.N = x.shape(0);
  g.c_in = x.shape(-1);
  g.c_out = w.shape(0);
  g.groups = p.groups_;
  g.cig = g.c_in / g.groups;
  g.cog = g.c_out / g.groups;
  g.flip = p.flip_;
  int64_t st = g.c_in;
  for (int d = g.D - 1; d >= 0; --d) {
    g.S[d] = x.shape(1 + d);
    g.K[d] = w.shape(1 + d);
    g.O[d] = out.shape(1 + d);
    g.stride[d] = p.stride_[d];
    g.lo[d] = p.padding_lo_[d];
    g.kdil[d] = p.kernel_dilation_[d];
    g.idil[d] = p.input_dilation_[d];
    g.xstride[d] = st;
    st *= g.S[d];
  }
  g.xbatch = st;
  int64_t in = g.cig;
  for (int d = g.D - 1; d >= 0; --d) {
    g.inner[d] = in;
    in *= g.K[d];
  }
  for (int d = 0; d < g.D; ++d) {
    g.k_total *= g.K[d];
    g.o_total *= g.O[d];
  }
  g.kc = g.k_total * g.cig;
  g.rows = g.N * g.o_total;
  return g;
}

// Input index along dim d for output index o and kernel index k, or -1 outside the data.
inline int64_t source_index(const Geometry& g, int d, int64_t o, int64_t k) {
  int64_t kk = g.flip ? g.K[d] - 1 - k : k;
  int64_t pos = o * g.stride[d] + kk * g.kdil[d] - g.lo[d];
  if (pos < 0) return -1;
  if (g.idil[d] != 1) {
    if (pos % g.idil[d] != 0) return -1;
    pos /= g.idil[d];
  }
  return pos < g.S[d] ? pos : -1;
}

// Unfolds output row r of group `grp` into dst (g.kc values).
template <typename T>
struct Unfolder {
  const Geometry& g;
  const T* x;
  // Per dim, per kernel index: the input element offset, or -1.
  std::vector<int64_t> off[kMaxDims];

  Unfolder(const Geometry& geo, const T* xp) : g(geo), x(xp) {
    for (int d = 0; d < g.D; ++d) off[d].resize(g.K[d]);
  }

  void set_row(int64_t r) {
    int64_t rem = r % g.o_total;
    for (int d = g.D - 1; d >= 0; --d) {
      int64_t o = rem % g.O[d];
      rem /= g.O[d];
      for (int64_t k = 0; k < g.K[d]; ++k) {
        int64_t i = source_index(g, d, o, k);
        off[d][k] = i < 0 ? -1 : i * g.xstride[d];
      }
    }
  }

  void fill(int d, const T* src, T* dst, int64_t k0 = 0, int64_t k1 = -1) const {
    int64_t n = k1 < 0 ? g.K[d] : k1, inner = g.inner[d];
    const auto& od = off[d];
    if (d >= g.D - 1 || d >= kMaxDims - 1) {
      size_t bytes = sizeof(T) * g.cig;
      for (int64_t k = k0; k < n; ++k, dst += inner) {
        if (od[k] < 0) std::memset(static_cast<void*>(dst), 0, bytes);
        else std::memcpy(static_cast<void*>(dst), src + od[k], bytes);
      }
      return;
    }
    for (int64_t k = k0; k < n; ++k, dst += inner) {
      if (od[k] < 0) std::memset(static_cast<void*>(dst), 0, sizeof(T) * inner);
      else fill(d + 1, src + od[k], dst);
    }
  }

  // Indirection: for every kernel position of row r (set_row already called), a pointer to
  // the input pixel's channels, or `zeros` where the kernel reads padding.
  void pointers(int64_t r, const T* zeros, const T** dst) const {
    point(0, x + (r / g.o_total) * g.xbatch, zeros, dst);
  }
  const T** point(int d, const T* src, const T* zeros, const T** dst) const {
    const auto& od = off[d];
    if (d >= g.D - 1 || d >= kMaxDims - 1) {
      for (int64_t k = 0; k < g.K[d]; ++k) *dst++ = od[k] < 0 ? zeros : src + od[k];
      return dst;
    }
    int64_t span = g.inner[d] / g.cig;  // kernel positions under one index of dim d
    for (int64_t k = 0; k < g.K[d]; ++k) {
      if (od[k] < 0) {
        for (int64_t j = 0; j < span; ++j) *dst++ = zeros;
      } else {
        dst = point(d + 1, src + od[k], zeros, dst);
      }
    }
    return dst;
  }

  // Unfolds row r (set_row already called) for group grp: the columns of kernel indices
  // [k0, k1) along the first spatial dim (all of them by default).
  void unfold(int64_t r, int64_t grp, T* dst, int64_t k0 = 0, int64_t k1 = -1) const {
    const T* src = x + (r / g.o_total) * g.xbatch + grp * g.cig;
    fill(0, src, dst, k0, k1);
  }
};

// C (M x N) = A (M x K) * B^T (B is N x K), plus beta * C.
template <typename T>
void gemm_nt(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc,
             T beta = 0) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
  }
}


#ifdef MLX_CONV_AVX2
// float32 register-blocked kernel over an indirection buffer: C (MR rows x 8*NV cols) (+)=
// sum over kernel positions m and channels c of x[row i, m][c] * B[m, c][:], where
// P[i * kpos + m] + goff points at the channels of row i's input pixel for position m and
// B is packed as [m][c][8*NV]. 6 x 16 keeps 12 accumulators in ymm registers.
template <int MR, int NV>
inline void indirect_kernel(int64_t m0, int64_t m1, int64_t kpos, int64_t cig,
                            const float* const* P, int64_t goff, const float* B, float* C,
                            int64_t ldc, bool accumulate) {
  __m256 c[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v)
      c[i][v] = accumulate ? _mm256_loadu_ps(C + i * ldc + 8 * v) : _mm256_setzero_ps();
  for (int64_t m = m0; m < m1; ++m) {
    const float* a[MR];
    for (int i = 0; i < MR; ++i) a[i] = P[i * kpos + m] + goff;
    for (int64_t ch = 0; ch < cig; ++ch, B += 8 * NV) {
      __m256 b[NV];
      for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(B + 8 * v);
      for (int i = 0; i < MR; ++i) {
        __m256 av = _mm256_broadcast_ss(a[i] + ch);
        for (int v = 0; v < NV; ++v) c[i][v] = _mm256_fmadd_ps(av, b[v], c[i][v]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(C + i * ldc + 8 * v, c[i][v]);
}

template <int NV>
void indirect_rows(int mr, int64_t m0, int64_t m1, int64_t kpos, int64_t cig,
                   const float* const* P, int64_t goff, const float* B, float* C, int64_t ldc,
                   bool acc) {
  switch (mr) {
    case 6: indirect_kernel<6, NV>(m0, m1, kpos, cig, P, goff, B, C, ldc, acc); break;
    case 5: indirect_kernel<5, NV>(m0, m1, kpos, cig, P, goff, B, C, ldc, acc); break;
    case 4: indirect_kernel<4, NV>(m0, m1, kpos, cig, P, goff, B, C, ldc, acc); break;
    case 3: indirect_kernel<3, NV>(m0, m1, kpos, cig, P, goff, B, C, ldc, acc); break;
    case 2: indirect_kernel<2, NV>(m0, m1, kpos, cig, P, goff, B, C, ldc, acc); break;
    default: indirect_kernel<1, NV>(m0, m1, kpos, cig, P, goff, B, C, ldc, acc); break;
  }
}

// Packs the weights (groups * cog rows of kc values) into panels of 16 output channels (the
// last one 8 wide when cog % 16 == 8): panel j0 of group grp starts at (grp * cog + j0) * kc
// and holds [k][width].
std::vector<float> pack_weights(const Geometry& g, const float* w) {
  std::vector<float> p(static_cast<size_t>(g.c_out * g.kc));
  int64_t panels = (g.cog + 15) / 16;
  cpu::parallel_for(g.groups * panels, 1, [&](size_t a, size_t e) {
    for (size_t t = a; t < e; ++t) {
      int64_t grp = t / panels, j0 = (t % panels) * 16;
      int64_t width = std::min<int64_t>(16, g.cog - j0);
      float* dst = p.data() + (grp * g.cog + j0) * g.kc;
      const float* src = w + (grp * g.cog + j0) * g.kc;
      for (int64_t k = 0; k < g.kc; ++k)
        for (int64_t c = 0; c < width; ++c) dst[k * width + c] = src[c * g.kc + k];
    }
  });
  return p;
}

// float32 convolution without unfolding: tiles of output rows get an indirection buffer
// (one pointer per row and kernel position) and run the register-blocked kernel, in
// parallel over tiles. Needs cog % 8 == 0.
void conv_indirect(const Geometry& g, const float* x, const float* w, float* out) {
  std::vector<float> packed = pack_weights(g, w);
  std::vector<float> zeros(static_cast<size_t>(std::max<int64_t>(g.c_in, 1)), 0.0f);
  const int64_t nt = cpu::num_threads();
  const int64_t per_thread = (g.rows + nt - 1) / nt;
  // Tiles of whole 6-row blocks with pointer tables of up to ~2 MB.
  int64_t tile = std::clamp<int64_t>((int64_t(1) << 18) / g.k_total, 6, 240);
  tile = std::min(tile, (per_thread + 5) / 6 * 6) / 6 * 6;
  tile = std::max<int64_t>(tile, 6);
  const int64_t ntiles = (g.rows + tile - 1) / tile;
  // Long reductions (weight gradients) run in chunks of kernel positions whose packed
  // weights (per 16-wide panel) stay within ~64 KB, accumulating into the output.
  const int64_t nchunks = std::max<int64_t>(1, (g.kc * 16 + (1 << 14) - 1) >> 14);
  const int64_t mstep = (g.k_total + nchunks - 1) / nchunks;
  // Threads pull tiles from a shared counter, which balances the load when cores are busy.
  std::atomic<int64_t> next{0};
  cpu::parallel_for(std::min<int64_t>(nt, ntiles), 1, [&](size_t, size_t) {
    std::vector<const float*> ptrs(static_cast<size_t>(tile * g.k_total));
    Unfolder<float> u(g, x);
    for (int64_t t; (t = next.fetch_add(1)) < ntiles;) {
      int64_t r0 = t * tile, nr = std::min(tile, g.rows - r0);
      for (int64_t i = 0; i < nr; ++i) {
        u.set_row(r0 + i);
        u.pointers(r0 + i, zeros.data(), ptrs.data() + i * g.k_total);
      }
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const float* pg = packed.data() + grp * g.cog * g.kc;
        for (int64_t m0 = 0; m0 < g.k_total; m0 += mstep) {
          int64_t m1 = std::min(m0 + mstep, g.k_total);
          for (int64_t i0 = 0; i0 < nr; i0 += 6) {
            int mr = static_cast<int>(std::min<int64_t>(6, nr - i0));
            const float* const* P = ptrs.data() + i0 * g.k_total;
            float* c = out + (r0 + i0) * g.c_out + grp * g.cog;
            for (int64_t j0 = 0; j0 < g.cog; j0 += 16) {
              if (g.cog - j0 >= 16)
                indirect_rows<2>(mr, m0, m1, g.k_total, g.cig, P, grp * g.cig,
                                 pg + j0 * g.kc + m0 * g.cig * 16, c + j0, g.c_out, m0 > 0);
              else
                indirect_rows<1>(mr, m0, m1, g.k_total, g.cig, P, grp * g.cig,
                                 pg + j0 * g.kc + m0 * g.cig * 8, c + j0, g.c_out, m0 > 0);
            }
          }
        }
      }
    }
  });
}
#endif

// Switches OpenBLAS to one thread for its lifetime (when `on`), so that pool threads can each
// run their own gemm.
struct BlasSingleThread {
  int old = 0;
  explicit BlasSingleThread(bool on) {
    if (!on) return;
    old = openblas_get_num_threads();
    if (old > 1) openblas_set_num_threads(1);
    else old = 0;
  }
  ~BlasSingleThread() {
    if (old > 1) openblas_set_num_threads(old);
  }
};

// Pointwise case: every kernel dim is 1 and the input maps 1:1 onto the output rows.
bool is_pointwise(const Geometry& g, const Convolution& p) {
  for (int d = 0; d < g.D; ++d)
    if (g.K[d] != 1 || g.stride[d] != 1 || g.lo[d] != 0 || p.padding_hi_[d] != 0 ||
        g.idil[d] != 1)
      return false;
  return true;
}

// Small groups (e.g. depthwise): unfold and dot row by row, in parallel over rows.
template <typename T>
void conv_rowwise(const Geometry& g, const T* x, const T* w, T* out) {
  cpu::parallel_for(g.rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, g.c_out * g.kc)),
                    [&](size_t r0, size_t r1) {
    Unfolder<T> u(g, x);
    std::vector<T> buf(g.kc);
    for (size_t r = r0; r < r1; ++r) {
      u.set_row(r);
      T* o = out + r * g.c_out;
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        u.unfold(r, grp, buf.data());
        for (int64_t co = 0; co < g.cog; ++co) {
          const T* wr = w + (grp * g.cog + co) * g.kc;
          T acc = 0;
          for (int64_t j = 0; j < g.kc; ++j) acc += buf[j] * wr[j];
          o[grp * g.cog + co] = acc;
        }
      }
    }
  });
}

template <typename T>
void conv_gemm(const Geometry& g, const Convolution& p, const T* x, const T* w, T* out) {
  if (g.rows == 0 || g.c_out == 0) return;
  if (g.kc == 0) {
    std::memset(static_cast<void*>(out), 0, sizeof(T) * g.rows * g.c_out);
    return;
  }
  if (is_pointwise(g, p)) {
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm_nt<T>(g.rows, g.cog, g.cig, x + grp * g.cig, g.c_in, w + grp * g.cog * g.kc, g.kc,
                 out + grp * g.cog, g.c_out);
    return;
  }
#ifdef MLX_CONV_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (g.cog % 8 == 0) {
      conv_indirect(g, x, w, out);
      return;
    }
  }
#endif
  if (g.groups > 1 && g.cog * g.kc <= 512) {
    conv_rowwise<T>(g, x, w, out);
    return;
  }
  // Each pool thread unfolds a tile of rows into its own cache-sized buffer and multiplies it
  // with a single-threaded gemm (BLAS threads are switched off meanwhile). When one group's
  // unfolded row is long (weight gradients: the reduction runs over batch and space), the
  // columns are split into chunks along the first kernel dim and the products accumulate.
  const int64_t budget = (int64_t(1) << 19) / int64_t(sizeof(T));  // 512 KB
  const int64_t nt = cpu::num_threads();
  const int64_t per_thread = (g.rows + nt - 1) / nt;
  int64_t tile = std::clamp<int64_t>(budget / g.kc, 16, 1024);
  int64_t kstep = g.K[0];  // first-dim kernel indices per chunk
  if (tile * g.kc > 4 * budget) {
    tile = std::min<int64_t>(per_thread, 256);
    kstep = std::clamp<int64_t>(budget / (tile * g.inner[0]), 1, g.K[0]);
  }
  tile = std::max<int64_t>(1, std::min(tile, per_thread));
  const int64_t cols = kstep * g.inner[0];
  const int64_t ntiles = (g.rows + tile - 1) / tile;
  BlasSingleThread guard(nt > 1 && ntiles > 1);
  cpu::parallel_for(ntiles, 1, [&](size_t t0, size_t t1) {
    std::vector<T> buf(static_cast<size_t>(tile * cols));
    Unfolder<T> u(g, x);
    T* b = buf.data();
    for (size_t t = t0; t < t1; ++t) {
      int64_t r0 = t * tile, nr = std::min(tile, g.rows - r0);
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        for (int64_t k0 = 0; k0 < g.K[0]; k0 += kstep) {
          int64_t k1 = std::min(k0 + kstep, g.K[0]);
          int64_t nc = (k1 - k0) * g.inner[0];
          for (int64_t i = 0; i < nr; ++i) {
            u.set_row(r0 + i);
            u.unfold(r0 + i, grp, b + i * nc, k0, k1);
          }
          T* c = out + r0 * g.c_out + grp * g.cog;
          gemm_nt<T>(nr, g.cog, nc, b, nc, w + grp * g.cog * g.kc + k0 * g.inner[0], g.kc, c,
                     g.c_out, k0 == 0 ? T(0) : T(1));
        }
      }
    }
  });
}

array to_contiguous(const array& a, Dtype t) {
  if (a.dtype() == t) return cpu::ensure_row_contiguous(a);
  array c(a.shape(), t, nullptr, {});
  cpu::alloc_out(c);
  cpu::copy_to_contiguous(a, c);
  return c;
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  Dtype ct = t == float64 ? float64 : float32;
  array x = to_contiguous(inputs[0], ct);
  array w = to_contiguous(inputs[1], ct);
  Geometry g = make_geometry(*this, x, w, out);
  array res = out;
  if (ct != t) {
    res = array(out.shape(), ct, nullptr, {});
    cpu::alloc_out(res);
  }
  if (ct == float64) conv_gemm<double>(g, *this, x.data<double>(), w.data<double>(), res.data<double>());
  else conv_gemm<float>(g, *this, x.data<float>(), w.data<float>(), res.data<float>());
  if (ct != t) cpu::copy_to_contiguous(res, out);
}

}  // namespace mlx::core

// Convolution on the CPU: unfold (im2col) tiles of output rows into a buffer and multiply
// each group's tile by its weights with one BLAS gemm. float16/bfloat16 run in float32.
#include "mlx/backend/cpu/blas.h"

#include <cstring>
#include <vector>

#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/conv.h"

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

  void fill(int d, const T* src, T* dst) const {
    int64_t n = g.K[d], inner = g.inner[d];
    const auto& od = off[d];
    if (d == g.D - 1) {
      size_t bytes = sizeof(T) * g.cig;
      for (int64_t k = 0; k < n; ++k, dst += inner) {
        if (od[k] < 0) std::memset(static_cast<void*>(dst), 0, bytes);
        else std::memcpy(static_cast<void*>(dst), src + od[k], bytes);
      }
      return;
    }
    for (int64_t k = 0; k < n; ++k, dst += inner) {
      if (od[k] < 0) std::memset(static_cast<void*>(dst), 0, sizeof(T) * inner);
      else fill(d + 1, src + od[k], dst);
    }
  }

  // Unfolds row r (set_row already called) for group grp.
  void unfold(int64_t r, int64_t grp, T* dst) const {
    const T* src = x + (r / g.o_total) * g.xbatch + grp * g.cig;
    fill(0, src, dst);
  }
};

template <typename T>
void gemm_nt(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
  }
}

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
  if (g.groups > 1 && g.cog * g.kc <= 512) {
    conv_rowwise<T>(g, x, w, out);
    return;
  }
  // Tiles of output rows whose unfolded block (all groups) stays within a few MB.
  const int64_t width = g.kc * g.groups;
  const int64_t budget = (int64_t(1) << 21) * 4 / int64_t(sizeof(T));  // ~8 MB
  int64_t tile = std::max<int64_t>(64, budget / width);
  tile = std::min(tile, g.rows);
  std::vector<T> buf(static_cast<size_t>(tile * width));
  for (int64_t r0 = 0; r0 < g.rows; r0 += tile) {
    int64_t nr = std::min(tile, g.rows - r0);
    T* b = buf.data();
    cpu::parallel_for(nr, std::max<int64_t>(1, 16384 / width), [&](size_t a, size_t e) {
      Unfolder<T> u(g, x);
      for (size_t i = a; i < e; ++i) {
        int64_t r = r0 + i;
        u.set_row(r);
        for (int64_t grp = 0; grp < g.groups; ++grp) u.unfold(r, grp, b + i * width + grp * g.kc);
      }
    });
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm_nt<T>(nr, g.cog, g.kc, b + grp * g.kc, width, w + grp * g.cog * g.kc, g.kc,
                 out + r0 * g.c_out + grp * g.cog, g.c_out);
  }
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

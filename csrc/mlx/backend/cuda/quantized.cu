// The quantization family on the GPU: quantize, dequantize, quantized_matmul, gather_qmm and
// the fp8 (e4m3) casts. Formats and rounding as in backend/cpu/quantized.cpp (see
// docs/dev/quantized.md); quantize and dequantize give the CPU's bits exactly (IEEE
// operations written with __f*_rn so that nothing is fused).
//
// Matmuls (x @ W^T with W (N, K), or x @ W with W (K, N)):
// - x @ W^T with at most kQmvMaxM rows of x per product (decode): k_qmv, each warp computes
//   kQmvCols output columns; the rows of x are staged in shared memory (as float) in chunks of
//   kQmvKC columns, each lane decodes 8 codes of W at a time from the packed words and
//   accumulates in float; a warp sum per output.
// - otherwise W is dequantized on the GPU into a temporary matrix of x's dtype and multiplied by
//   cuBLAS (gemm.h); gather_qmm then dequantizes all matrices of w once and runs one
//   pointer-batched gemm whose pointers a small kernel builds from the index arrays.
#include <algorithm>
#include <type_traits>

#include "mlx/backend/cuda/device.cuh"
#include "mlx/backend/cuda/gemm.h"
#include "mlx/primitives/quantized.h"

namespace mlx::core::cu {

namespace {

using QM = QuantizationMode;

constexpr int kQmvMaxM = 8;     // rows of x per product handled by k_qmv
constexpr int kQmvWarps = 4;    // warps per block
constexpr int kQmvCols = 4;     // output columns per warp
constexpr int kQmvKC = 1024;    // columns of x staged in shared memory at a time
constexpr int64_t kMaxTempBytes = int64_t(4) << 30;  // largest dequantized temporary

// ---------------------------------------------------------------- number formats
__device__ __forceinline__ float fp4_value(uint32_t c) {
  uint32_t m = c & 7;
  float mag = m < 2 ? 0.5f * static_cast<float>(m) : __uint_as_float(((((m >> 1) + 126u) << 23) | ((m & 1u) << 22)));
  return (c & 8) ? -mag : mag;
}

__device__ __forceinline__ float e4m3_value(uint32_t c) {
  uint32_t e = (c >> 3) & 15, m = c & 7;
  float v;
  if (e == 15 && m == 7) v = __uint_as_float(0x7fc00000u);
  else if (e == 0) v = static_cast<float>(m) * 0.001953125f;  // m * 2^-9, exact
  else v = __uint_as_float(((e + 120u) << 23) | (m << 20));
  return (c & 0x80) ? -v : v;
}

__device__ __forceinline__ float e8m0_value(uint32_t c) {
  if (c == 255) return __uint_as_float(0x7fc00000u);
  if (c == 0) return __uint_as_float(0x00400000u);  // 2^-127 (subnormal)
  return __uint_as_float(c << 23);
}

// e4m3 code: nearest even, saturating at 448 (also inf and NaN), sign kept.
__device__ __forceinline__ uint32_t e4m3_code(float x) {
  uint32_t sign = (__float_as_uint(x) >> 31) ? 0x80u : 0u;
  float a = fabsf(x);
  if (!(a < 448.0f)) return sign | 0x7eu;
  uint32_t c;
  if (a < 0.015625f) {
    c = static_cast<uint32_t>(rintf(__fmul_rn(a, 512.0f)));
  } else {
    uint32_t u = __float_as_uint(a);
    u += 0x7FFFFu + ((u >> 20) & 1u);
    int e = static_cast<int>(u >> 23) - 127;
    c = (static_cast<uint32_t>(e + 7) << 3) | ((u >> 20) & 7u);
    c = min(c, 0x7eu);
  }
  return sign | c;
}

// e2m1 code: nearest, ties toward the smaller magnitude, saturating at 6; zero unsigned.
__device__ __forceinline__ uint32_t fp4_code(float x) {
  float a = fabsf(x);
  uint32_t c = (a > 0.25f) + (a > 0.75f) + (a > 1.25f) + (a > 1.75f) + (a > 2.5f) + (a > 3.5f) + (a > 5.0f);
  return (c && x < 0) ? (c | 8u) : c;
}

// e8m0 code of the smallest power of two s with r / s <= 1 (r >= 0).
__device__ __forceinline__ uint32_t e8m0_ceil_code(float r) {
  if (isnan(r)) return 255;
  if (isinf(r)) return 254;
  if (r == 0.0f) return 127;
  uint32_t u = __float_as_uint(r);
  uint32_t E = (u >> 23) & 255, mant = u & 0x7fffffu;
  int ex;
  if (E == 0) ex = (32 - __clz(static_cast<int>(mant - 1))) - 149;  // subnormal: mant * 2^-149
  else ex = static_cast<int>(E) - 127 + (mant != 0);
  return static_cast<uint32_t>(min(max(ex + 127, 0), 254));
}

template <typename T>
__device__ __forceinline__ float to_f(T v) {
  return static_cast<float>(v);
}
template <typename T>
__device__ __forceinline__ T from_f(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else return __float2bfloat16_rn(v);
}
// v rounded to T's precision.
template <typename T>
__device__ __forceinline__ float round_to(float v) {
  return to_f(from_f<T>(v));
}

// ---------------------------------------------------------------- packed codes
// The 8 codes of elements 8u .. 8u + 7 of a row (bit stream, LSB first).
template <int BITS>
__device__ __forceinline__ void load_codes8(const uint32_t* __restrict__ row, int64_t u, uint32_t q[8]) {
  if constexpr (BITS == 8) {
    uint32_t a = row[2 * u], b = row[2 * u + 1];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      q[j] = (a >> (8 * j)) & 255u;
      q[4 + j] = (b >> (8 * j)) & 255u;
    }
  } else if constexpr (BITS == 4) {
    uint32_t a = row[u];
#pragma unroll
    for (int j = 0; j < 8; ++j) q[j] = (a >> (4 * j)) & 15u;
  } else if constexpr (BITS == 2) {
    uint32_t a = row[u >> 1] >> ((u & 1) * 16);
#pragma unroll
    for (int j = 0; j < 8; ++j) q[j] = (a >> (2 * j)) & 3u;
  } else if constexpr (BITS == 1) {
    uint32_t a = row[u >> 2] >> ((u & 3) * 8);
#pragma unroll
    for (int j = 0; j < 8; ++j) q[j] = (a >> j) & 1u;
  } else {
    // 3, 5, 6 bits: the unit is BITS bytes starting at byte u * BITS; read the words it touches.
    int64_t byte = u * BITS;
    int64_t wi = byte >> 2;
    int sh = static_cast<int>(byte & 3) * 8;
    uint64_t v = row[wi];
    if (sh + BITS * 8 > 32) v |= static_cast<uint64_t>(row[wi + 1]) << 32;
    v >>= sh;
#pragma unroll
    for (int j = 0; j < 8; ++j) q[j] = static_cast<uint32_t>(v >> (BITS * j)) & ((1u << BITS) - 1u);
  }
}

template <QM MODE>
__device__ __forceinline__ float fp_value(uint32_t q) {
  if constexpr (MODE == QM::Mxfp8) return e4m3_value(q);
  else return fp4_value(q);
}

template <QM MODE>
__device__ __forceinline__ float fp_scale(uint32_t c) {
  if constexpr (MODE == QM::Nvfp4) return e4m3_value(c);
  else return e8m0_value(c);
}

// ---------------------------------------------------------------- batches
// Element offsets of product z in x, w, scales, biases: from a multi-dim batch layout, or
// (gather) from index arrays, clamped to the batch sizes as on the CPU.
struct QBatch {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t st[4][kMaxDims] = {};
  const uint32_t* lhs = nullptr;
  const uint32_t* rhs = nullptr;
  int64_t nx = 1, nw = 1;
};

__device__ __forceinline__ void batch_offsets(const QBatch& b, int64_t z, int64_t o[4]) {
  if (b.lhs) {
    int64_t l = min(static_cast<int64_t>(b.lhs[z]), b.nx - 1);
    int64_t r = min(static_cast<int64_t>(b.rhs[z]), b.nw - 1);
    o[0] = l * b.st[0][0];
    o[1] = r * b.st[1][0];
    o[2] = r * b.st[2][0];
    o[3] = r * b.st[3][0];
    return;
  }
  o[0] = o[1] = o[2] = o[3] = 0;
  for (int d = b.ndim - 1; d >= 0; --d) {
    int64_t q = z / b.shape[d], i = z - q * b.shape[d];
    z = q;
#pragma unroll
    for (int k = 0; k < 4; ++k) o[k] += i * b.st[k][d];
  }
}

// ---------------------------------------------------------------- quantize
// One thread per group of gs consecutive elements (rows are contiguous and K % gs == 0).
template <typename T, QM MODE, int BITS>
__global__ void k_quantize(const T* __restrict__ w, const float* __restrict__ gscale, uint32_t* __restrict__ wq,
                           T* __restrict__ s_out, T* __restrict__ b_out, uint8_t* __restrict__ sc_out,
                           int64_t ngroups, int gs) {
  int64_t gi = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (gi >= ngroups) return;
  const T* wg = w + gi * gs;
  uint32_t* wo = wq + gi * (gs * BITS / 32);
  uint64_t acc = 0;
  int nbits = 0, wi = 0;
  auto put = [&](uint32_t code) {
    acc |= static_cast<uint64_t>(code) << nbits;
    nbits += BITS;
    if (nbits >= 32) {
      wo[wi++] = static_cast<uint32_t>(acc);
      acc >>= 32;
      nbits -= 32;
    }
  };
  if constexpr (MODE == QM::Affine) {
    float mx = to_f(wg[0]), mn = mx;
    for (int i = 1; i < gs; ++i) {
      float v = to_f(wg[i]);
      mx = (mx < v) ? v : mx;
      mn = (v < mn) ? v : mn;
    }
    const float nb = static_cast<float>((1 << BITS) - 1);
    float s, b;
    if constexpr (BITS == 1) {
      float d = __fsub_rn(mx, mn);
      s = (d < 1e-7f) ? 1e-7f : d;
      b = mn;
    } else {
      float d = __fdiv_rn(__fsub_rn(mx, mn), nb);
      s = (d < 1e-7f) ? 1e-7f : d;
      bool side = fabsf(mn) > fabsf(mx);
      s = side ? s : -s;
      float edge = side ? mn : mx;
      float q0 = rintf(__fdiv_rn(edge, s));
      if (q0 != 0.0f) {
        s = __fdiv_rn(edge, q0);
        b = edge;
      } else {
        b = 0.0f;
      }
    }
    for (int i = 0; i < gs; ++i) {
      float v = rintf(__fdiv_rn(__fsub_rn(to_f(wg[i]), b), s));
      v = (v < 0.0f) ? 0.0f : v;
      v = (nb < v) ? nb : v;
      put(static_cast<uint32_t>(v));
    }
    s_out[gi] = from_f<T>(s);
    b_out[gi] = from_f<T>(b);
  } else {
    float amax = 0.0f;
    for (int i = 0; i < gs; ++i) {
      float a = fabsf(to_f(wg[i]));
      amax = (amax < a) ? a : amax;
    }
    uint32_t sc;
    float scale;
    if constexpr (MODE == QM::Nvfp4) {
      float gfac = gscale ? __fdiv_rn(2688.0f, gscale[0]) : 0.0f;
      float v = round_to<T>(__fdiv_rn(amax, 6.0f));
      if (gfac != 0.0f) v = __fmul_rn(v, gfac);
      sc = e4m3_code(v);
      scale = e4m3_value(sc);
      if (gfac != 0.0f) scale = __fdiv_rn(scale, gfac);
    } else {
      sc = e8m0_ceil_code(round_to<T>(__fdiv_rn(amax, MODE == QM::Mxfp8 ? 448.0f : 6.0f)));
      scale = e8m0_value(sc);
    }
    sc_out[gi] = static_cast<uint8_t>(sc);
    for (int i = 0; i < gs; ++i) {
      float v = scale == 0.0f ? 0.0f : round_to<T>(__fdiv_rn(to_f(wg[i]), scale));
      put(MODE == QM::Mxfp8 ? e4m3_code(v) : fp4_code(v));
    }
  }
}

// ---------------------------------------------------------------- dequantize
// One thread per 8 elements. Output of product z at out + z * rows * cols (row-major).
// Affine: q * s rounded to O, then + b rounded to O (S == O). fp modes: value * scale in float.
template <typename O, typename S, QM MODE, int BITS>
__global__ void k_dequant(const uint32_t* __restrict__ w, const S* __restrict__ sc, const S* __restrict__ bi,
                          const float* __restrict__ gscale, O* __restrict__ out, int64_t rows, int64_t cols,
                          int64_t wpr, int64_t G, int gshift, QBatch qb, int64_t z0) {
  int64_t z = z0 + blockIdx.y;
  int64_t upr = cols / 8;
  int64_t u = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= rows * upr) return;
  int64_t o[4];
  batch_offsets(qb, z, o);
  int64_t r = u / upr, uu = u - r * upr;
  int64_t g = (uu * 8) >> gshift;
  uint32_t q[8];
  load_codes8<BITS>(w + o[1] + r * wpr, uu, q);
  O v[8];
  if constexpr (MODE == QM::Affine) {
    float s = to_f(sc[o[2] + r * G + g]), b = to_f(bi[o[3] + r * G + g]);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      float prod = round_to<O>(__fmul_rn(static_cast<float>(q[j]), s));
      v[j] = from_f<O>(__fadd_rn(prod, b));
    }
  } else {
    float s = fp_scale<MODE>(sc[o[2] + r * G + g]);
    if constexpr (MODE == QM::Nvfp4) {
      if (gscale) {
        float gfac = __fdiv_rn(2688.0f, gscale[0]);
        if (gfac != 0.0f) s = __fmul_rn(s, __fdiv_rn(1.0f, gfac));
      }
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = from_f<O>(__fmul_rn(fp_value<MODE>(q[j]), s));
  }
  O* dst = out + z * rows * cols + r * cols + uu * 8;
#pragma unroll
  for (int j = 0; j < 8; ++j) dst[j] = v[j];
}

// ---------------------------------------------------------------- x @ W^T for few rows
// Block: kQmvWarps warps, kQmvCols output columns each; grid (column blocks, products).
template <typename T, typename S, QM MODE, int BITS>
__global__ void __launch_bounds__(kQmvWarps * 32)
    k_qmv(const T* __restrict__ x, const uint32_t* __restrict__ w, const S* __restrict__ sc,
          const S* __restrict__ bi, T* __restrict__ out, int M, int N, int K, int64_t wpr, int64_t G, int gshift,
          QBatch qb, int64_t z0) {
  extern __shared__ float4 xs4[];
  float* xs = reinterpret_cast<float*>(xs4);  // M rows of kQmvKC floats
  int64_t z = z0 + blockIdx.y;
  int64_t o[4];
  batch_offsets(qb, z, o);
  const T* xz = x + o[0];
  const uint32_t* wz = w + o[1];
  const S* sz = sc + o[2];
  const S* bz = MODE == QM::Affine ? bi + o[3] : nullptr;
  T* oz = out + z * int64_t(M) * N;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int n0 = (blockIdx.x * kQmvWarps + warp) * kQmvCols;
  float acc[kQmvMaxM][kQmvCols];
#pragma unroll
  for (int m = 0; m < kQmvMaxM; ++m)
#pragma unroll
    for (int j = 0; j < kQmvCols; ++j) acc[m][j] = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kQmvKC) {
    int kc = min(kQmvKC, K - k0);
    __syncthreads();
    for (int i = threadIdx.x; i < M * kc; i += blockDim.x) {
      int m = i / kc, k = i - m * kc;
      xs[m * kQmvKC + k] = to_f(xz[int64_t(m) * K + k0 + k]);
    }
    __syncthreads();
    int units = kc / 8;
#pragma unroll
    for (int j = 0; j < kQmvCols; ++j) {
      int n = n0 + j;
      if (n < N) {
        const uint32_t* wr = wz + int64_t(n) * wpr;
        const S* sr = sz + int64_t(n) * G;
        for (int u = lane; u < units; u += 32) {
          int64_t ku = (k0 >> 3) + u;  // unit index in the row
          int64_t g = (ku * 8) >> gshift;
          uint32_t q[8];
          load_codes8<BITS>(wr, ku, q);
          float v[8];
          if constexpr (MODE == QM::Affine) {
            float s = to_f(sr[g]), b = to_f(bz[int64_t(n) * G + g]);
#pragma unroll
            for (int t = 0; t < 8; ++t) v[t] = fmaf(static_cast<float>(q[t]), s, b);
          } else {
            float s = fp_scale<MODE>(sr[g]);
#pragma unroll
            for (int t = 0; t < 8; ++t) v[t] = fp_value<MODE>(q[t]) * s;
          }
          const float4* xv = reinterpret_cast<const float4*>(xs + u * 8);
#pragma unroll
          for (int m = 0; m < kQmvMaxM; ++m) {
            if (m < M) {
              float4 a = xv[m * (kQmvKC / 4)], c = xv[m * (kQmvKC / 4) + 1];
              float d = acc[m][j];
              d = fmaf(a.x, v[0], d);
              d = fmaf(a.y, v[1], d);
              d = fmaf(a.z, v[2], d);
              d = fmaf(a.w, v[3], d);
              d = fmaf(c.x, v[4], d);
              d = fmaf(c.y, v[5], d);
              d = fmaf(c.z, v[6], d);
              d = fmaf(c.w, v[7], d);
              acc[m][j] = d;
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int m = 0; m < kQmvMaxM; ++m) {
#pragma unroll
    for (int j = 0; j < kQmvCols; ++j) {
      float v = acc[m][j];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      if (lane == 0 && m < M && n0 + j < N) oz[int64_t(m) * N + n0 + j] = from_f<T>(v);
    }
  }
}

// Pointer arrays of a gathered product: A_i = x + lhs_i * sx, B_i = wd + rhs_i * sw, C_i = out + i * so (bytes).
__global__ void k_qmm_ptrs(const uint32_t* __restrict__ li, const uint32_t* __restrict__ ri, int64_t B, int64_t nx,
                           int64_t nw, const char* x, int64_t sx, const char* wd, int64_t sw, char* out, int64_t so,
                           const void** pa, const void** pb, void** pc) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= B) return;
  int64_t l = min(static_cast<int64_t>(li[i]), nx - 1), r = min(static_cast<int64_t>(ri[i]), nw - 1);
  pa[i] = x + l * sx;
  pb[i] = wd + r * sw;
  pc[i] = out + i * so;
}

template <typename T>
__global__ void k_to_fp8(const T* __restrict__ x, uint8_t* __restrict__ y, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = static_cast<uint8_t>(e4m3_code(to_f(x[i])));
}
template <typename T>
__global__ void k_from_fp8(const uint8_t* __restrict__ x, T* __restrict__ y, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = from_f<T>(e4m3_value(x[i]));
}

// ---------------------------------------------------------------- host helpers
template <QM M_>
struct ModeC {
  static constexpr QM value = M_;
};
template <int B_>
struct BitsC {
  static constexpr int value = B_;
};

// Calls f(ModeC, BitsC) for a supported (mode, bits); false otherwise.
template <typename F>
bool dispatch_format(QM mode, int bits, F&& f) {
  switch (mode) {
    case QM::Mxfp4:
      if (bits != 4) return false;
      f(ModeC<QM::Mxfp4>{}, BitsC<4>{});
      return true;
    case QM::Nvfp4:
      if (bits != 4) return false;
      f(ModeC<QM::Nvfp4>{}, BitsC<4>{});
      return true;
    case QM::Mxfp8:
      if (bits != 8) return false;
      f(ModeC<QM::Mxfp8>{}, BitsC<8>{});
      return true;
    case QM::Affine:
      switch (bits) {
        case 1: f(ModeC<QM::Affine>{}, BitsC<1>{}); return true;
        case 2: f(ModeC<QM::Affine>{}, BitsC<2>{}); return true;
        case 3: f(ModeC<QM::Affine>{}, BitsC<3>{}); return true;
        case 4: f(ModeC<QM::Affine>{}, BitsC<4>{}); return true;
        case 5: f(ModeC<QM::Affine>{}, BitsC<5>{}); return true;
        case 6: f(ModeC<QM::Affine>{}, BitsC<6>{}); return true;
        case 8: f(ModeC<QM::Affine>{}, BitsC<8>{}); return true;
        default: return false;
      }
  }
  return false;
}

bool format_ok(QM mode, int bits, int gs, int& gshift) {
  if (gs != 16 && gs != 32 && gs != 64 && gs != 128) return false;
  if (mode == QM::Affine && !(bits >= 1 && bits <= 6) && bits != 8) return false;
  if ((mode == QM::Mxfp4 || mode == QM::Nvfp4) && bits != 4) return false;
  if (mode == QM::Mxfp8 && bits != 8) return false;
  if (int64_t(gs) * bits % 32 != 0) return false;
  gshift = 0;
  while ((1 << gshift) < gs) ++gshift;
  return true;
}

bool is_gpu_float(Dtype t) { return t == float32 || t == float16 || t == bfloat16; }


// Whether the last two dims are dense row-major (batch dims may have any strides).
bool mats_dense(const array& a) {
  int nd = static_cast<int>(a.ndim());
  if (nd < 2) return a.flags().row_contiguous;
  bool last = a.shape(-1) <= 1 || a.strides(nd - 1) == 1;
  bool rows = a.shape(-2) <= 1 || a.strides(nd - 2) == int64_t(a.shape(-1));
  return last && rows;
}
bool mats_ready(const array& a, array& r) {
  if (mats_dense(a)) {
    r = a;
    return true;
  }
  return dense_rows(a, r);
}

template <typename F>
void for_chunks(int64_t nz, F&& f) {
  for (int64_t z0 = 0; z0 < nz; z0 += 65535) f(z0, static_cast<unsigned>(std::min<int64_t>(65535, nz - z0)));
}

// Dequantizes `nmat` matrices (rows x cols, batch offsets from qb) into dst (dtype O).
template <typename O, typename S, QM MODE, int BITS>
void launch_dequant(const uint32_t* w, const S* s, const S* b, const float* gscale, O* dst, int64_t rows, int64_t cols,
                    int64_t wpr, int64_t G, int gshift, const QBatch& qb, int64_t nmat) {
  int64_t units = rows * (cols / 8);
  if (units == 0 || nmat == 0) return;
  for_chunks(nmat, [&](int64_t z0, unsigned nz) {
    dim3 grid(static_cast<unsigned>((units + 255) / 256), nz);
    k_dequant<O, S, MODE, BITS><<<grid, 256, 0, stream()>>>(w, s, b, gscale, dst, rows, cols, wpr, G, gshift, qb, z0);
    check_launch("dequantize kernel");
  });
}

template <typename T, typename S, QM MODE, int BITS>
void launch_qmv(const T* x, const uint32_t* w, const S* s, const S* b, T* out, int M, int N, int K, int64_t wpr,
                int64_t G, int gshift, const QBatch& qb, int64_t nz_total) {
  size_t shmem = sizeof(float) * size_t(M) * kQmvKC;
  unsigned gx = static_cast<unsigned>((N + kQmvWarps * kQmvCols - 1) / (kQmvWarps * kQmvCols));
  for_chunks(nz_total, [&](int64_t z0, unsigned nz) {
    k_qmv<T, S, MODE, BITS><<<dim3(gx, nz), kQmvWarps * 32, shmem, stream()>>>(x, w, s, b, out, M, N, K, wpr, G,
                                                                               gshift, qb, z0);
    check_launch("quantized matmul kernel");
  });
  static_assert(kQmvMaxM * kQmvKC * sizeof(float) <= 48 * 1024, "qmv shared memory above the default limit");
}

// The operands of a quantized product after layout checks.
struct QOps {
  array x, w, s, b;
  bool has_b = false;
};

// dtype/format checks shared by quantized_matmul and gather_qmm.
bool qmm_types_ok(const std::vector<array>& inputs, size_t nidx, const array& out, QM mode) {
  Dtype dt = out.dtype();
  if (!is_gpu_float(dt) || inputs[0].dtype() != dt || inputs[1].dtype() != uint32) return false;
  bool affine = mode == QM::Affine;
  if (inputs.size() != (affine ? 4u : 3u) + nidx) return false;
  if (affine) return inputs[2].dtype() == dt && inputs[3].dtype() == dt;
  return inputs[2].dtype() == uint8;
}

// ---------------------------------------------------------------- primitives
bool eval_quantize(Primitive& p_, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Quantize&>(p_);
  int gshift;
  if (!format_ok(p.mode_, p.bits_, p.group_size_, gshift)) return false;
  const array& w_in = inputs[0];
  if (!is_gpu_float(w_in.dtype()) || w_in.ndim() < 1) return false;
  bool affine = p.mode_ == QM::Affine;
  if (outputs.size() != (affine ? 3u : 2u)) return false;
  if (inputs.size() > 1 && (p.mode_ != QM::Nvfp4 || inputs[1].dtype() != float32 || inputs[1].size() != 1))
    return false;
  int64_t K = w_in.shape(-1);
  if (K % p.group_size_ != 0) return false;
  array w;
  if (!dense_rows(w_in, w)) return false;
  return dispatch_float(w.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_format(p.mode_, p.bits_, [&](auto mc, auto bc) {
      constexpr QM MODE = decltype(mc)::value;
      constexpr int BITS = decltype(bc)::value;
      uint32_t* wq = static_cast<uint32_t*>(alloc_out(outputs[0]));
      void* s1 = alloc_out(outputs[1]);
      void* s2 = affine ? alloc_out(outputs[2]) : nullptr;
      int64_t ngroups = K == 0 ? 0 : static_cast<int64_t>(w.size()) / p.group_size_;
      if (ngroups == 0) return;
      const float* gs = inputs.size() > 1 ? in_ptr<float>(inputs[1]) : nullptr;
      if constexpr (MODE == QM::Affine) {
        k_quantize<T, MODE, BITS><<<blocks_for(ngroups, 128), 128, 0, stream()>>>(
            in_ptr<T>(w), gs, wq, static_cast<T*>(s1), static_cast<T*>(s2), nullptr, ngroups, p.group_size_);
      } else {
        k_quantize<T, MODE, BITS><<<blocks_for(ngroups, 128), 128, 0, stream()>>>(
            in_ptr<T>(w), gs, wq, nullptr, nullptr, static_cast<uint8_t*>(s1), ngroups, p.group_size_);
      }
      check_launch("quantize kernel");
    });
  });
}

bool eval_dequantize(Primitive& p_, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Dequantize&>(p_);
  int gshift;
  if (!format_ok(p.mode_, p.bits_, p.group_size_, gshift)) return false;
  array& out = outputs[0];
  bool affine = p.mode_ == QM::Affine;
  if (inputs[0].dtype() != uint32 || out.ndim() < 1) return false;
  if (affine) {
    if (inputs.size() != 3 || !is_gpu_float(out.dtype()) || inputs[1].dtype() != out.dtype() ||
        inputs[2].dtype() != out.dtype())
      return false;
  } else {
    if (out.dtype() != float32 || inputs[1].dtype() != uint8 || inputs.size() > 3) return false;
    if (inputs.size() == 3 && (p.mode_ != QM::Nvfp4 || inputs[2].dtype() != float32 || inputs[2].size() != 1))
      return false;
  }
  int64_t cols = out.shape(-1);
  if (cols % p.group_size_ != 0) return false;
  array w, s, b;
  if (!dense_rows(inputs[0], w) || !dense_rows(inputs[1], s)) return false;
  if (affine && !dense_rows(inputs[2], b)) return false;
  int64_t rows = cols == 0 ? 0 : static_cast<int64_t>(out.size()) / cols;
  int64_t wpr = cols * p.bits_ / 32, G = cols / p.group_size_;
  return dispatch_float(out.dtype(), [&](auto tag) {
    using O = typename decltype(tag)::type;
    dispatch_format(p.mode_, p.bits_, [&](auto mc, auto bc) {
      constexpr QM MODE = decltype(mc)::value;
      constexpr int BITS = decltype(bc)::value;
      O* po = static_cast<O*>(alloc_out(out));
      if (out.size() == 0) return;
      QBatch qb;
      if constexpr (MODE == QM::Affine) {
        launch_dequant<O, O, MODE, BITS>(in_ptr<uint32_t>(w), in_ptr<O>(s), in_ptr<O>(b), nullptr, po, rows, cols,
                                         wpr, G, gshift, qb, 1);
      } else {
        const float* gs = inputs.size() == 3 ? in_ptr<float>(inputs[2]) : nullptr;
        launch_dequant<O, uint8_t, MODE, BITS>(in_ptr<uint32_t>(w), in_ptr<uint8_t>(s), nullptr, gs, po, rows, cols,
                                               wpr, G, gshift, qb, 1);
      }
    });
  });
}

bool eval_quantized_matmul(Primitive& p_, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<QuantizedMatmul&>(p_);
  int gshift;
  if (!format_ok(p.mode_, p.bits_, p.group_size_, gshift)) return false;
  array& out = outputs[0];
  if (!qmm_types_ok(inputs, 0, out, p.mode_)) return false;
  bool affine = p.mode_ == QM::Affine;
  int nd = static_cast<int>(out.ndim());
  if (nd < 2 || nd - 2 > kMaxDims) return false;
  for (auto& a : inputs)
    if (static_cast<int>(a.ndim()) != nd) return false;
  bool tr = p.transpose_;
  int M = out.shape(-2), N = out.shape(-1), K = inputs[0].shape(-1);
  int R = inputs[1].shape(-2);
  int64_t wpr = inputs[1].shape(-1), G = inputs[2].shape(-1);
  int64_t cols = tr ? K : N;
  if (R != (tr ? N : K) || cols * p.bits_ != wpr * 32 || G * p.group_size_ != cols) return false;
  int64_t MN = int64_t(M) * N;
  int64_t nb = MN == 0 ? 0 : static_cast<int64_t>(out.size()) / MN;
  bool qmv = tr && M <= kQmvMaxM;
  size_t isz = out.itemsize();
  QOps o;
  if (!mats_ready(inputs[0], o.x) || !mats_ready(inputs[1], o.w) || !mats_ready(inputs[2], o.s)) return false;
  if (affine && !mats_ready(inputs[3], o.b)) return false;
  QBatch qb;
  qb.ndim = nd - 2;
  bool shared_w = true;
  for (int d = 0; d < nd - 2; ++d) {
    qb.shape[d] = out.shape(d);
    qb.st[0][d] = o.x.shape(d) == 1 ? 0 : o.x.strides(d);
    qb.st[1][d] = o.w.shape(d) == 1 ? 0 : o.w.strides(d);
    qb.st[2][d] = o.s.shape(d) == 1 ? 0 : o.s.strides(d);
    qb.st[3][d] = affine ? (o.b.shape(d) == 1 ? 0 : o.b.strides(d)) : 0;
    shared_w = shared_w && qb.st[1][d] == 0 && qb.st[2][d] == 0 && qb.st[3][d] == 0;
  }
  int64_t nmat = shared_w ? std::min<int64_t>(nb, 1) : nb;
  if (!qmv) {
    if (nmat * R * cols * int64_t(isz) > kMaxTempBytes) return false;
    if (!o.x.flags().row_contiguous && !dense_rows(inputs[0], o.x)) return false;
  }
  return dispatch_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_format(p.mode_, p.bits_, [&](auto mc, auto bc) {
      constexpr QM MODE = decltype(mc)::value;
      constexpr int BITS = decltype(bc)::value;
      using S = std::conditional_t<MODE == QM::Affine, T, uint8_t>;
      T* po = static_cast<T*>(alloc_out(out));
      if (out.size() == 0) return;
      if (K == 0) {
        MLX_CUDA_CHECK(cudaMemsetAsync(po, 0, out.nbytes(), stream()));
        return;
      }
      const T* px = in_ptr<T>(o.x);
      const uint32_t* pw = in_ptr<uint32_t>(o.w);
      const S* ps = in_ptr<S>(o.s);
      const S* pb = affine ? in_ptr<S>(o.b) : nullptr;
      if (qmv) {
        launch_qmv<T, S, MODE, BITS>(px, pw, ps, pb, po, M, N, K, wpr, G, gshift, qb, nb);
        return;
      }
      size_t tbytes = size_t(nmat) * R * cols * isz;
      T* wd = static_cast<T*>(dev_malloc(tbytes));
      launch_dequant<T, S, MODE, BITS>(pw, ps, pb, nullptr, wd, R, cols, wpr, G, gshift, qb, nmat);
      gemm_strided_batched(out.dtype(), false, tr, M, N, K, px, K, int64_t(M) * K, wd, tr ? K : N,
                           shared_w ? 0 : int64_t(R) * cols, po, N, MN, static_cast<int>(nb));
      dev_free(wd, tbytes);  // ordered after the gemm on the one stream
    });
  });
}

bool eval_gather_qmm(Primitive& p_, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<GatherQMM&>(p_);
  int gshift;
  if (!format_ok(p.mode_, p.bits_, p.group_size_, gshift)) return false;
  array& out = outputs[0];
  if (!qmm_types_ok(inputs, 2, out, p.mode_)) return false;
  bool affine = p.mode_ == QM::Affine;
  size_t nq = affine ? 4 : 3;
  if (out.ndim() != 3) return false;
  for (size_t i = 0; i < nq; ++i)
    if (inputs[i].ndim() != 3) return false;
  const array& li_in = inputs[nq];
  const array& ri_in = inputs[nq + 1];
  if (li_in.dtype() != uint32 || ri_in.dtype() != uint32) return false;
  bool tr = p.transpose_;
  int64_t B = out.shape(0);
  int M = out.shape(1), N = out.shape(2), K = inputs[0].shape(2);
  int64_t Bx = inputs[0].shape(0), Bw = inputs[1].shape(0);
  int R = inputs[1].shape(1);
  int64_t wpr = inputs[1].shape(2), G = inputs[2].shape(2);
  int64_t cols = tr ? K : N;
  if (R != (tr ? N : K) || cols * p.bits_ != wpr * 32 || G * p.group_size_ != cols) return false;
  if (B > (int64_t(1) << 30) || (int64_t(M) + 15) / 16 > 65535) return false;
  bool qmv = tr && M <= kQmvMaxM;
  size_t isz = out.itemsize();
  if (!qmv && Bw * R * cols * int64_t(isz) > kMaxTempBytes) return false;
  QOps o;
  array li, ri;
  if (!mats_ready(inputs[0], o.x) || !mats_ready(inputs[1], o.w) || !mats_ready(inputs[2], o.s)) return false;
  if (affine && !mats_ready(inputs[3], o.b)) return false;
  if (!dense_rows(li_in, li) || !dense_rows(ri_in, ri)) return false;
  return dispatch_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_format(p.mode_, p.bits_, [&](auto mc, auto bc) {
      constexpr QM MODE = decltype(mc)::value;
      constexpr int BITS = decltype(bc)::value;
      using S = std::conditional_t<MODE == QM::Affine, T, uint8_t>;
      T* po = static_cast<T*>(alloc_out(out));
      if (out.size() == 0) return;
      if (K == 0 || Bx == 0 || Bw == 0) {
        MLX_CUDA_CHECK(cudaMemsetAsync(po, 0, out.nbytes(), stream()));
        return;
      }
      const T* px = in_ptr<T>(o.x);
      const uint32_t* pw = in_ptr<uint32_t>(o.w);
      const S* ps = in_ptr<S>(o.s);
      const S* pb = affine ? in_ptr<S>(o.b) : nullptr;
      const uint32_t* pl = in_ptr<uint32_t>(li);
      const uint32_t* pr = in_ptr<uint32_t>(ri);
      QBatch qb;
      qb.ndim = 1;
      qb.shape[0] = Bw;
      qb.st[0][0] = o.x.strides(0);
      qb.st[1][0] = o.w.strides(0);
      qb.st[2][0] = o.s.strides(0);
      qb.st[3][0] = affine ? o.b.strides(0) : 0;
      if (qmv) {
        qb.lhs = pl;
        qb.rhs = pr;
        qb.nx = Bx;
        qb.nw = Bw;
        launch_qmv<T, S, MODE, BITS>(px, pw, ps, pb, po, M, N, K, wpr, G, gshift, qb, B);
        return;
      }
      // All matrices of w dequantized, then one pointer-batched gemm.
      size_t tbytes = size_t(Bw) * R * cols * isz;
      T* wd = static_cast<T*>(dev_malloc(tbytes));
      launch_dequant<T, S, MODE, BITS>(pw, ps, pb, nullptr, wd, R, cols, wpr, G, gshift, qb, Bw);
      // x's matrices are dense row-major with a batch stride (after mats_ready). cuBLAS gets
      // pointer arrays only where every pointer is 16-byte aligned; else the tiled kernel.
      int64_t sx = o.x.strides(0) * int64_t(isz), sw = int64_t(R) * cols * int64_t(isz),
              so = int64_t(M) * N * int64_t(isz);
      if (!(aligned(px, 16) && aligned(wd, 16) && aligned(po, 16) && sx % 16 == 0 && sw % 16 == 0 &&
            so % 16 == 0)) {
        gather_gemm_tiled(out.dtype(), pl, pr, B, Bx, Bw, px, o.x.strides(0), K, 1, wd, int64_t(R) * cols,
                          tr ? 1 : N, tr ? K : 1, po, M, N, K);
        dev_free(wd, tbytes);
        return;
      }
      size_t pbytes = sizeof(void*) * 3 * static_cast<size_t>(B);
      void** ptrs = static_cast<void**>(dev_malloc(pbytes));
      k_qmm_ptrs<<<blocks_for(B, 256), 256, 0, stream()>>>(
          pl, pr, B, Bx, Bw, reinterpret_cast<const char*>(px), sx, reinterpret_cast<const char*>(wd), sw,
          reinterpret_cast<char*>(po), so, const_cast<const void**>(ptrs), const_cast<const void**>(ptrs + B),
          ptrs + 2 * B);
      check_launch("gather_qmm pointers");
      gemm_ptr_batched(out.dtype(), false, tr, M, N, K, ptrs, K, ptrs + B, tr ? K : N, ptrs + 2 * B, N,
                       static_cast<int>(B));
      dev_free(ptrs, pbytes);
      dev_free(wd, tbytes);
    });
  });
}

bool eval_to_fp8(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (!is_gpu_float(inputs[0].dtype()) || out.dtype() != uint8) return false;
  array x;
  if (!dense_rows(inputs[0], x)) return false;
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    uint8_t* py = static_cast<uint8_t*>(alloc_out(out));
    int64_t n = static_cast<int64_t>(out.size());
    if (n == 0) return;
    k_to_fp8<T><<<blocks_for(n, 256), 256, 0, stream()>>>(in_ptr<T>(x), py, n);
    check_launch("to_fp8 kernel");
  });
}

bool eval_from_fp8(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (inputs[0].dtype() != uint8 || !is_gpu_float(out.dtype())) return false;
  array x;
  if (!dense_rows(inputs[0], x)) return false;
  return dispatch_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = static_cast<T*>(alloc_out(out));
    int64_t n = static_cast<int64_t>(out.size());
    if (n == 0) return;
    k_from_fp8<T><<<blocks_for(n, 256), 256, 0, stream()>>>(in_ptr<uint8_t>(x), py, n);
    check_launch("from_fp8 kernel");
  });
}

}  // namespace

MLX_CUDA_KERNEL(Quantize, eval_quantize);
MLX_CUDA_KERNEL(Dequantize, eval_dequantize);
MLX_CUDA_KERNEL(QuantizedMatmul, eval_quantized_matmul);
MLX_CUDA_KERNEL(GatherQMM, eval_gather_qmm);
MLX_CUDA_KERNEL(ToFP8, eval_to_fp8);
MLX_CUDA_KERNEL(FromFP8, eval_from_fp8);

}  // namespace mlx::core::cu

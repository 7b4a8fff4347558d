// CPU kernels of the quantization family.
//
// quantized_matmul never materializes the dequantized matrix. For x @ W^T with few rows of x
// (M < kBlasRows) each thread decodes kNR rows x a K-chunk of W into an L1-resident buffer and
// multiplies it with all rows of x in a register-blocked micro-kernel. Otherwise (and for
// x @ W) each thread decodes L2-sized tiles of W (kTileElems values) and hands them to a
// single-threaded gemm.
#include "mlx/backend/cpu/blas.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/quantized.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

using QM = QuantizationMode;

constexpr int kBlasRows = 16;    // rows of x from which x @ W^T uses the tile + BLAS path
constexpr int kKC = 512;         // K-chunk of the transposed micro-kernel (multiple of 128)
constexpr int kNR = 4;           // rows of W per transposed micro-kernel tile

// ---------------------------------------------------------------- number formats
struct Tables {
  float e4m3[256];
  float e8m0[256];
  float fp4[16];
  Tables() {
    for (int c = 0; c < 256; ++c) e8m0[c] = c == 255 ? NAN : std::ldexp(1.0f, c - 127);
    for (int b = 0; b < 256; ++b) {
      int e = (b >> 3) & 15, m = b & 7;
      float v = (e == 15 && m == 7) ? NAN : (e == 0 ? std::ldexp(float(m), -9) : std::ldexp(float(8 + m), e - 10));
      e4m3[b] = (b & 0x80) ? -v : v;
    }
    const float mag[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
    for (int c = 0; c < 16; ++c) fp4[c] = (c & 8) ? -mag[c & 7] : mag[c & 7];
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

// e4m3 code of x: round to nearest even, saturating at 448 (also for inf and NaN), sign kept.
inline uint8_t e4m3_code(float x) {
  uint8_t sign = std::signbit(x) ? 0x80 : 0;
  float a = std::fabs(x);
  if (!(a < 448.0f)) return sign | 0x7e;
  int c;
  if (a < 0.015625f) {
    c = static_cast<int>(std::nearbyint(a * 512.0f));  // subnormals: multiples of 2^-9
  } else {
    uint32_t u;
    std::memcpy(&u, &a, 4);
    u += 0x7FFFFu + ((u >> 20) & 1u);  // round the mantissa to 3 bits, ties to even
    int e = static_cast<int>(u >> 23) - 127;
    c = ((e + 7) << 3) | static_cast<int>((u >> 20) & 7u);
    c = std::min(c, 0x7e);
  }
  return static_cast<uint8_t>(sign | c);
}

// e2m1 code of x: nearest value, ties toward the smaller magnitude, saturating at 6; zero unsigned.
inline uint8_t fp4_code(float x) {
  float a = std::fabs(x);
  int c = (a > 0.25f) + (a > 0.75f) + (a > 1.25f) + (a > 1.75f) + (a > 2.5f) + (a > 3.5f) + (a > 5.0f);
  return static_cast<uint8_t>(c && x < 0 ? (c | 8) : c);
}

// The e8m0 code of the smallest power of two s with r / s <= 1 (r >= 0).
inline uint8_t e8m0_ceil_code(float r) {
  if (std::isnan(r)) return 255;
  if (std::isinf(r)) return 254;
  if (r == 0) return 127;
  int e;
  float m = std::frexp(r, &e);
  int ex = m == 0.5f ? e - 1 : e;
  return static_cast<uint8_t>(std::clamp(ex + 127, 0, 254));
}

// 448 * 6 / global_scale, the factor nvfp4 block scales carry when a global scale is given.
inline float nv_global_factor(float gs) { return 448.0f * 6.0f / gs; }

// Decoded scale of one group (mx: 2^(e-127); nvfp4: e4m3 value, divided by the global factor
// when quantizing, times its reciprocal when dequantizing, as MLX rounds them).
inline float fp_scale_value(uint8_t code, QM mode, float gfac, bool dequant = false) {
  if (mode == QM::Nvfp4) {
    float v = tables().e4m3[code];
    if (gfac == 0) return v;
    return dequant ? v * (1.0f / gfac) : v / gfac;
  }
  return tables().e8m0[code];
}

// ---------------------------------------------------------------- bit packing
// Unpacks the 32 `bits`-bit codes of one 32-element block (`bits` words, LSB first).
template <int Bits>
inline void unpack32_t(const uint32_t* blk, uint8_t* codes) {
  if constexpr (32 % Bits == 0) {
    constexpr int per = 32 / Bits;
    for (int i = 0; i < Bits; ++i)
      for (int j = 0; j < per; ++j) codes[i * per + j] = (blk[i] >> (j * Bits)) & ((1u << Bits) - 1);
  } else {
    uint64_t acc = 0;
    int have = 0, wi = 0;
    for (int j = 0; j < 32; ++j) {
      if (have < Bits) {
        acc |= uint64_t(blk[wi++]) << have;
        have += 32;
      }
      codes[j] = static_cast<uint8_t>(acc & ((1u << Bits) - 1));
      acc >>= Bits;
      have -= Bits;
    }
  }
}
inline void unpack32(const uint32_t* blk, int bits, uint8_t* codes) {
  switch (bits) {
    case 1: unpack32_t<1>(blk, codes); break;
    case 2: unpack32_t<2>(blk, codes); break;
    case 3: unpack32_t<3>(blk, codes); break;
    case 4: unpack32_t<4>(blk, codes); break;
    case 5: unpack32_t<5>(blk, codes); break;
    case 6: unpack32_t<6>(blk, codes); break;
    default: unpack32_t<8>(blk, codes); break;
  }
}
// Packs n codes (n * bits a multiple of 32) into n * bits / 32 words.
inline void pack_codes(const uint8_t* codes, int n, int bits, uint32_t* blk) {
  std::memset(blk, 0, sizeof(uint32_t) * (n * bits / 32));
  for (int j = 0; j < n; ++j) {
    int pos = j * bits, w = pos >> 5, off = pos & 31;
    blk[w] |= uint32_t(codes[j]) << off;
    if (off + bits > 32) blk[w + 1] |= uint32_t(codes[j]) >> (32 - off);
  }
}

// Keeps the compiler from fusing a product into a following addition (dequantize must round
// q * s before adding the bias, as MLX does).
template <typename T>
inline T no_fuse(T v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(v));
#else
  volatile T t = v;
  v = t;
#endif
  return v;
}

// ---------------------------------------------------------------- vectors
template <typename A>
struct VecT {
  typedef A type __attribute__((vector_size(32)));
};
template <typename V, typename A>
inline V vload(const A* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V, typename A>
inline void vstore(A* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}
template <typename V, typename A>
inline A hsum(V v) {
  constexpr int L = sizeof(V) / sizeof(A);
  A s = 0;
  for (int i = 0; i < L; ++i) s += v[i];
  return s;
}

// ---------------------------------------------------------------- a quantized matrix
struct QSpec {
  int gs, bits;
  QM mode;
};

// Row-major 2-D view of one quantized matrix with scales (and biases) decoded to A.
template <typename A>
struct QMat {
  const uint32_t* w = nullptr;
  const A* s = nullptr;
  const A* b = nullptr;  // affine only
  int64_t wpr = 0, G = 0;  // words and groups per row
};

typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));

typedef uint8_t v32u8 __attribute__((vector_size(32)));
typedef uint64_t v4u64 __attribute__((vector_size(32)));

// In-lane byte-shuffle mask: 32-bit lane l (0..7) gets the bytes starting at the one that
// holds its first bit, from a copy of the 8 source bytes in each 128-bit half.
template <int Bits, size_t... I>
inline v32u8 lane_byte_mask(std::index_sequence<I...>) {
  return v32u8{static_cast<uint8_t>(int(I) / 16 * 16 +
                                    std::min(((int(I) / 4) * Bits) / 8 + int(I) % 4, 15))...};
}

// The 8 codes of elements j0 .. j0 + 7 (j0 a multiple of 8) of a 32-element block as int lanes.
template <int Bits>
inline v8i codes8(const uint32_t* blk, int j0) {
  constexpr int per = 32 / Bits;
  v8i wv, sh;
  if constexpr (32 % Bits == 0 && per >= 8) {
    wv = v8i{} + static_cast<int32_t>(blk[j0 / per]);
    sh = v8i{0, 1, 2, 3, 4, 5, 6, 7} * Bits + (j0 % per) * Bits;
  } else if constexpr (Bits == 8) {
    int32_t w0 = static_cast<int32_t>(blk[j0 / 4]), w1 = static_cast<int32_t>(blk[j0 / 4 + 1]);
    wv = v8i{w0, w0, w0, w0, w1, w1, w1, w1};
    sh = v8i{0, 8, 16, 24, 0, 8, 16, 24};
  } else {
    // 8 codes take Bits bytes; each code lies within 2 bytes (shift <= 7, Bits <= 6).
    // Read 8 bytes inside the block (4 * Bits bytes): near its end, the last 8 bytes shifted.
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(blk);
    int off = (j0 / 8) * Bits;
    uint64_t v;
    if (off + 8 <= 4 * Bits) {
      std::memcpy(&v, bytes + off, 8);
    } else {
      std::memcpy(&v, bytes + 4 * Bits - 8, 8);
      v >>= 8 * (off - (4 * Bits - 8));
    }
    v32u8 src = reinterpret_cast<v32u8>(v4u64{v, 0, v, 0});
    wv = reinterpret_cast<v8i>(__builtin_shuffle(src, lane_byte_mask<Bits>(std::make_index_sequence<32>())));
    sh = (v8i{0, 1, 2, 3, 4, 5, 6, 7} * Bits) & 7;
  }
  return (wv >> sh) & ((1 << Bits) - 1);
}

// Affine decode of 32 elements of one row with compile-time bits, vectorized for A = float.
template <int Bits, typename A, bool Exact>
inline void decode32_affine(const uint32_t* blk, A s, A b, A* out) {
  if constexpr (std::is_same_v<A, float>) {
    v8f vs = v8f{} + s, vb = v8f{} + b;
    for (int j0 = 0; j0 < 32; j0 += 8) {
      v8f f = __builtin_convertvector(codes8<Bits>(blk, j0), v8f);
      v8f o;
      if constexpr (Exact) o = no_fuse(f * vs) + vb;
      else o = f * vs + vb;
      vstore(out + j0, o);
    }
  } else {
    uint8_t codes[32];
    unpack32_t<Bits>(blk, codes);
    for (int j = 0; j < 32; ++j) {
      if constexpr (Exact) out[j] = no_fuse(A(codes[j]) * s) + b;
      else out[j] = A(codes[j]) * s + b;
    }
  }
}

// Values of 8 fp codes: e2m1 through a register table, e4m3 by moving its bits into a float
// and rescaling (exact, subnormals included).
template <QM Mode>
inline v8f fp_values8(v8i q) {
  if constexpr (Mode == QM::Mxfp8) {
    v8i mag = q & 0x7f;
    v8f f = reinterpret_cast<v8f>(mag << 20) * 0x1p120f;
    v8i bits = reinterpret_cast<v8i>(f) | ((q & 0x80) << 24);
    bits = (mag == 0x7f) ? (v8i{} + 0x7fc00000) : bits;
    return reinterpret_cast<v8f>(bits);
  } else {
    const v8f lut = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
    v8f mag = __builtin_shuffle(lut, q & 7);
    return reinterpret_cast<v8f>(reinterpret_cast<v8i>(mag) | ((q & 8) << 28));
  }
}

// fp decode of 32 elements; s1 is the scale of the second half (group size 16).
template <QM Mode, typename A>
inline void decode32_fp(const uint32_t* blk, A s, A s1, A* out) {
  constexpr int Bits = Mode == QM::Mxfp8 ? 8 : 4;
  if constexpr (std::is_same_v<A, float>) {
    for (int j0 = 0; j0 < 32; j0 += 8) {
      v8f v = fp_values8<Mode>(codes8<Bits>(blk, j0));
      vstore(out + j0, v * (v8f{} + (j0 < 16 ? s : s1)));
    }
  } else {
    const Tables& t = tables();
    if constexpr (Mode == QM::Mxfp8) {
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j) out[i * 4 + j] = A(t.e4m3[(blk[i] >> (8 * j)) & 255]) * (i < 4 ? s : s1);
    } else {
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 8; ++j) out[i * 8 + j] = A(t.fp4[(blk[i] >> (4 * j)) & 15]) * (i < 2 ? s : s1);
    }
  }
}

// Decodes columns [c0, c0 + nc) (multiples of 32) of row r into out.
template <typename A>
using DecodeFn = void (*)(const QMat<A>&, int gshift, int64_t r, int64_t c0, int64_t nc, A* out);

template <typename A, bool Exact, int Bits>
void decode_span_affine(const QMat<A>& W, int gshift, int64_t r, int64_t c0, int64_t nc, A* out) {
  const uint32_t* wr = W.w + r * W.wpr;
  const A* sr = W.s + r * W.G;
  const A* br = W.b + r * W.G;
  for (int64_t c = c0; c < c0 + nc; c += 32) {
    int64_t g = c >> gshift;
    decode32_affine<Bits, A, Exact>(wr + (c >> 5) * Bits, sr[g], br[g], out + (c - c0));
  }
}
template <typename A, QM Mode>
void decode_span_fp(const QMat<A>& W, int gshift, int64_t r, int64_t c0, int64_t nc, A* out) {
  constexpr int Bits = Mode == QM::Mxfp8 ? 8 : 4;
  const uint32_t* wr = W.w + r * W.wpr;
  const A* sr = W.s + r * W.G;
  for (int64_t c = c0; c < c0 + nc; c += 32) {
    int64_t g = c >> gshift, g1 = (c + 16) >> gshift;
    decode32_fp<Mode, A>(wr + (c >> 5) * Bits, sr[g], sr[g1], out + (c - c0));
  }
}

// Rows [r0, r0 + nr) x columns [c0, c0 + nc) into out (row stride ld), one call per tile.
template <typename A>
using TileFn = void (*)(const QMat<A>&, int gshift, int64_t r0, int nr, int64_t c0, int64_t nc, A* out, int64_t ld);
template <typename A, DecodeFn<A> Span>
void decode_tile(const QMat<A>& W, int gshift, int64_t r0, int nr, int64_t c0, int64_t nc, A* out, int64_t ld) {
  for (int r = 0; r < nr; ++r) Span(W, gshift, r0 + r, c0, nc, out + r * ld);
}

// The decoder of a format, chosen once per call.
template <typename A, bool Exact>
struct Decoder {
  DecodeFn<A> fn;
  TileFn<A> tile_fn;
  int gshift;
  template <DecodeFn<A> F>
  void set() {
    fn = F;
    tile_fn = decode_tile<A, F>;
  }
  Decoder(const QSpec& q) {
    gshift = 0;
    while ((1 << gshift) < q.gs) ++gshift;
    switch (q.mode) {
      case QM::Mxfp4: set<decode_span_fp<A, QM::Mxfp4>>(); return;
      case QM::Nvfp4: set<decode_span_fp<A, QM::Nvfp4>>(); return;
      case QM::Mxfp8: set<decode_span_fp<A, QM::Mxfp8>>(); return;
      default: break;
    }
    switch (q.bits) {
      case 1: set<decode_span_affine<A, Exact, 1>>(); break;
      case 2: set<decode_span_affine<A, Exact, 2>>(); break;
      case 3: set<decode_span_affine<A, Exact, 3>>(); break;
      case 4: set<decode_span_affine<A, Exact, 4>>(); break;
      case 5: set<decode_span_affine<A, Exact, 5>>(); break;
      case 6: set<decode_span_affine<A, Exact, 6>>(); break;
      default: set<decode_span_affine<A, Exact, 8>>(); break;
    }
  }
  void operator()(const QMat<A>& W, int64_t r, int64_t c0, int64_t nc, A* out) const {
    fn(W, gshift, r, c0, nc, out);
  }
  void tile(const QMat<A>& W, int64_t r0, int nr, int64_t c0, int64_t nc, A* out, int64_t ld) const {
    tile_fn(W, gshift, r0, nr, c0, nc, out, ld);
  }
};

// ---------------------------------------------------------------- helpers on arrays
int64_t batch_offset(const array& x, int64_t b) {
  int64_t off = 0;
  for (int i = static_cast<int>(x.ndim()) - 3; i >= 0; --i) {
    off += (b % x.shape(i)) * x.strides(i);
    b /= x.shape(i);
  }
  return off;
}

// Whether the last two dims are dense row-major (batch dims may have any strides).
bool mats_contiguous(const array& a) {
  int nd = static_cast<int>(a.ndim());
  if (nd < 2) return a.flags().row_contiguous;
  bool last = a.shape(-1) <= 1 || a.strides(nd - 1) == 1;
  bool rows = a.shape(-2) <= 1 || a.strides(nd - 2) == int64_t(a.shape(-1));
  return last && rows;
}
array mats_ready(const array& a) { return mats_contiguous(a) ? a : cpu::ensure_row_contiguous(a); }

// A row-contiguous copy of `a` converted to dtype t (or `a` itself when it already is one).
array as_contiguous(const array& a, Dtype t) {
  if (a.dtype() == t && a.flags().row_contiguous) return a;
  array c(a.shape(), t, nullptr, {});
  cpu::alloc_out(c);
  cpu::copy_to_contiguous(a, c);
  return c;
}

template <typename A>
constexpr Dtype dtype_of() {
  return std::is_same_v<A, double> ? float64 : float32;
}

// Scales (and biases) of a quantized operand converted to A, row-contiguous over everything.
template <typename A>
struct QParamsBuf {
  array s, b;
  std::vector<A> fp;  // decoded fp-mode scales
  const A* sp = nullptr;
  const A* bp = nullptr;
};
template <typename A>
void prepare_params(const array& scales, const array* biases, QM mode, float gfac, QParamsBuf<A>& out) {
  if (mode == QM::Affine) {
    out.s = as_contiguous(scales, dtype_of<A>());
    out.b = as_contiguous(*biases, dtype_of<A>());
    out.sp = out.s.template data<A>();
    out.bp = out.b.template data<A>();
    return;
  }
  array s = cpu::ensure_row_contiguous(scales);
  const uint8_t* p = s.data<uint8_t>();
  out.fp.resize(s.size());
  A* o = out.fp.data();
  cpu::parallel_for(s.size(), 1 << 14, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) o[i] = A(fp_scale_value(p[i], mode, gfac, true));
  });
  out.sp = out.fp.data();
}

// ---------------------------------------------------------------- matmul kernels
// Micro-kernel of x @ W^T for few rows of x: acc[m][j] (one vector each, summed across lanes
// at the end) += X[m, k:k+L] * Wt[j][k:k+L] for the kNR decoded rows Wt of W.

// Generic (any A, any target): one row of X at a time.
template <typename A>
void micro_t_generic(const A* X, int64_t ldx, int M, const A* w, int kc, A* accv) {
  using V = typename VecT<A>::type;
  constexpr int L = 32 / sizeof(A);
  for (int m = 0; m < M; ++m) {
    const A* x0 = X + int64_t(m) * ldx;
    A* a = accv + size_t(m) * kNR * L;
    V a0 = vload<V>(a), a1 = vload<V>(a + L), a2 = vload<V>(a + 2 * L), a3 = vload<V>(a + 3 * L);
    for (int k = 0; k < kc; k += L) {
      V v0 = vload<V>(x0 + k);
      a0 += v0 * vload<V>(w + k);
      a1 += v0 * vload<V>(w + kc + k);
      a2 += v0 * vload<V>(w + 2 * kc + k);
      a3 += v0 * vload<V>(w + 3 * kc + k);
    }
    vstore(a, a0);
    vstore(a + L, a1);
    vstore(a + 2 * L, a2);
    vstore(a + 3 * L, a3);
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// float, three rows of X against the kNR = 4 decoded rows: 12 accumulators, 7 loads per 12 FMAs.
inline void micro_t_avx2(const float* X, int64_t ldx, int M, const float* w, int kc, float* accv) {
  const float* w0 = w;
  const float* w1 = w + kc;
  const float* w2 = w + 2 * kc;
  const float* w3 = w + 3 * kc;
  int m = 0;
  for (; m + 3 <= M; m += 3) {
    const float* x0 = X + int64_t(m) * ldx;
    const float* x1 = x0 + ldx;
    const float* x2 = x1 + ldx;
    float* a = accv + size_t(m) * kNR * 8;
    __m256 c00 = _mm256_loadu_ps(a), c01 = _mm256_loadu_ps(a + 8), c02 = _mm256_loadu_ps(a + 16),
           c03 = _mm256_loadu_ps(a + 24);
    __m256 c10 = _mm256_loadu_ps(a + 32), c11 = _mm256_loadu_ps(a + 40), c12 = _mm256_loadu_ps(a + 48),
           c13 = _mm256_loadu_ps(a + 56);
    __m256 c20 = _mm256_loadu_ps(a + 64), c21 = _mm256_loadu_ps(a + 72), c22 = _mm256_loadu_ps(a + 80),
           c23 = _mm256_loadu_ps(a + 88);
    for (int k = 0; k < kc; k += 8) {
      __m256 v0 = _mm256_loadu_ps(x0 + k), v1 = _mm256_loadu_ps(x1 + k), v2 = _mm256_loadu_ps(x2 + k);
      __m256 u = _mm256_loadu_ps(w0 + k);
      c00 = _mm256_fmadd_ps(v0, u, c00);
      c10 = _mm256_fmadd_ps(v1, u, c10);
      c20 = _mm256_fmadd_ps(v2, u, c20);
      u = _mm256_loadu_ps(w1 + k);
      c01 = _mm256_fmadd_ps(v0, u, c01);
      c11 = _mm256_fmadd_ps(v1, u, c11);
      c21 = _mm256_fmadd_ps(v2, u, c21);
      u = _mm256_loadu_ps(w2 + k);
      c02 = _mm256_fmadd_ps(v0, u, c02);
      c12 = _mm256_fmadd_ps(v1, u, c12);
      c22 = _mm256_fmadd_ps(v2, u, c22);
      u = _mm256_loadu_ps(w3 + k);
      c03 = _mm256_fmadd_ps(v0, u, c03);
      c13 = _mm256_fmadd_ps(v1, u, c13);
      c23 = _mm256_fmadd_ps(v2, u, c23);
    }
    _mm256_storeu_ps(a, c00);
    _mm256_storeu_ps(a + 8, c01);
    _mm256_storeu_ps(a + 16, c02);
    _mm256_storeu_ps(a + 24, c03);
    _mm256_storeu_ps(a + 32, c10);
    _mm256_storeu_ps(a + 40, c11);
    _mm256_storeu_ps(a + 48, c12);
    _mm256_storeu_ps(a + 56, c13);
    _mm256_storeu_ps(a + 64, c20);
    _mm256_storeu_ps(a + 72, c21);
    _mm256_storeu_ps(a + 80, c22);
    _mm256_storeu_ps(a + 88, c23);
  }
  for (; m < M; ++m) {
    const float* x0 = X + int64_t(m) * ldx;
    float* a = accv + size_t(m) * kNR * 8;
    __m256 c0 = _mm256_loadu_ps(a), c1 = _mm256_loadu_ps(a + 8), c2 = _mm256_loadu_ps(a + 16),
           c3 = _mm256_loadu_ps(a + 24);
    for (int k = 0; k < kc; k += 8) {
      __m256 v0 = _mm256_loadu_ps(x0 + k);
      c0 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(w0 + k), c0);
      c1 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(w1 + k), c1);
      c2 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(w2 + k), c2);
      c3 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(w3 + k), c3);
    }
    _mm256_storeu_ps(a, c0);
    _mm256_storeu_ps(a + 8, c1);
    _mm256_storeu_ps(a + 16, c2);
    _mm256_storeu_ps(a + 24, c3);
  }
}

#endif

template <typename A>
inline void micro_t(const A* X, int64_t ldx, int M, const A* w, int kc, A* accv) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<A, float>) {
    micro_t_avx2(X, ldx, M, w, kc, accv);
    return;
  }
#endif
  micro_t_generic<A>(X, ldx, M, w, kc, accv);
}
// out[m, n] = sum_k X[m, k] W[n, k]; X (M, K) with row stride ldx, out (M, N) with row stride ldo.
template <typename A>
void qmm_t_fused(const A* X, int64_t ldx, int M, const QMat<A>& W, const QSpec& q, int N, int K, A* out,
                 int64_t ldo) {
  constexpr int L = 32 / sizeof(A);
  Decoder<A, false> dec(q);
  int nblocks = (N + kNR - 1) / kNR;
  // Blocks per task: enough work (~64k multiply-adds) to amortize scheduling.
  size_t work = size_t(kNR) * K * (size_t(M) + 4);
  size_t grain = std::max<size_t>(1, (size_t(1) << 16) / std::max<size_t>(work, 1));
  cpu::parallel_for(nblocks, grain, [&](size_t b0, size_t b1) {
    // 64-byte aligned buffers: the micro-kernel's loads never straddle cache lines.
    std::vector<A> wstore(size_t(kNR) * kKC + 64 / sizeof(A));
    A* wb = reinterpret_cast<A*>((reinterpret_cast<uintptr_t>(wstore.data()) + 63) & ~uintptr_t(63));
    std::vector<A> accv(size_t(M) * kNR * L);
    for (size_t blk = b0; blk < b1; ++blk) {
      int n0 = static_cast<int>(blk) * kNR;
      int nr = std::min(kNR, N - n0);
      std::fill(accv.begin(), accv.end(), A(0));
      for (int k0 = 0; k0 < K; k0 += kKC) {
        int kc = std::min(kKC, K - k0);
        dec.tile(W, n0, nr, k0, kc, wb, kc);
        for (int j = nr; j < kNR; ++j) std::fill(wb + size_t(j) * kc, wb + size_t(j + 1) * kc, A(0));
        micro_t<A>(X + k0, ldx, M, wb, kc, accv.data());
      }
      for (int m = 0; m < M; ++m)
        for (int j = 0; j < nr; ++j) {
          const A* a = accv.data() + (size_t(m) * kNR + j) * L;
          A sacc = 0;
          for (int l = 0; l < L; ++l) sacc += a[l];
          out[int64_t(m) * ldo + n0 + j] = sacc;
        }
    }
  });
}

template <typename A>
void gemm(bool tb, int M, int N, int K, const A* X, int64_t ldx, const A* B, int64_t ldb, A beta, A* C,
          int64_t ldc) {
  auto TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<A, float>)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, TB, M, N, K, 1.0f, X, int(ldx), B, int(ldb), beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, TB, M, N, K, 1.0, X, int(ldx), B, int(ldb), beta, C, int(ldc));
}

// Switches OpenBLAS to one thread while pool threads each run their own gemm.
struct BlasSingleThread {
  int old = 0;
  BlasSingleThread() {
    old = openblas_get_num_threads();
    if (old > 1) openblas_set_num_threads(1);
    else old = 0;
  }
  ~BlasSingleThread() {
    if (old > 1) openblas_set_num_threads(old);
  }
};

// Many rows of x: each task decodes a tile of W of about kTileBytes (never the whole matrix)
// into its own buffer and multiplies it with X through a single-threaded gemm.
constexpr int64_t kTileElems = 1 << 17;
template <typename A>
void qmm_tiled_blas(const A* X, int64_t ldx, int M, const QMat<A>& W, const QSpec& q, bool transpose, int N, int K,
                    A* out, int64_t ldo) {
  Decoder<A, false> dec(q);
  BlasSingleThread single;
  if (transpose) {
    // Tiles of NT rows of W (NT x K) give NT output columns.
    // Larger tiles for more rows of X amortize the gemm's packing of X.
    int64_t elems = kTileElems * std::max(1, M / 32);
    int NT = static_cast<int>(std::clamp<int64_t>(elems / std::max(K, 1), 8, 512));
    int ntiles = (N + NT - 1) / NT;
    cpu::parallel_for(ntiles, 1, [&](size_t t0, size_t t1) {
      std::vector<A> tile(size_t(NT) * K);
      for (size_t t = t0; t < t1; ++t) {
        int n0 = static_cast<int>(t) * NT, nt = std::min(NT, N - n0);
        dec.tile(W, n0, nt, 0, K, tile.data(), K);
        gemm<A>(true, M, nt, K, X, ldx, tile.data(), K, A(0), out + n0, ldo);
      }
    });
  } else {
    // Column blocks of NB (one task each), walked in L2-sized tiles of KT rows that are
    // decoded and accumulated into out[:, n0:n0 + NB] by gemm.
    int nth = cpu::num_threads();
    int NB = std::min(N, std::max(256, (N / nth + 31) / 32 * 32));
    int KT = static_cast<int>(std::clamp<int64_t>(kTileElems / NB, 16, std::max(K, 16)));
    int ntiles = (N + NB - 1) / NB;
    cpu::parallel_for(ntiles, 1, [&](size_t t0, size_t t1) {
      std::vector<A> tile(size_t(NB) * KT);
      for (size_t t = t0; t < t1; ++t) {
        int n0 = static_cast<int>(t) * NB, nb = std::min(NB, N - n0);
        for (int k0 = 0; k0 < K; k0 += KT) {
          int kt = std::min(KT, K - k0);
          dec.tile(W, k0, kt, n0, nb, tile.data(), nb);
          gemm<A>(false, M, nb, kt, X + k0, ldx, tile.data(), nb, A(k0 == 0 ? 0 : 1), out + n0, ldo);
        }
      }
    });
  }
}

// One product: X (M, K) times the quantized W, into out (M, N) (row stride ldo).
template <typename A>
void qmm_one(const A* X, int64_t ldx, int M, const QMat<A>& W, const QSpec& q, bool transpose, int N, int K, A* out,
             int64_t ldo) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int m = 0; m < M; ++m) std::fill(out + int64_t(m) * ldo, out + int64_t(m) * ldo + N, A(0));
    return;
  }
  if (transpose && M < kBlasRows) qmm_t_fused<A>(X, ldx, M, W, q, N, K, out, ldo);
  else qmm_tiled_blas<A>(X, ldx, M, W, q, transpose, N, K, out, ldo);
}

// Output buffer of accumulation type A: `out` itself, or a temporary converted at the end.
template <typename A>
struct OutBuf {
  array& out;
  array tmp;
  A* p;
  explicit OutBuf(array& o) : out(o) {
    if (o.dtype() == dtype_of<A>()) {
      p = o.data<A>();
    } else {
      tmp = array(o.shape(), dtype_of<A>(), nullptr, {});
      cpu::alloc_out(tmp);
      p = tmp.data<A>();
    }
  }
  void finish() {
    if (tmp.is_valid()) copy_cast_raw(tmp.data<A>(), tmp.dtype(), out.raw_ptr(), out.dtype(), out.size());
  }
};

template <typename A>
void quantized_matmul_impl(const std::vector<array>& inputs, array& out, const QSpec& q, bool transpose) {
  array x = inputs[0];
  if (x.dtype() != dtype_of<A>() || !mats_contiguous(x)) x = as_contiguous(x, dtype_of<A>());
  array w = mats_ready(inputs[1]);
  QParamsBuf<A> prm;
  // Scales/biases: batch broadcasts are rare; make them dense.
  prepare_params<A>(inputs[2], inputs.size() > 3 ? &inputs[3] : nullptr, q.mode, 0.0f, prm);
  int M = x.shape(-2), K = x.shape(-1), N = out.shape(-1);
  int rows = w.shape(-2);
  int64_t G = inputs[2].shape(-1);
  int64_t nbatch = out.size() / std::max<int64_t>(1, int64_t(M) * N);
  OutBuf<A> ob(out);
  const A* xp = x.data<A>();
  const uint32_t* wp = w.data<uint32_t>();
  for (int64_t b = 0; b < nbatch; ++b) {
    QMat<A> W;
    W.w = wp + batch_offset(w, b);
    W.wpr = w.shape(-1);
    W.G = G;
    W.s = prm.sp + b * rows * G;
    W.b = prm.bp ? prm.bp + b * rows * G : nullptr;
    qmm_one<A>(xp + batch_offset(x, b), K, M, W, q, transpose, N, K, ob.p + b * int64_t(M) * N, N);
  }
  ob.finish();
}

// ---------------------------------------------------------------- quantize kernels
template <typename C>
void affine_quantize_group(const C* w, int g, int bits, uint8_t* codes, C& scale, C& bias) {
  C mx = w[0], mn = w[0];
  for (int i = 1; i < g; ++i) {
    mx = std::max(mx, w[i]);
    mn = std::min(mn, w[i]);
  }
  C nb = C((1 << bits) - 1);
  C s, b;
  if (bits == 1) {
    s = std::max(mx - mn, C(1e-7f));
    b = mn;
  } else {
    s = std::max((mx - mn) / nb, C(1e-7f));
    bool side = std::abs(mn) > std::abs(mx);
    s = side ? s : -s;
    C edge = side ? mn : mx;
    C q0 = std::rint(edge / s);
    if (q0 != 0) {
      s = edge / q0;
      b = edge;
    } else {
      b = 0;
    }
  }
  for (int i = 0; i < g; ++i) {
    C v = std::rint((w[i] - b) / s);
    v = std::min(std::max(v, C(0)), nb);
    codes[i] = static_cast<uint8_t>(v);
  }
  scale = s;
  bias = b;
}

template <typename T>
void quantize_impl(const array& w_in, const array* gscale, std::vector<array>& outs, const QSpec& q) {
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  array w = as_contiguous(w_in, dtype_of<C>());
  for (auto& o : outs) cpu::alloc_out(o);
  int64_t K = w.ndim() ? w.shape(-1) : 0;
  if (w.size() == 0 || K == 0) return;
  int64_t rows = w.size() / K;
  int64_t G = K / q.gs, wpr = K * q.bits / 32;
  const C* src = w.data<C>();
  uint32_t* dst = outs[0].data<uint32_t>();
  float gfac = 0;
  if (gscale) gfac = nv_global_factor(gscale->data<float>()[0]);
  const Tables& t = tables();
  (void)t;
  int64_t ngroups = rows * G;
  cpu::parallel_for(ngroups, std::max<int64_t>(1, 8192 / q.gs), [&](size_t g0, size_t g1) {
    std::vector<uint8_t> codes(q.gs);
    std::vector<float> tmp(q.gs);
    for (size_t gi = g0; gi < g1; ++gi) {
      int64_t r = gi / G, g = gi % G;
      const C* wg = src + r * K + g * q.gs;
      if (q.mode == QM::Affine) {
        C s, b;
        affine_quantize_group<C>(wg, q.gs, q.bits, codes.data(), s, b);
        outs[1].data<T>()[gi] = cast_to<T>(s);
        outs[2].data<T>()[gi] = cast_to<T>(b);
      } else {
        float amax = 0;
        for (int i = 0; i < q.gs; ++i) {
          tmp[i] = static_cast<float>(wg[i]);
          amax = std::max(amax, std::fabs(tmp[i]));
        }
        // The block scale is computed in the input's precision (as MLX: a float16 input
        // rounds amax / 448 to float16 before the power of two is chosen).
        auto in_prec = [](float v) { return static_cast<float>(cast_to<T>(v)); };
        uint8_t sc;
        float scale;
        if (q.mode == QM::Nvfp4) {
          float v = in_prec(amax / 6.0f);
          if (gfac != 0) v = v * gfac;
          sc = e4m3_code(v);
          scale = fp_scale_value(sc, q.mode, gfac);
        } else {
          sc = e8m0_ceil_code(in_prec(amax / (q.mode == QM::Mxfp8 ? 448.0f : 6.0f)));
          scale = fp_scale_value(sc, q.mode, 0);
        }
        outs[1].data<uint8_t>()[gi] = sc;
        for (int i = 0; i < q.gs; ++i) {
          float v = scale == 0 ? 0.0f : in_prec(tmp[i] / scale);
          codes[i] = q.mode == QM::Mxfp8 ? e4m3_code(v) : fp4_code(v);
        }
      }
      uint32_t* wo = dst + r * wpr + g * q.gs * q.bits / 32;
      pack_codes(codes.data(), q.gs, q.bits, wo);
    }
  });
}

// Dequantize into T (the compute dtype): exact q * s (rounded) + b for affine.
template <typename T>
void dequantize_impl(const std::vector<array>& inputs, array& out, const QSpec& q) {
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  array w = cpu::ensure_row_contiguous(inputs[0]);
  int64_t cols = out.shape(-1), rows = out.size() / cols;
  int64_t G = cols / q.gs, wpr = w.shape(-1);
  const uint32_t* wp = w.data<uint32_t>();
  T* op = out.data<T>();
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    QParamsBuf<T> prm;
    float gfac = 0;
    if (q.mode == QM::Nvfp4 && inputs.size() > 2) gfac = nv_global_factor(inputs[2].data<float>()[0]);
    prepare_params<T>(inputs[1], q.mode == QM::Affine ? &inputs[2] : nullptr, q.mode, gfac, prm);
    QMat<T> W{wp, prm.sp, prm.bp, wpr, G};
    Decoder<T, true> dec(q);
    cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / cols), [&](size_t r0, size_t r1) {
      dec.tile(W, r0, int(r1 - r0), 0, cols, op + r0 * cols, cols);
    });
  } else {
    // Half types (affine only): q * s rounded to T, then + b rounded to T.
    array s = cpu::ensure_row_contiguous(inputs[1]), b = cpu::ensure_row_contiguous(inputs[2]);
    const T* sp = s.data<T>();
    const T* bp = b.data<T>();
    cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / cols), [&](size_t r0, size_t r1) {
      uint8_t codes[32];
      for (size_t r = r0; r < r1; ++r) {
        for (int64_t c = 0; c < cols; c += 32) {
          unpack32(wp + r * wpr + c / 32 * q.bits, q.bits, codes);
          float sv = static_cast<float>(sp[r * G + c / q.gs]), bv = static_cast<float>(bp[r * G + c / q.gs]);
          for (int j = 0; j < 32; ++j) {
            float prod = static_cast<float>(T(float(codes[j]) * sv));
            op[r * cols + c + j] = T(prod + bv);
          }
        }
      }
    });
  }
}

}  // namespace

// ---------------------------------------------------------------- primitives
void Quantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  QSpec q{group_size_, bits_, mode_};
  const array* gs = inputs.size() > 1 ? &inputs[1] : nullptr;
  array g;
  if (gs) {
    g = cpu::ensure_row_contiguous(*gs);
    gs = &g;
  }
  switch (inputs[0].dtype()) {
    case float32: quantize_impl<float>(inputs[0], gs, outputs, q); break;
    case float64: quantize_impl<double>(inputs[0], gs, outputs, q); break;
    case float16: quantize_impl<float16_t>(inputs[0], gs, outputs, q); break;
    case bfloat16: quantize_impl<bfloat16_t>(inputs[0], gs, outputs, q); break;
    default: throw std::runtime_error(msg("[quantize] unsupported dtype ", inputs[0].dtype(), "."));
  }
}

void Dequantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  QSpec q{group_size_, bits_, mode_};
  std::vector<array> in = inputs;
  if (mode_ == QM::Nvfp4 && in.size() > 2) in[2] = cpu::ensure_row_contiguous(in[2]);
  auto& out = outputs[0];
  switch (out.dtype()) {
    case float32: dequantize_impl<float>(in, out, q); break;
    case float64: dequantize_impl<double>(in, out, q); break;
    case float16: dequantize_impl<float16_t>(in, out, q); break;
    case bfloat16: dequantize_impl<bfloat16_t>(in, out, q); break;
    default: throw std::runtime_error(msg("[dequantize] unsupported dtype ", out.dtype(), "."));
  }
}

void QuantizedMatmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  QSpec q{group_size_, bits_, mode_};
  if (out.dtype() == float64) quantized_matmul_impl<double>(inputs, out, q, transpose_);
  else quantized_matmul_impl<float>(inputs, out, q, transpose_);
}

namespace {
template <typename A>
void gather_qmm_impl(const std::vector<array>& inputs, array& out, const QSpec& q, bool transpose) {
  bool has_b = inputs.size() == 6;
  array x = as_contiguous(inputs[0], dtype_of<A>());
  array w = cpu::ensure_row_contiguous(inputs[1]);
  array li = cpu::ensure_row_contiguous(inputs[has_b ? 4 : 3]);
  array ri = cpu::ensure_row_contiguous(inputs[has_b ? 5 : 4]);
  int64_t Bx = x.shape(0), Bw = w.shape(0);
  int M = x.shape(1), K = x.shape(2);
  int rows = w.shape(1);
  int64_t wpr = w.shape(2), G = inputs[2].shape(-1);
  int64_t B = out.shape(0);
  int N = out.shape(2);
  OutBuf<A> ob(out);
  if (Bx == 0 || Bw == 0) {
    std::fill(ob.p, ob.p + out.size(), A(0));
    ob.finish();
    return;
  }
  QParamsBuf<A> prm;
  prepare_params<A>(inputs[2], has_b ? &inputs[3] : nullptr, q.mode, 0.0f, prm);
  const uint32_t* lp = li.data<uint32_t>();
  const uint32_t* rp = ri.data<uint32_t>();
  // Out-of-range indices are clamped (as gather_mm); reading past the batch is never done.
  auto lhs = [&](int64_t i) { return std::min<int64_t>(lp[i], Bx - 1); };
  auto rhs = [&](int64_t i) { return std::min<int64_t>(rp[i], Bw - 1); };
  // Items grouped by matrix of w (stable counting sort): one product with cnt * M rows each.
  std::vector<int64_t> start(Bw + 1, 0), order(B);
  for (int64_t i = 0; i < B; ++i) start[rhs(i) + 1]++;
  for (int64_t e = 0; e < Bw; ++e) start[e + 1] += start[e];
  {
    std::vector<int64_t> pos(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < B; ++i) order[pos[rhs(i)]++] = i;
  }
  const A* xp = x.data<A>();
  int64_t MK = int64_t(M) * K, MN = int64_t(M) * N;
  std::vector<A> xbuf, obuf;
  for (int64_t e = 0; e < Bw; ++e) {
    int64_t b0 = start[e], cnt = start[e + 1] - b0;
    if (cnt == 0) continue;
    // Direct pointers when the items (and their lhs) are consecutive.
    bool direct = true;
    for (int64_t t = 1; t < cnt && direct; ++t)
      direct = order[b0 + t] == order[b0] + t && lhs(order[b0 + t]) == lhs(order[b0]) + t;
    const A* X;
    A* O;
    if (direct) {
      X = xp + lhs(order[b0]) * MK;
      O = ob.p + order[b0] * MN;
    } else {
      xbuf.resize(size_t(cnt * MK));
      obuf.resize(size_t(cnt * MN));
      for (int64_t t = 0; t < cnt; ++t)
        std::memcpy(xbuf.data() + t * MK, xp + lhs(order[b0 + t]) * MK, sizeof(A) * MK);
      X = xbuf.data();
      O = obuf.data();
    }
    QMat<A> W;
    W.w = w.data<uint32_t>() + e * rows * wpr;
    W.wpr = wpr;
    W.G = G;
    W.s = prm.sp + e * rows * G;
    W.b = prm.bp ? prm.bp + e * rows * G : nullptr;
    qmm_one<A>(X, K, static_cast<int>(cnt * M), W, q, transpose, N, K, O, N);
    if (!direct)
      for (int64_t t = 0; t < cnt; ++t) std::memcpy(ob.p + order[b0 + t] * MN, O + t * MN, sizeof(A) * MN);
  }
  ob.finish();
}

inline void fp8_encode_range(const float* in, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = e4m3_code(in[i]);
}
}  // namespace

void GatherQMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  QSpec q{group_size_, bits_, mode_};
  if (out.dtype() == float64) gather_qmm_impl<double>(inputs, out, q, transpose_);
  else gather_qmm_impl<float>(inputs, out, q, transpose_);
}

void ToFP8::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  array x = as_contiguous(inputs[0], float32);
  const float* xp = x.data<float>();
  uint8_t* op = out.data<uint8_t>();
  cpu::parallel_for(out.size(), cpu::kElemGrain, [&](size_t b, size_t e) { fp8_encode_range(xp + b, op + b, e - b); });
}

void FromFP8::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  array x = cpu::ensure_row_contiguous(inputs[0]);
  const uint8_t* xp = x.data<uint8_t>();
  const Tables& t = tables();
  MLX_DISPATCH_REAL(out.dtype(), {
    T* op = out.data<T>();
    cpu::parallel_for(out.size(), cpu::kElemGrain, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) op[i] = cast_to<T>(t.e4m3[xp[i]]);
    });
  });
}

}  // namespace mlx::core

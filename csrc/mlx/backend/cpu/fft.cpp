// CPU FFT (complex64): mixed-radix (2, 3, 4, 5, 7, 11, 13) Stockham passes, Bluestein's
// chirp-z algorithm for lengths with other prime factors, a four-step split for long single
// transforms, and the half-length trick for real transforms of even length.
//
// Every pass computes V transforms side by side in a split "lane" layout (element t of lane l
// at re[t*V + l], im[t*V + l]), so each butterfly is one SIMD operation over lanes whatever the
// stride of the pass. Many short lines fill the lanes directly; one long line is split as
// n = n1 * n2 into n2 columns of length n1 and n1 rows of length n2 (four-step), which again
// come in groups of V. Inverse transforms reuse the forward code: ifft(x) = swap(fft(swap(x)))
// with swap exchanging real and imaginary parts.
#include <cmath>
#include <complex>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/fft.h"

namespace mlx::core {

namespace {

using cf = std::complex<float>;
constexpr int V = 16;              // lanes: transforms computed side by side
constexpr int kSmallLine = 256;    // a single line this short runs in one lane
constexpr int kLanesMax = 4096;    // longest transform the many-lines path keeps in lanes

struct Stage {
  int radix, ns;  // ns: product of the radices of the earlier passes
  size_t tw;      // offset of this pass's twiddles: exp(-2 pi i r k / (ns radix)) at [(r-1) ns + k]
};

struct FourStep {
  int n1 = 0, n2 = 0;
  std::vector<float> twr, twi;  // exp(-2 pi i k1 b / n) at [k1 n2 + b]
};

struct Plan {
  int n = 1;
  std::vector<Stage> stages;
  std::vector<float> twr, twi;
  // Bluestein: X_k = a_k sum_j (x_j a_j) conj(a_{k-j}), a_t = exp(-i pi t^2 / n), as a circular
  // convolution of length m >= 2n - 1 done with FFTs of the smooth length m.
  bool bluestein = false;
  int m = 0;
  std::shared_ptr<const Plan> sub;
  std::vector<float> chr, chi;  // a_t, t < n
  std::vector<float> bfr, bfi;  // FFT_m(conj a, wrapped) / m
  mutable std::once_flag fs_once, rt_once;
  mutable FourStep fs;
  mutable std::vector<float> rtr, rti;  // exp(-2 pi i k / (2n)), k <= n: real transforms of length 2n
  int eff() const { return bluestein ? m : n; }
};

std::shared_ptr<const Plan> get_plan(int n);
void fft_line(const Plan& p, cf* work, cf* out, bool inverse, float scale);

// ---------- lane butterflies (forward, w = exp(-2 pi i / R)) ----------

// W floats per SIMD register; the V lanes are V / W registers.
#if defined(__AVX512F__)
constexpr int W = 16;
#elif defined(__AVX__)
constexpr int W = 8;
#else
constexpr int W = 4;
#endif
static_assert(V % W == 0, "lanes must fill whole registers");
typedef float vf __attribute__((vector_size(W * sizeof(float))));

inline vf ld(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof(vf));
  return v;
}
inline void st(float* p, vf v) { std::memcpy(p, &v, sizeof(vf)); }

template <int R>
inline void butterfly(vf* ar, vf* ai);

template <>
inline void butterfly<2>(vf* ar, vf* ai) {
  vf r0 = ar[0], i0 = ai[0];
  ar[0] = r0 + ar[1];
  ai[0] = i0 + ai[1];
  ar[1] = r0 - ar[1];
  ai[1] = i0 - ai[1];
}

template <>
inline void butterfly<4>(vf* ar, vf* ai) {
  vf t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
  vf t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
  vf t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
  // (a1 - a3) * (-i)
  vf t3r = ai[1] - ai[3], t3i = ar[3] - ar[1];
  ar[0] = t0r + t2r;
  ai[0] = t0i + t2i;
  ar[2] = t0r - t2r;
  ai[2] = t0i - t2i;
  ar[1] = t1r + t3r;
  ai[1] = t1i + t3i;
  ar[3] = t1r - t3r;
  ai[3] = t1i - t3i;
}

template <>
inline void butterfly<3>(vf* ar, vf* ai) {
  const float s = 0.86602540378443864676f;  // sin(2 pi / 3)
  vf t1r = ar[1] + ar[2], t1i = ai[1] + ai[2];
  vf t2r = ar[1] - ar[2], t2i = ai[1] - ai[2];
  vf m1r = ar[0] - 0.5f * t1r, m1i = ai[0] - 0.5f * t1i;
  // -i s t2
  vf m2r = s * t2i, m2i = -s * t2r;
  ar[0] += t1r;
  ai[0] += t1i;
  ar[1] = m1r + m2r;
  ai[1] = m1i + m2i;
  ar[2] = m1r - m2r;
  ai[2] = m1i - m2i;
}

template <>
inline void butterfly<5>(vf* ar, vf* ai) {
  const float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;  // cos(2 pi/5), cos(4 pi/5)
  const float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;   // sin(2 pi/5), sin(4 pi/5)
  vf a0r = ar[0], a0i = ai[0];
  vf t1r = ar[1] + ar[4], t1i = ai[1] + ai[4];
  vf t2r = ar[2] + ar[3], t2i = ai[2] + ai[3];
  vf t3r = ar[1] - ar[4], t3i = ai[1] - ai[4];
  vf t4r = ar[2] - ar[3], t4i = ai[2] - ai[3];
  vf m1r = a0r + c1 * t1r + c2 * t2r, m1i = a0i + c1 * t1i + c2 * t2i;
  vf m2r = a0r + c2 * t1r + c1 * t2r, m2i = a0i + c2 * t1i + c1 * t2i;
  vf n1r = s1 * t3r + s2 * t4r, n1i = s1 * t3i + s2 * t4i;
  vf n2r = s2 * t3r - s1 * t4r, n2i = s2 * t3i - s1 * t4i;
  ar[0] = a0r + t1r + t2r;
  ai[0] = a0i + t1i + t2i;
  // y1 = m1 - i n1, y4 = m1 + i n1, y2 = m2 - i n2, y3 = m2 + i n2
  ar[1] = m1r + n1i;
  ai[1] = m1i - n1r;
  ar[4] = m1r - n1i;
  ai[4] = m1i + n1r;
  ar[2] = m2r + n2i;
  ai[2] = m2i - n2r;
  ar[3] = m2r - n2i;
  ai[3] = m2i + n2r;
}

// Odd prime radix by symmetric pairs: with t_r = a_r + a_{P-r}, d_r = a_r - a_{P-r},
// y_q = m_q - i n_q and y_{P-q} = m_q + i n_q, m_q = a_0 + sum_r cos(2 pi q r / P) t_r,
// n_q = sum_r sin(2 pi q r / P) d_r.
template <int P>
struct OddTables {
  float c[P][P], s[P][P];
  OddTables() {
    for (int q = 0; q < P; ++q)
      for (int r = 0; r < P; ++r) {
        double ang = 2.0 * M_PI * ((q * r) % P) / P;
        c[q][r] = static_cast<float>(std::cos(ang));
        s[q][r] = static_cast<float>(std::sin(ang));
      }
  }
};

template <int P>
inline void butterfly_odd(vf* ar, vf* ai) {
  constexpr int H = (P - 1) / 2;
  static const OddTables<P> tab;
  vf tr[H + 1], ti[H + 1], dr[H + 1], di[H + 1];
  vf y0r = ar[0], y0i = ai[0];
  for (int r = 1; r <= H; ++r) {
    tr[r] = ar[r] + ar[P - r];
    ti[r] = ai[r] + ai[P - r];
    dr[r] = ar[r] - ar[P - r];
    di[r] = ai[r] - ai[P - r];
    y0r += tr[r];
    y0i += ti[r];
  }
  for (int q = 1; q <= H; ++q) {
    vf mr = ar[0], mi = ai[0], nr = {}, ni = {};
    for (int r = 1; r <= H; ++r) {
      const float c = tab.c[q][r], s = tab.s[q][r];
      mr += c * tr[r];
      mi += c * ti[r];
      nr += s * dr[r];
      ni += s * di[r];
    }
    ar[q] = mr + ni;
    ai[q] = mi - nr;
    ar[P - q] = mr - ni;
    ai[P - q] = mi + nr;
  }
  ar[0] = y0r;
  ai[0] = y0i;
}

template <>
inline void butterfly<7>(vf* ar, vf* ai) { butterfly_odd<7>(ar, ai); }
template <>
inline void butterfly<11>(vf* ar, vf* ai) { butterfly_odd<11>(ar, ai); }
template <>
inline void butterfly<13>(vf* ar, vf* ai) { butterfly_odd<13>(ar, ai); }

// One Stockham pass (decimation in time): leg r of butterfly j = b ns + k reads x[j + r n/R],
// is twiddled by exp(-2 pi i r k / (ns R)) and lands at y[b ns R + r ns + k].
template <int R>
void pass(int n, int ns, const float* twr, const float* twi, const float* __restrict xr,
          const float* __restrict xi, float* __restrict yr, float* __restrict yi) {
  const int m = n / R;
  const size_t sm = size_t(m) * V, so = size_t(ns) * V;
  for (int b = 0; b < m / ns; ++b) {
    for (int k = 0; k < ns; ++k) {
      const size_t j = size_t(b) * ns + k;
      const float* pr = xr + j * V;
      const float* pi = xi + j * V;
      float* qr = yr + (size_t(b) * ns * R + k) * V;
      float* qi = yi + (size_t(b) * ns * R + k) * V;
      float wr[R], wi[R];
      if (k > 0)
        for (int r = 1; r < R; ++r) {
          wr[r] = twr[size_t(r - 1) * ns + k];
          wi[r] = twi[size_t(r - 1) * ns + k];
        }
      for (int c = 0; c < V; c += W) {
        vf ar[R], ai[R];
        for (int r = 0; r < R; ++r) {
          ar[r] = ld(pr + r * sm + c);
          ai[r] = ld(pi + r * sm + c);
        }
        if (k > 0)
          for (int r = 1; r < R; ++r) {
            vf tr = ar[r] * wr[r] - ai[r] * wi[r];
            ai[r] = ar[r] * wi[r] + ai[r] * wr[r];
            ar[r] = tr;
          }
        butterfly<R>(ar, ai);
        for (int r = 0; r < R; ++r) {
          st(qr + r * so + c, ar[r]);
          st(qi + r * so + c, ai[r]);
        }
      }
    }
  }
}

// Forward FFT of V lanes of a smooth plan; (yr, yi) is scratch. True when the result is in y.
bool lanes_stockham(const Plan& p, float* xr, float* xi, float* yr, float* yi) {
  bool in_y = false;
  for (const auto& st : p.stages) {
    const float* sr = in_y ? yr : xr;
    const float* si = in_y ? yi : xi;
    float* dr = in_y ? xr : yr;
    float* di = in_y ? xi : yi;
    const float* wr = p.twr.data() + st.tw;
    const float* wi = p.twi.data() + st.tw;
    switch (st.radix) {
      case 2: pass<2>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
      case 3: pass<3>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
      case 4: pass<4>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
      case 5: pass<5>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
      case 7: pass<7>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
      case 11: pass<11>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
      default: pass<13>(p.n, st.ns, wr, wi, sr, si, dr, di); break;
    }
    in_y = !in_y;
  }
  return in_y;
}

// Floats of scratch lanes_fft needs for plan p.
size_t lanes_scratch(const Plan& p) { return p.bluestein ? size_t(4) * p.m * V : size_t(2) * p.n * V; }

// Forward FFT of V lanes held in (xr, xi) (length p.n each), result in place.
void lanes_fft(const Plan& p, float* xr, float* xi, float* scr) {
  const size_t nv = size_t(p.n) * V;
  if (!p.bluestein) {
    float *yr = scr, *yi = scr + nv;
    if (lanes_stockham(p, xr, xi, yr, yi)) {
      std::memcpy(xr, yr, nv * sizeof(float));
      std::memcpy(xi, yi, nv * sizeof(float));
    }
    return;
  }
  const size_t mv = size_t(p.m) * V;
  float *ur = scr, *ui = scr + mv, *wr = scr + 2 * mv, *wi = scr + 3 * mv;
  for (int t = 0; t < p.n; ++t) {
    const float cr = p.chr[t], ci = p.chi[t];
    for (int l = 0; l < V; ++l) {
      float a = xr[t * V + l], b = xi[t * V + l];
      ur[t * V + l] = a * cr - b * ci;
      ui[t * V + l] = a * ci + b * cr;
    }
  }
  std::memset(ur + nv, 0, (mv - nv) * sizeof(float));
  std::memset(ui + nv, 0, (mv - nv) * sizeof(float));
  const Plan& s = *p.sub;
  bool iy = lanes_stockham(s, ur, ui, wr, wi);
  float *cr = iy ? wr : ur, *ci = iy ? wi : ui, *dr = iy ? ur : wr, *di = iy ? ui : wi;
  for (int t = 0; t < p.m; ++t) {
    const float br = p.bfr[t], bi = p.bfi[t];
    for (int l = 0; l < V; ++l) {
      float a = cr[t * V + l], b = ci[t * V + l];
      cr[t * V + l] = a * br - b * bi;
      ci[t * V + l] = a * bi + b * br;
    }
  }
  // Inverse through swapped parts: its result is in (cr, ci) or (dr, di), unswapped.
  bool iy2 = lanes_stockham(s, ci, cr, di, dr);
  const float* rr = iy2 ? dr : cr;
  const float* ri = iy2 ? di : ci;
  for (int t = 0; t < p.n; ++t) {
    const float cr2 = p.chr[t], ci2 = p.chi[t];
    for (int l = 0; l < V; ++l) {
      float a = rr[t * V + l], b = ri[t * V + l];
      xr[t * V + l] = a * cr2 - b * ci2;
      xi[t * V + l] = a * ci2 + b * cr2;
    }
  }
}

// ---------- plans ----------

bool factor(int n, std::vector<int>& radices) {
  radices.clear();
  while (n % 4 == 0) radices.push_back(4), n /= 4;
  while (n % 2 == 0) radices.push_back(2), n /= 2;
  while (n % 3 == 0) radices.push_back(3), n /= 3;
  while (n % 5 == 0) radices.push_back(5), n /= 5;
  for (int r : {7, 11, 13})
    while (n % r == 0) radices.push_back(r), n /= r;
  return n == 1;
}

// Smallest 2^a 3^b 5^c >= n.
int good_size(int n) {
  int64_t best = int64_t(1) << 62;
  for (int64_t p5 = 1; p5 < 2 * int64_t(n); p5 *= 5)
    for (int64_t p35 = p5; p35 < 2 * int64_t(n); p35 *= 3) {
      int64_t v = p35;
      while (v < n) v *= 2;
      best = std::min(best, v);
    }
  return static_cast<int>(best);
}

std::shared_ptr<const Plan> build_plan(int n) {
  auto p = std::make_shared<Plan>();
  p->n = n;
  std::vector<int> radices;
  if (factor(n, radices)) {
    int ns = 1;
    for (int r : radices) {
      p->stages.push_back({r, ns, p->twr.size()});
      for (int q = 1; q < r; ++q)
        for (int k = 0; k < ns; ++k) {
          double ang = -2.0 * M_PI * q * k / (double(ns) * r);
          p->twr.push_back(static_cast<float>(std::cos(ang)));
          p->twi.push_back(static_cast<float>(std::sin(ang)));
        }
      ns *= r;
    }
    return p;
  }
  p->bluestein = true;
  p->m = good_size(2 * n - 1);
  p->sub = get_plan(p->m);
  p->chr.resize(n);
  p->chi.resize(n);
  for (int t = 0; t < n; ++t) {
    // t^2 mod 2n keeps the angle exact for large t.
    int64_t q = (int64_t(t) * t) % (2 * int64_t(n));
    double ang = -M_PI * double(q) / n;
    p->chr[t] = static_cast<float>(std::cos(ang));
    p->chi[t] = static_cast<float>(std::sin(ang));
  }
  std::vector<cf> b(p->m, cf(0)), bf(p->m);
  for (int t = 0; t < n; ++t) {
    cf c(p->chr[t], -p->chi[t]);
    b[t] = c;
    if (t > 0) b[p->m - t] = c;
  }
  fft_line(*p->sub, b.data(), bf.data(), false, 1.0f / p->m);
  p->bfr.resize(p->m);
  p->bfi.resize(p->m);
  for (int t = 0; t < p->m; ++t) {
    p->bfr[t] = bf[t].real();
    p->bfi[t] = bf[t].imag();
  }
  return p;
}

std::shared_ptr<const Plan> get_plan(int n) {
  static std::mutex mu;
  static std::unordered_map<int, std::shared_ptr<const Plan>> cache;
  {
    std::lock_guard<std::mutex> lk(mu);
    auto it = cache.find(n);
    if (it != cache.end()) return it->second;
  }
  auto p = build_plan(n);  // outside the lock: Bluestein plans build their sub-plan
  std::lock_guard<std::mutex> lk(mu);
  if (cache.size() > 256) cache.clear();
  return cache.emplace(n, p).first->second;
}

const FourStep& four_step_of(const Plan& p) {
  std::call_once(p.fs_once, [&] {
    int n = p.n, n1 = 1;
    for (int d = 1; int64_t(d) * d <= n; ++d)
      if (n % d == 0) n1 = d;
    FourStep& f = p.fs;
    f.n1 = n1;
    f.n2 = n / n1;
    f.twr.resize(n);
    f.twi.resize(n);
    for (int k1 = 0; k1 < f.n1; ++k1)
      for (int b = 0; b < f.n2; ++b) {
        int64_t q = (int64_t(k1) * b) % n;
        double ang = -2.0 * M_PI * double(q) / n;
        f.twr[size_t(k1) * f.n2 + b] = static_cast<float>(std::cos(ang));
        f.twi[size_t(k1) * f.n2 + b] = static_cast<float>(std::sin(ang));
      }
  });
  return p.fs;
}

// exp(-2 pi i k / (2 h)) for k <= h, where h = p.n is the half length of a real transform.
void real_twiddles(const Plan& p, const float*& wr, const float*& wi) {
  std::call_once(p.rt_once, [&] {
    int h = p.n;
    p.rtr.resize(h + 1);
    p.rti.resize(h + 1);
    for (int k = 0; k <= h; ++k) {
      double ang = -M_PI * double(k) / h;
      p.rtr[k] = static_cast<float>(std::cos(ang));
      p.rti[k] = static_cast<float>(std::sin(ang));
    }
  });
  wr = p.rtr.data();
  wi = p.rti.data();
}

// Thread-local scratch buffers; `slot` keeps nested users apart.
float* scratch(int slot, size_t nfloats) {
  thread_local std::vector<float> bufs[2];
  auto& b = bufs[slot];
  if (b.size() < nfloats) b.resize(nfloats);
  return b.data();
}

// ---------- one long line ----------

// Four-step FFT of a smooth length: work (destroyed) -> out, out != work.
void four_step(const Plan& p, cf* work, cf* out, bool inverse, float scale) {
  const FourStep& f = four_step_of(p);
  const int n1 = f.n1, n2 = f.n2;
  auto p1 = get_plan(n1), p2 = get_plan(n2);
  // Columns: length-n1 transforms of work[a n2 + b] over a, then the twiddle exp(-2 pi i k1 b / n).
  int g2 = (n2 + V - 1) / V;
  size_t grain1 = std::max<size_t>(1, 8192 / (size_t(n1) * V));
  cpu::parallel_for(g2, grain1, [&](size_t g0, size_t g1) {
    size_t len = size_t(n1) * V;
    float* xr = scratch(0, 2 * len + lanes_scratch(*p1));
    float *xi = xr + len, *scr = xi + len;
    for (size_t g = g0; g < g1; ++g) {
      int c0 = static_cast<int>(g) * V, w = std::min(V, n2 - c0);
      for (int a = 0; a < n1; ++a) {
        const cf* src = work + size_t(a) * n2 + c0;
        for (int l = 0; l < w; ++l) {
          xr[a * V + l] = inverse ? src[l].imag() : src[l].real();
          xi[a * V + l] = inverse ? src[l].real() : src[l].imag();
        }
        for (int l = w; l < V; ++l) xr[a * V + l] = xi[a * V + l] = 0.f;
      }
      lanes_fft(*p1, xr, xi, scr);
      for (int k1 = 0; k1 < n1; ++k1) {
        cf* dst = work + size_t(k1) * n2 + c0;
        const float* tr = f.twr.data() + size_t(k1) * n2 + c0;
        const float* ti = f.twi.data() + size_t(k1) * n2 + c0;
        for (int l = 0; l < w; ++l) {
          float a = xr[k1 * V + l], b = xi[k1 * V + l];
          dst[l] = cf(a * tr[l] - b * ti[l], a * ti[l] + b * tr[l]);
        }
      }
    }
  });
  // Rows: length-n2 transforms over b; X[k1 + n1 k2] = row k1, bin k2.
  int g1n = (n1 + V - 1) / V;
  size_t grain2 = std::max<size_t>(1, 8192 / (size_t(n2) * V));
  cpu::parallel_for(g1n, grain2, [&](size_t g0, size_t g1) {
    size_t len = size_t(n2) * V;
    float* xr = scratch(0, 2 * len + lanes_scratch(*p2));
    float *xi = xr + len, *scr = xi + len;
    for (size_t g = g0; g < g1; ++g) {
      int r0 = static_cast<int>(g) * V, w = std::min(V, n1 - r0);
      for (int l = 0; l < w; ++l) {
        const cf* src = work + size_t(r0 + l) * n2;
        for (int b = 0; b < n2; ++b) {
          xr[b * V + l] = src[b].real();
          xi[b * V + l] = src[b].imag();
        }
      }
      for (int l = w; l < V; ++l)
        for (int b = 0; b < n2; ++b) xr[b * V + l] = xi[b * V + l] = 0.f;
      lanes_fft(*p2, xr, xi, scr);
      for (int k2 = 0; k2 < n2; ++k2) {
        cf* dst = out + size_t(k2) * n1 + r0;
        for (int l = 0; l < w; ++l) {
          float a = xr[k2 * V + l] * scale, b = xi[k2 * V + l] * scale;
          dst[l] = inverse ? cf(b, a) : cf(a, b);
        }
      }
    }
  });
}

// FFT of one contiguous line: work (destroyed) -> out (may equal work).
void fft_line(const Plan& p, cf* work, cf* out, bool inverse, float scale) {
  const int n = p.n;
  if (p.eff() <= kSmallLine) {
    size_t len = size_t(n) * V;
    float* xr = scratch(1, 2 * len + lanes_scratch(p));
    float *xi = xr + len, *scr = xi + len;
    std::memset(xr, 0, 2 * len * sizeof(float));
    for (int t = 0; t < n; ++t) {
      xr[t * V] = inverse ? work[t].imag() : work[t].real();
      xi[t * V] = inverse ? work[t].real() : work[t].imag();
    }
    lanes_fft(p, xr, xi, scr);
    for (int t = 0; t < n; ++t) {
      float a = xr[t * V] * scale, b = xi[t * V] * scale;
      out[t] = inverse ? cf(b, a) : cf(a, b);
    }
    return;
  }
  if (!p.bluestein) {
    if (out != work) {
      four_step(p, work, out, inverse, scale);
    } else {
      std::vector<cf> tmp(n);
      four_step(p, work, tmp.data(), inverse, scale);
      std::memcpy(out, tmp.data(), sizeof(cf) * n);
    }
    return;
  }
  // Bluestein on a long line; the inverse goes through conjugation.
  const int m = p.m;
  std::vector<cf> u(m, cf(0)), v(m);
  for (int t = 0; t < n; ++t) {
    cf x = inverse ? std::conj(work[t]) : work[t];
    u[t] = x * cf(p.chr[t], p.chi[t]);
  }
  fft_line(*p.sub, u.data(), v.data(), false, 1.0f);
  for (int t = 0; t < m; ++t) v[t] *= cf(p.bfr[t], p.bfi[t]);
  fft_line(*p.sub, v.data(), u.data(), true, 1.0f);
  for (int t = 0; t < n; ++t) {
    cf y = u[t] * cf(p.chr[t], p.chi[t]) * scale;
    out[t] = inverse ? std::conj(y) : y;
  }
}

// ---------- transforms along one axis of a row-contiguous array ----------

// Line L of an axis of length n with `inner` elements after it starts at base(L), stride inner.
struct Lines {
  int64_t count, inner, n;
  int64_t base(int64_t L) const { return (L / inner) * n * inner + (L % inner); }
};

Lines lines_of(const Shape& shape, int axis) {
  int64_t inner = 1, outer = 1;
  for (int i = axis + 1; i < static_cast<int>(shape.size()); ++i) inner *= shape[i];
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  return {outer * inner, inner, shape[axis]};
}

constexpr int kTB = 32;  // elements per line moved at a time between lines and lanes

// Clears the unused lanes w.. of a partial group.
void zero_lanes(float* xr, float* xi, int n, int w) {
  if (w == V) return;
  for (int t = 0; t < n; ++t)
    for (int l = w; l < V; ++l) xr[t * V + l] = xi[t * V + l] = 0.f;
}

bool use_lanes(const Plan& p, int64_t lines) {
  return p.eff() <= kSmallLine || (lines >= V && p.eff() <= kLanesMax);
}

// Runs body(L0, w, base[]) for groups of w <= V lines L0.., spread over the pool.
template <typename F>
void for_line_groups(const Lines& ln, int eff, F&& body) {
  int64_t groups = (ln.count + V - 1) / V;
  size_t grain = std::max<size_t>(1, 65536 / (size_t(std::max(eff, 1)) * V));
  cpu::parallel_for(groups, grain, [&](size_t g0, size_t g1) {
    int64_t base[V];
    for (size_t g = g0; g < g1; ++g) {
      int64_t L0 = static_cast<int64_t>(g) * V;
      int w = static_cast<int>(std::min<int64_t>(V, ln.count - L0));
      for (int l = 0; l < w; ++l) base[l] = ln.base(L0 + l);
      body(L0, w, base);
    }
  });
}

void c2c_axis(cf* data, const Shape& shape, int axis, bool inverse, float scale) {
  Lines ln = lines_of(shape, axis);
  const int n = static_cast<int>(ln.n);
  if (ln.count == 0 || n == 0) return;
  auto plan = get_plan(n);
  const Plan& p = *plan;
  const int64_t in = ln.inner;
  if (use_lanes(p, ln.count)) {
    for_line_groups(ln, p.eff(), [&](int64_t L0, int w, const int64_t* base) {
      size_t len = size_t(n) * V;
      float* xr = scratch(0, 2 * len + lanes_scratch(p));
      float *xi = xr + len, *scr = xi + len;
      // Blocks of t keep the lines' cache lines in L1 (lines often lie 2^k bytes apart).
      for (int t0 = 0; t0 < n; t0 += kTB) {
        const int t1 = std::min(n, t0 + kTB);
        for (int l = 0; l < w; ++l) {
          const cf* src = data + base[l];
          for (int t = t0; t < t1; ++t) {
            cf v = src[t * in];
            xr[t * V + l] = inverse ? v.imag() : v.real();
            xi[t * V + l] = inverse ? v.real() : v.imag();
          }
        }
      }
      zero_lanes(xr, xi, n, w);
      lanes_fft(p, xr, xi, scr);
      for (int t0 = 0; t0 < n; t0 += kTB) {
        const int t1 = std::min(n, t0 + kTB);
        for (int l = 0; l < w; ++l) {
          cf* dst = data + base[l];
          for (int t = t0; t < t1; ++t) {
            float a = xr[t * V + l] * scale, b = xi[t * V + l] * scale;
            dst[t * in] = inverse ? cf(b, a) : cf(a, b);
          }
        }
      }
    });
    return;
  }
  std::vector<cf> work(n), res(n);
  for (int64_t L = 0; L < ln.count; ++L) {
    cf* line = data + ln.base(L);
    for (int t = 0; t < n; ++t) work[t] = line[t * in];
    fft_line(p, work.data(), res.data(), inverse, scale);
    for (int t = 0; t < n; ++t) line[t * in] = res[t];
  }
}

// Real forward transform along `axis`: x (shape, n on axis) -> X (n/2+1 on axis).
void r2c_axis(const float* x, cf* out, const Shape& shape, int axis, float scale) {
  Lines ln = lines_of(shape, axis);
  const int n = static_cast<int>(ln.n), nb = n / 2 + 1;
  if (ln.count == 0 || n == 0) return;
  const int64_t in = ln.inner;
  Lines lo{ln.count, ln.inner, nb};
  const bool even = n % 2 == 0;
  const int len = even ? n / 2 : n;  // length of the complex transform
  auto plan = get_plan(len);
  const Plan& p = *plan;
  const float *rtr = nullptr, *rti = nullptr;
  if (even) real_twiddles(p, rtr, rti);
  // From the half-length transform Z of z_t = x_2t + i x_2t+1: X_k = E_k + w^k O_k with
  // E_k = (Z_k + conj Z_{h-k}) / 2, O_k = -i (Z_k - conj Z_{h-k}) / 2, w = exp(-2 pi i / n).
  auto post = [&](int k, float zr, float zi, float cr, float ci, float& xr, float& xi) {
    // (zr, zi) = Z_k, (cr, ci) = Z_{h-k}
    float er = 0.5f * (zr + cr), ei = 0.5f * (zi - ci);
    float dr = zr - cr, di = zi + ci;  // Z_k - conj Z_{h-k}
    float orr = 0.5f * di, oi = -0.5f * dr;
    float wr = rtr[k], wi = rti[k];
    xr = (er + orr * wr - oi * wi) * scale;
    xi = (ei + orr * wi + oi * wr) * scale;
  };
  if (use_lanes(p, ln.count)) {
    for_line_groups(ln, p.eff(), [&](int64_t L0, int w, const int64_t* base) {
      size_t L = size_t(len) * V;
      float* zr = scratch(0, 2 * L + lanes_scratch(p));
      float *zi = zr + L, *scr = zi + L;
      for (int t0 = 0; t0 < len; t0 += kTB) {
        const int t1 = std::min(len, t0 + kTB);
        for (int l = 0; l < w; ++l) {
          const float* src = x + base[l];
          for (int t = t0; t < t1; ++t) {
            zr[t * V + l] = even ? src[(2 * t) * in] : src[t * in];
            zi[t * V + l] = even ? src[(2 * t + 1) * in] : 0.f;
          }
        }
      }
      zero_lanes(zr, zi, len, w);
      lanes_fft(p, zr, zi, scr);
      for (int l = 0; l < w; ++l) {
        cf* dst = out + lo.base(L0 + l);
        for (int k = 0; k < nb; ++k) {
          float a, b;
          if (even) {
            int k1 = k % len, k2 = (len - k) % len;
            post(k, zr[k1 * V + l], zi[k1 * V + l], zr[k2 * V + l], zi[k2 * V + l], a, b);
          } else {
            a = zr[k * V + l] * scale;
            b = zi[k * V + l] * scale;
          }
          dst[k * in] = cf(a, b);
        }
      }
    });
    return;
  }
  std::vector<cf> work(len), z(len);
  for (int64_t Lx = 0; Lx < ln.count; ++Lx) {
    const float* src = x + ln.base(Lx);
    for (int t = 0; t < len; ++t)
      work[t] = even ? cf(src[2 * t * in], src[(2 * t + 1) * in]) : cf(src[t * in], 0.f);
    fft_line(p, work.data(), z.data(), false, 1.0f);
    cf* dst = out + lo.base(Lx);
    for (int k = 0; k < nb; ++k) {
      float a, b;
      if (even) {
        cf zk = z[k % len], zc = z[(len - k) % len];
        post(k, zk.real(), zk.imag(), zc.real(), zc.imag(), a, b);
      } else {
        a = z[k].real() * scale;
        b = z[k].imag() * scale;
      }
      dst[k * in] = cf(a, b);
    }
  }
}

// Real inverse transform along `axis`: X (n/2+1 on axis) -> x (shape, n on axis).
void c2r_axis(const cf* X, float* out, const Shape& shape, int axis, float scale) {
  Lines lo = lines_of(shape, axis);
  const int n = static_cast<int>(lo.n), nb = n / 2 + 1;
  if (lo.count == 0 || n == 0) return;
  const int64_t in = lo.inner;
  Lines li{lo.count, lo.inner, nb};
  const bool even = n % 2 == 0;
  const int len = even ? n / 2 : n;
  auto plan = get_plan(len);
  const Plan& p = *plan;
  const float *rtr = nullptr, *rti = nullptr;
  if (even) real_twiddles(p, rtr, rti);
  // Bin k of the spectrum fed to the complex inverse transform of length len.
  auto spec = [&](const cf* src, int k) -> cf {
    auto bin = [&](int j) {
      cf v = src[j * in];
      return (j == 0 || (even && j == nb - 1)) ? cf(v.real(), 0.f) : v;
    };
    if (even) {
      // Z'_k = (X_k + conj X_{h-k}) + i exp(2 pi i k / n) (X_k - conj X_{h-k})
      cf xk = bin(k), xc = std::conj(bin(len - k));
      cf s = xk + xc, d = xk - xc;
      cf wd = cf(rtr[k], -rti[k]) * d;
      return s + cf(-wd.imag(), wd.real());
    }
    return k < nb ? bin(k) : std::conj(bin(n - k));
  };
  if (use_lanes(p, lo.count)) {
    for_line_groups(lo, p.eff(), [&](int64_t L0, int w, const int64_t* base) {
      size_t L = size_t(len) * V;
      float* zr = scratch(0, 2 * L + lanes_scratch(p));
      float *zi = zr + L, *scr = zi + L;
      for (int l = 0; l < w; ++l) {
        const cf* src = X + li.base(L0 + l);
        for (int t = 0; t < len; ++t) {
          cf v = spec(src, t);
          zr[t * V + l] = v.imag();  // swapped: inverse through the forward transform
          zi[t * V + l] = v.real();
        }
      }
      zero_lanes(zr, zi, len, w);
      lanes_fft(p, zr, zi, scr);
      for (int l = 0; l < w; ++l) {
        float* dst = out + base[l];
        for (int t = 0; t < len; ++t) {
          if (even) {
            dst[(2 * t) * in] = zi[t * V + l] * scale;
            dst[(2 * t + 1) * in] = zr[t * V + l] * scale;
          } else {
            dst[t * in] = zi[t * V + l] * scale;
          }
        }
      }
    });
    return;
  }
  std::vector<cf> work(len), z(len);
  for (int64_t Lx = 0; Lx < lo.count; ++Lx) {
    const cf* src = X + li.base(Lx);
    for (int t = 0; t < len; ++t) work[t] = spec(src, t);
    fft_line(p, work.data(), z.data(), true, scale);
    float* dst = out + lo.base(Lx);
    for (int t = 0; t < len; ++t) {
      if (even) {
        dst[(2 * t) * in] = z[t].real();
        dst[(2 * t + 1) * in] = z[t].imag();
      } else {
        dst[t * in] = z[t].real();
      }
    }
  }
}

}  // namespace

void FFT::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  const float scale = static_cast<float>(scale_);
  std::vector<int> axes = axes_;
  if (!real_) {
    cpu::copy_to_contiguous(inputs[0], out);
    for (size_t i = 0; i < axes.size(); ++i)
      c2c_axis(out.data<cf>(), out.shape(), axes[i], inverse_, i + 1 == axes.size() ? scale : 1.0f);
    return;
  }
  const int last = axes.back();
  axes.pop_back();
  if (!inverse_) {
    array x = cpu::ensure_row_contiguous(inputs[0]);
    r2c_axis(x.data<float>(), out.data<cf>(), x.shape(), last, axes.empty() ? scale : 1.0f);
    for (size_t i = 0; i < axes.size(); ++i)
      c2c_axis(out.data<cf>(), out.shape(), axes[i], false, i + 1 == axes.size() ? scale : 1.0f);
    return;
  }
  array tmp(inputs[0].shape(), complex64, nullptr, {});
  cpu::alloc_out(tmp);
  cpu::copy_to_contiguous(inputs[0], tmp);
  for (int ax : axes) c2c_axis(tmp.data<cf>(), tmp.shape(), ax, true, 1.0f);
  c2r_axis(tmp.data<cf>(), out.data<float>(), out.shape(), last, scale);
}

}  // namespace mlx::core

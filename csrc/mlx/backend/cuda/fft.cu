// mx.fft on the GPU through cuFFT (compiled only where the build links cuFFT). The FFT
// primitive's axes are done one after the other as batched 1-D transforms, in the CPU kernel's
// order (rfft: the real axis first; irfft: the real axis last), all in float32:
//  - a row-contiguous working layout (outer, n, inner) per axis: inner == 1 is a contiguous
//    batch, outer == 1 a strided batch over `inner`; otherwise complex transforms of few outer
//    blocks run once per block, and the rest move the axis last (a transpose into scratch),
//    transform, and move it back.
//  - plans are cached by (type, n, strides, distances, batch), bound to cu::stream(), with
//    workspaces from the device pool per execution.
//  - `scale` is applied by a separate pass at the end; irfft zeroes the imaginary parts of bin 0
//    (and n/2) first, which the CPU and NumPy ignore.
#ifdef MLX_CUDA_HAS_CUFFT

#include <cufft.h>

#include <map>
#include <mutex>
#include <tuple>

#include "mlx/backend/cuda/device.cuh"
#include "mlx/primitives/fft.h"

namespace mlx::core::cu {

namespace {

enum class Kind : int { C2C = 0, R2C = 1, C2R = 2 };

void check(cufftResult r, const char* what) {
  if (r != CUFFT_SUCCESS)
    throw std::runtime_error(std::string("[fft] cuFFT ") + what + " failed with status " +
                             std::to_string(static_cast<int>(r)) + ".");
}

// ------------------------------------------------------------------ plans
struct PlanKey {
  int kind;
  int64_t n, istride, idist, ostride, odist, batch;
  bool operator<(const PlanKey& o) const {
    return std::tie(kind, n, istride, idist, ostride, odist, batch) <
           std::tie(o.kind, o.n, o.istride, o.idist, o.ostride, o.odist, o.batch);
  }
};

struct Plan {
  cufftHandle h;
  size_t ws;
};

class PlanCache {
 public:
  static constexpr size_t kMaxPlans = 64;

  // Executes one transform with the plan for `k` (made on first use).
  void exec(const PlanKey& k, bool inverse, const void* in, void* out) {
    std::lock_guard lk(mu_);
    Plan& p = get(k);
    Scratch ws(p.ws);
    check(cufftSetStream(p.h, stream()), "cufftSetStream");
    if (ws.p) check(cufftSetWorkArea(p.h, ws.p), "cufftSetWorkArea");
    void* src = const_cast<void*>(in);
    switch (static_cast<Kind>(k.kind)) {
      case Kind::C2C:
        check(cufftExecC2C(p.h, static_cast<cufftComplex*>(src), static_cast<cufftComplex*>(out),
                           inverse ? CUFFT_INVERSE : CUFFT_FORWARD),
              "cufftExecC2C");
        break;
      case Kind::R2C:
        check(cufftExecR2C(p.h, static_cast<cufftReal*>(src), static_cast<cufftComplex*>(out)), "cufftExecR2C");
        break;
      case Kind::C2R:
        check(cufftExecC2R(p.h, static_cast<cufftComplex*>(src), static_cast<cufftReal*>(out)), "cufftExecC2R");
        break;
    }
  }

 private:
  Plan& get(const PlanKey& k) {
    auto it = plans_.find(k);
    if (it != plans_.end()) return it->second;
    graph_break();  // plan creation (and the wait below) cannot be captured
    if (plans_.size() >= kMaxPlans) {
      // Queued transforms may still use the plans (their twiddle tables), on any stream: wait
      // for the device before destroying.
      MLX_CUDA_CHECK(cudaDeviceSynchronize());
      for (auto& [key, p] : plans_) cufftDestroy(p.h);
      plans_.clear();
    }
    cufftHandle h;
    check(cufftCreate(&h), "cufftCreate");
    cufftType type = k.kind == 0 ? CUFFT_C2C : (k.kind == 1 ? CUFFT_R2C : CUFFT_C2R);
    Kind kind = static_cast<Kind>(k.kind);
    long long n = k.n;
    long long inembed = kind == Kind::C2R ? k.n / 2 + 1 : k.n;
    long long onembed = kind == Kind::R2C ? k.n / 2 + 1 : k.n;
    size_t ws = 0;
    cufftResult r = cufftSetAutoAllocation(h, 0);
    if (r == CUFFT_SUCCESS)
      r = cufftMakePlanMany64(h, 1, &n, &inembed, k.istride, k.idist, &onembed, k.ostride, k.odist, type, k.batch,
                              &ws);
    if (r == CUFFT_SUCCESS) r = cufftSetStream(h, stream());
    if (r != CUFFT_SUCCESS) {
      cufftDestroy(h);
      check(r, "plan creation");
    }
    return plans_.emplace(k, Plan{h, ws}).first->second;
  }

  std::mutex mu_;
  std::map<PlanKey, Plan> plans_;
};

PlanCache& plans() {
  static PlanCache* c = new PlanCache();  // never destroyed (plans may outlive the CUDA context)
  return *c;
}

// ------------------------------------------------------------------ helper kernels
constexpr int kThreads = 256;
inline int grid_for(int64_t n) { return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 1 << 20)); }

#define MLX_GRID_LOOP(i, n)                                                                     \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// out = row-contiguous copy of a strided complex array.
__global__ void k_gather_c(const float2* __restrict__ in, float2* __restrict__ out, Strided s, int64_t n) {
  MLX_GRID_LOOP(i, n) { out[i] = in[strided_offset(s, 0, i)]; }
}

// (outer, a, b) -> (outer, b, a).
template <typename E>
__global__ void k_swap(const E* __restrict__ in, E* __restrict__ out, int64_t outer, int64_t a, int64_t b) {
  int64_t ab = a * b, total = outer * ab;
  MLX_GRID_LOOP(t, total) {
    int64_t o = t / ab, r = t - o * ab;
    int64_t i = r / a, j = r - i * a;  // out[o][i][j] = in[o][j][i]
    out[t] = in[o * ab + j * b + i];
  }
}

__global__ void k_scale(float* x, int64_t n, float s) {
  MLX_GRID_LOOP(i, n) { x[i] = x[i] * s; }
}

// Length-1 real transforms: rfft gives (x, 0), irfft takes the real part.
__global__ void k_r2c_1(const float* __restrict__ in, float2* __restrict__ out, int64_t n) {
  MLX_GRID_LOOP(i, n) { out[i] = make_float2(in[i], 0.0f); }
}
__global__ void k_c2r_1(const float2* __restrict__ in, float* __restrict__ out, int64_t n) {
  MLX_GRID_LOOP(i, n) { out[i] = in[i].x; }
}

// Zeroes the imaginary parts of bins 0 and (for even n) n/2 of (outer, n/2+1, inner).
__global__ void k_clear_imag(float2* x, int64_t outer, int64_t nb, int64_t inner, bool even) {
  int64_t total = outer * inner;
  MLX_GRID_LOOP(t, total) {
    int64_t o = t / inner, i = t - o * inner;
    x[(o * nb) * inner + i].y = 0.0f;
    if (even) x[(o * nb + nb - 1) * inner + i].y = 0.0f;
  }
}

void swap_mid(const void* in, void* out, int64_t outer, int64_t a, int64_t b, size_t esize) {
  int64_t total = outer * a * b;
  if (total == 0) return;
  if (esize == 4)
    k_swap<float><<<grid_for(total), kThreads, 0, stream()>>>(static_cast<const float*>(in), static_cast<float*>(out),
                                                               outer, a, b);
  else
    k_swap<float2><<<grid_for(total), kThreads, 0, stream()>>>(static_cast<const float2*>(in),
                                                                static_cast<float2*>(out), outer, a, b);
  check_launch("fft transpose kernel");
}

// ------------------------------------------------------------------ one axis
// A 1-D transform of logical length n along the middle dim of row-contiguous buffers:
// in is (outer, nin, inner), out is (outer, nout, inner), with nin/nout = n or n/2+1 by kind.
// C2C may run in place (in == out). C2R overwrites `in`.
void axis_transform(Kind kind, bool inverse, const void* in, void* out, int64_t outer, int64_t n, int64_t inner) {
  int64_t nin = kind == Kind::C2R ? n / 2 + 1 : n;
  int64_t nout = kind == Kind::R2C ? n / 2 + 1 : n;
  size_t ein = kind == Kind::R2C ? 4 : 8, eout = kind == Kind::C2R ? 4 : 8;
  int kd = static_cast<int>(kind);
  if (outer * inner == 0) return;
  if (inner == 1) {
    plans().exec({kd, n, 1, nin, 1, nout, outer}, inverse, in, out);
    return;
  }
  if (outer == 1) {
    plans().exec({kd, n, inner, 1, inner, 1, inner}, inverse, in, out);
    return;
  }
  if (kind == Kind::C2C && outer <= 8) {
    PlanKey k{kd, n, inner, 1, inner, 1, inner};
    for (int64_t o = 0; o < outer; ++o) {
      const char* src = static_cast<const char*>(in) + o * nin * inner * ein;
      char* dst = static_cast<char*>(out) + o * nout * inner * eout;
      plans().exec(k, inverse, src, dst);
    }
    return;
  }
  Scratch a(static_cast<size_t>(outer * inner * nin) * ein);
  Scratch b(kind == Kind::C2C ? 0 : static_cast<size_t>(outer * inner * nout) * eout);
  swap_mid(in, a.p, outer, nin, inner, ein);
  void* res = kind == Kind::C2C ? a.p : b.p;
  plans().exec({kd, n, 1, nin, 1, nout, outer * inner}, inverse, a.p, res);
  swap_mid(res, out, outer, inner, nout, eout);
}

void outer_inner(const Shape& sh, int ax, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < ax; ++i) outer *= sh[i];
  for (size_t i = ax + 1; i < sh.size(); ++i) inner *= sh[i];
}

// Complex c2c transforms along `axes` of a row-contiguous complex buffer of shape `sh`, in place.
void c2c_axes(float2* x, const Shape& sh, const std::vector<int>& axes, bool inverse) {
  for (int ax : axes) {
    if (sh[ax] <= 1) continue;  // the DFT of length 1 is the identity
    int64_t outer, inner;
    outer_inner(sh, ax, outer, inner);
    axis_transform(Kind::C2C, inverse, x, x, outer, sh[ax], inner);
  }
}

// Writes a complex64 array of any layout into `dst` row-contiguously; false if the layout does
// not collapse to kMaxDims dims (nothing written then).
bool can_gather(const array& in) {
  if (in.flags().row_contiguous && in.data_size() == in.size()) return true;
  Strided s;
  return collapse(in.shape(), {&in}, s);
}
void gather_complex(const array& in, float2* dst) {
  int64_t n = static_cast<int64_t>(in.size());
  if (n == 0) return;
  const float2* src = static_cast<const float2*>(in_ptr(in));
  if (in.flags().row_contiguous && in.data_size() == in.size()) {
    MLX_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float2), cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  Strided s;
  collapse(in.shape(), {&in}, s);
  k_gather_c<<<grid_for(n), kThreads, 0, stream()>>>(src, dst, s, n);
  check_launch("fft gather kernel");
}

void apply_scale(void* x, int64_t nfloats, double scale) {
  if (scale == 1.0 || nfloats == 0) return;
  k_scale<<<grid_for(nfloats), kThreads, 0, stream()>>>(static_cast<float*>(x), nfloats, static_cast<float>(scale));
  check_launch("fft scale kernel");
}

// ------------------------------------------------------------------ the primitive
bool eval_fft(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& f = static_cast<FFT&>(prim);
  array in = inputs[0];
  array& out = outputs[0];
  int nd = static_cast<int>(in.ndim());
  if (f.axes_.empty() || static_cast<int>(out.ndim()) != nd) return false;
  std::vector<int> axes;
  for (int a : f.axes_) {
    int ax = a < 0 ? a + nd : a;
    if (ax < 0 || ax >= nd) return false;
    axes.push_back(ax);
  }
  if (out.shape() != f.output_shape(in.shape())) return false;
  if (!f.real_) {
    if (in.dtype() != Dtype::complex64 || out.dtype() != Dtype::complex64) return false;
  } else if (!f.inverse_) {
    if (in.dtype() != Dtype::float32 || out.dtype() != Dtype::complex64) return false;
    if (f.real_n_ < 1 || in.shape(axes.back()) != f.real_n_) return false;
  } else {
    if (in.dtype() != Dtype::complex64 || out.dtype() != Dtype::float32) return false;
    if (f.real_n_ < 1 || in.shape(axes.back()) != f.real_n_ / 2 + 1) return false;
  }
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }

  if (!f.real_) {
    if (!can_gather(in)) return false;
    float2* o = static_cast<float2*>(alloc_out(out));
    gather_complex(in, o);
    c2c_axes(o, out.shape(), axes, f.inverse_);
    apply_scale(o, 2 * static_cast<int64_t>(out.size()), f.scale_);
    return true;
  }

  const int last = axes.back();
  axes.pop_back();
  const int64_t n = f.real_n_;
  if (!f.inverse_) {
    array x = in;
    // cuFFT wants the real input aligned as a complex number.
    if (!x.flags().row_contiguous || x.data_size() != x.size() || !aligned(in_ptr(x), 8)) {
      array t(x.shape(), x.dtype(), nullptr, {});
      if (!copy_to_row_contiguous(x, t)) return false;
      x = t;
    }
    const float* px = in_ptr<float>(x);
    float2* o = static_cast<float2*>(alloc_out(out));
    int64_t outer, inner;
    outer_inner(x.shape(), last, outer, inner);
    if (n == 1) {
      int64_t cnt = static_cast<int64_t>(x.size());
      k_r2c_1<<<grid_for(cnt), kThreads, 0, stream()>>>(px, o, cnt);
      check_launch("fft r2c kernel");
    } else {
      axis_transform(Kind::R2C, false, px, o, outer, n, inner);
    }
    c2c_axes(o, out.shape(), axes, false);
    apply_scale(o, 2 * static_cast<int64_t>(out.size()), f.scale_);
    return true;
  }

  // irfft: the complex axes first (inverse), then the real axis.
  if (!can_gather(in)) return false;
  Scratch tmp(in.size() * sizeof(float2));
  float2* t = static_cast<float2*>(tmp.p);
  gather_complex(in, t);
  c2c_axes(t, in.shape(), axes, true);
  int64_t outer, inner;
  outer_inner(in.shape(), last, outer, inner);
  int64_t nb = n / 2 + 1;
  {
    int64_t cnt = outer * inner;
    k_clear_imag<<<grid_for(cnt), kThreads, 0, stream()>>>(t, outer, nb, inner, n % 2 == 0 && nb > 1);
    check_launch("fft irfft prepare kernel");
  }
  float* o = static_cast<float*>(alloc_out(out));
  if (n == 1) {
    int64_t cnt = static_cast<int64_t>(out.size());
    k_c2r_1<<<grid_for(cnt), kThreads, 0, stream()>>>(t, o, cnt);
    check_launch("fft c2r kernel");
  } else {
    axis_transform(Kind::C2R, true, t, o, outer, n, inner);
  }
  apply_scale(o, static_cast<int64_t>(out.size()), f.scale_);
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(FFT, eval_fft);

}  // namespace mlx::core::cu

#endif  // MLX_CUDA_HAS_CUFFT

// The FFT primitive of mx.fft. Kernel in backend/cpu/fft.cpp, rules in fft_rules.cpp.
#pragma once
#include "mlx/primitives/primitives.h"

namespace mlx::core {

// scale * DFT over `axes` (applied in order), with e^{-2 pi i jk/n} (forward) or e^{+2 pi i jk/n}
// (inverse), unnormalized apart from `scale`.
//  - complex -> complex when !real: input and output complex64 of the same shape.
//  - real forward (rfft): float32 input, complex64 output with n/2+1 bins on the last axis.
//  - real inverse (irfft): complex64 input with n/2+1 bins on the last axis, float32 output with
//    n; the imaginary parts of bin 0 (and n/2) are ignored.
// real_n is the real signal's length n along the last axis (real transforms only).
class FFT : public Primitive {
 public:
  FFT(Stream s, std::vector<int> axes, bool inverse, bool real, double scale, int real_n = 0)
      : Primitive(s), axes_(std::move(axes)), inverse_(inverse), real_(real), scale_(scale), real_n_(real_n) {}
  MLX_PRIM_COMMON("FFT")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  // Output shape and dtype for an input of shape `in`.
  Shape output_shape(const Shape& in) const;
  Dtype output_dtype() const { return real_ && inverse_ ? float32 : complex64; }
  std::vector<int> axes_;
  bool inverse_, real_;
  double scale_;
  int real_n_;
};

}  // namespace mlx::core

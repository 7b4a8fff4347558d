// vjp/jvp/vmap of FFT. The transform is linear, so the jvp applies it to the tangent and the
// vjp applies its adjoint (conjugate transpose, MLX's convention for complex cotangents).
#include "mlx/ops.h"
#include "mlx/primitives/fft.h"

namespace mlx::core {

bool FFT::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const FFT*>(&o);
  return p && p->axes_ == axes_ && p->inverse_ == inverse_ && p->real_ == real_ && p->scale_ == scale_ &&
         p->real_n_ == real_n_;
}

Shape FFT::output_shape(const Shape& in) const {
  Shape out = in;
  if (real_) out[axes_.back()] = inverse_ ? real_n_ : real_n_ / 2 + 1;
  return out;
}

std::vector<array> FFT::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>&, const std::vector<array>&) {
  const array& in = primals[0];
  Stream s = stream();
  array g = astype(cotangents[0], output_dtype(), s);
  if (!real_) {
    // (c F)^H = c F^H, and F^H is the unnormalized transform of the other direction.
    return {array(g.shape(), complex64, std::make_shared<FFT>(s, axes_, !inverse_, false, scale_), {g})};
  }
  int last = axes_.back();
  if (!inverse_) {
    // rfft = (first n/2+1 bins of the complex transform) of a real input: Re(F^H pad(g)).
    std::vector<std::pair<int, int>> w(g.ndim(), {0, 0});
    w[last].second = real_n_ - g.shape(last);
    array full = pad(g, w, array(complex64_t(0, 0)), "constant", s);
    array back(full.shape(), complex64, std::make_shared<FFT>(s, axes_, true, false, scale_), {full});
    return {real(back, s)};
  }
  // irfft reads bins 1..ceil(n/2)-1 twice (with their conjugates): the adjoint is the real
  // forward transform with those bins doubled.
  int nb = in.shape(last);
  array r(in.shape(), complex64, std::make_shared<FFT>(s, axes_, false, true, scale_, real_n_), {g});
  std::vector<float> mask(nb, 2.0f);
  mask[0] = 1.0f;
  if (real_n_ % 2 == 0) mask[nb - 1] = 1.0f;
  Shape ms(in.ndim(), 1);
  ms[last] = nb;
  return {multiply(r, array(mask.begin(), ms, float32), s)};
}

std::vector<array> FFT::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>&) {
  auto p = std::make_shared<FFT>(stream(), axes_, inverse_, real_, scale_, real_n_);
  array t = astype(tangents[0], real_ && !inverse_ ? float32 : complex64, stream());
  return {array(output_shape(primals[0].shape()), output_dtype(), p, {t})};
}

std::pair<std::vector<array>, std::vector<int>> FFT::vmap(const std::vector<array>& inputs,
                                                          const std::vector<int>& axes) {
  array x = moveaxis(inputs[0], axes[0], 0, stream());
  std::vector<int> ax;
  for (int a : axes_) ax.push_back(a + 1);
  auto p = std::make_shared<FFT>(stream(), ax, inverse_, real_, scale_, real_n_);
  return {{array(p->output_shape(x.shape()), output_dtype(), p, {x})}, {0}};
}

}  // namespace mlx::core

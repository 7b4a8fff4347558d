// Ops of mx.fft: argument checks, cropping/padding to the requested sizes, dtype promotion,
// and one FFT node; plus the shift and frequency helpers.
#include "mlx/ops/fft.h"

#include <cmath>

namespace mlx::core::fft {

FFTNorm parse_norm(const std::string& norm, const char* op) {
  if (norm == "backward") return FFTNorm::Backward;
  if (norm == "ortho") return FFTNorm::Ortho;
  if (norm == "forward") return FFTNorm::Forward;
  throw ValueError(msg("[", op, "] norm must be 'backward', 'ortho' or 'forward'; got norm='", norm, "'."));
}

namespace {

array fft_impl(const array& a, const std::optional<Shape>& s, const std::optional<std::vector<int>>& axes_in,
               bool real, bool inverse, FFTNorm norm, const char* op, StreamOrDevice st) {
  int nd = static_cast<int>(a.ndim());
  std::vector<int> axes;
  if (axes_in) {
    axes = *axes_in;
  } else {
    if (s)
      throw ValueError(msg("[", op, "] axes must be given when s is given; got s=", *s, " and axes=None."));
    for (int i = 0; i < nd; ++i) axes.push_back(i);
  }
  if (s && s->size() != axes.size())
    throw ValueError(msg("[", op, "] s and axes must have the same length; got s=", *s, " and ",
                         axes.size(), " axes."));
  axes = normalize_axes(axes, nd, op);
  if (axes.empty()) {
    if (real) throw ValueError(msg("[", op, "] a real transform needs at least one axis; got none."));
    return astype(a, complex64, st);
  }
  const size_t k = axes.size();
  Shape n(k);
  for (size_t i = 0; i < k; ++i) n[i] = s ? (*s)[i] : a.shape(axes[i]);
  if (real && inverse && !s) n.back() = 2 * (a.shape(axes.back()) - 1);
  for (size_t i = 0; i < k; ++i)
    if (n[i] <= 0)
      throw ValueError(msg("[", op, "] invalid FFT output size requested; got n=", n[i], " for axis ", axes[i], "."));

  array x = a;
  if (real && !inverse) {
    if (is_complex(x.dtype())) x = mlx::core::real(x, st);
    x = astype(x, float32, st);
  } else {
    x = astype(x, complex64, st);
  }
  // Crop or zero-pad each transformed axis to its input length.
  Shape start(nd, 0), stop = x.shape(), strides(nd, 1);
  std::vector<std::pair<int, int>> widths(nd, {0, 0});
  bool crop = false, grow = false;
  for (size_t i = 0; i < k; ++i) {
    int ax = axes[i];
    int target = (real && inverse && i + 1 == k) ? n[i] / 2 + 1 : n[i];
    if (x.shape(ax) > target) {
      stop[ax] = target;
      crop = true;
    } else if (x.shape(ax) < target) {
      widths[ax].second = target - x.shape(ax);
      grow = true;
    }
  }
  if (crop) x = slice(x, start, stop, strides, st);
  if (grow) x = pad(x, widths, astype(array(0), x.dtype(), st), "constant", st);

  double total = 1;
  for (int v : n) total *= v;
  double scale = 1;
  if (norm == FFTNorm::Ortho) scale = 1 / std::sqrt(total);
  else if ((norm == FFTNorm::Backward) == inverse) scale = 1 / total;
  auto prim = std::make_shared<FFT>(to_stream(st), axes, inverse, real, scale, real ? n.back() : 0);
  return array(prim->output_shape(x.shape()), prim->output_dtype(), prim, {x});
}

std::optional<Shape> one(std::optional<int> n) {
  if (!n) return std::nullopt;
  return Shape{*n};
}

array shift_impl(const array& a, const std::optional<std::vector<int>>& axes_in, bool inverse, const char* op,
                 StreamOrDevice st) {
  int nd = static_cast<int>(a.ndim());
  std::vector<int> axes;
  if (axes_in) axes = normalize_axes(*axes_in, nd, op);
  else
    for (int i = 0; i < nd; ++i) axes.push_back(i);
  if (axes.empty()) return a;
  std::vector<int> shifts;
  for (int ax : axes) shifts.push_back(inverse ? -(a.shape(ax) / 2) : a.shape(ax) / 2);
  return roll(a, shifts, axes, st);
}

}  // namespace

array fftn(const array& a, const std::optional<Shape>& s, const std::optional<std::vector<int>>& axes, FFTNorm norm,
           StreamOrDevice st) {
  return fft_impl(a, s, axes, false, false, norm, "fftn", st);
}
array ifftn(const array& a, const std::optional<Shape>& s, const std::optional<std::vector<int>>& axes,
            FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, s, axes, false, true, norm, "ifftn", st);
}
array rfftn(const array& a, const std::optional<Shape>& s, const std::optional<std::vector<int>>& axes,
            FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, s, axes, true, false, norm, "rfftn", st);
}
array irfftn(const array& a, const std::optional<Shape>& s, const std::optional<std::vector<int>>& axes,
             FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, s, axes, true, true, norm, "irfftn", st);
}

array fft(const array& a, std::optional<int> n, int axis, FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, one(n), std::vector<int>{axis}, false, false, norm, "fft", st);
}
array ifft(const array& a, std::optional<int> n, int axis, FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, one(n), std::vector<int>{axis}, false, true, norm, "ifft", st);
}
array rfft(const array& a, std::optional<int> n, int axis, FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, one(n), std::vector<int>{axis}, true, false, norm, "rfft", st);
}
array irfft(const array& a, std::optional<int> n, int axis, FFTNorm norm, StreamOrDevice st) {
  return fft_impl(a, one(n), std::vector<int>{axis}, true, true, norm, "irfft", st);
}

array fftshift(const array& a, const std::optional<std::vector<int>>& axes, StreamOrDevice st) {
  return shift_impl(a, axes, false, "fftshift", st);
}
array ifftshift(const array& a, const std::optional<std::vector<int>>& axes, StreamOrDevice st) {
  return shift_impl(a, axes, true, "ifftshift", st);
}

array fftfreq(int n, double d, StreamOrDevice st) {
  if (n <= 0) throw ValueError(msg("[fftfreq] n must be greater than 0; got n=", n, "."));
  if (d == 0) throw ValueError(msg("[fftfreq] d must be non-zero; got d=", d, "."));
  array idx = arange(0, n, 1, int32, st);
  array pos = less(idx, array((n + 1) / 2, int32), st);
  array k = where(pos, idx, subtract(idx, array(n, int32), st), st);
  return multiply(astype(k, float32, st), array(static_cast<float>(1.0 / (n * d))), st);
}

array rfftfreq(int n, double d, StreamOrDevice st) {
  if (n <= 0) throw ValueError(msg("[rfftfreq] n must be greater than 0; got n=", n, "."));
  if (d == 0) throw ValueError(msg("[rfftfreq] d must be non-zero; got d=", d, "."));
  array k = arange(0, n / 2 + 1, 1, float32, st);
  return multiply(k, array(static_cast<float>(1.0 / (n * d))), st);
}

}  // namespace mlx::core::fft

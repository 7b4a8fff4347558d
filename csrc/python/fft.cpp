// Bindings of mlx.core.fft.
#include "convert.h"
#include "mlx/ops/fft.h"

using namespace nb::literals;
namespace F = mlx::core::fft;

namespace {

std::optional<std::vector<int>> opt_axes(nb::handle axes) {
  if (axes.is_none()) return std::nullopt;
  if (nb::isinstance<nb::int_>(axes)) return std::vector<int>{nb::cast<int>(axes)};
  return nb::cast<std::vector<int>>(axes);
}

std::optional<Shape> opt_shape(nb::handle s) {
  if (s.is_none()) return std::nullopt;
  if (nb::isinstance<nb::int_>(s)) return Shape{nb::cast<int>(s)};
  return nb::cast<Shape>(s);
}

const char* kStream = "stream: None | Stream | Device = None";

}  // namespace

void init_fft(nb::module_& parent) {
  auto m = parent.def_submodule("fft", "Fast Fourier transforms (complex64).");

#define FFT1(NAME, DOC)                                                                               \
  m.def(                                                                                              \
      #NAME,                                                                                          \
      [](nb::handle a, std::optional<int> n, int axis, const std::string& norm, StreamArg s) {        \
        return F::NAME(to_array(a), n, axis, F::parse_norm(norm, #NAME), sd(s));                      \
      },                                                                                              \
      "a"_a, "n"_a = nb::none(), "axis"_a = -1, "norm"_a = "backward", "stream"_a = nb::none(),       \
      nb::sig("def " #NAME "(a: array, n: int | None = None, axis: int = -1, norm: str = 'backward', " \
              "stream: None | Stream | Device = None) -> array"),                                     \
      DOC);
  FFT1(fft, "One-dimensional discrete Fourier transform along axis (input cropped or zero-padded to n).")
  FFT1(ifft, "One-dimensional inverse discrete Fourier transform along axis.")
  FFT1(rfft, "Discrete Fourier transform of real input: n//2 + 1 bins along axis.")
  FFT1(irfft, "Inverse of rfft: a real output of length n (default 2 * (bins - 1)) along axis.")
#undef FFT1

#define FFTN(NAME, IMPL, AXES, DEFAULT, DOC)                                                        \
  m.def(                                                                                            \
      #NAME,                                                                                        \
      [](nb::handle a, nb::handle s_, nb::handle axes, const std::string& norm, StreamArg s) {      \
        return F::IMPL(to_array(a), opt_shape(s_), opt_axes(axes), F::parse_norm(norm, #NAME), sd(s)); \
      },                                                                                            \
      "a"_a, "s"_a = nb::none(), nb::arg("axes").none() = AXES, "norm"_a = "backward",             \
      "stream"_a = nb::none(),                                                                      \
      nb::sig("def " #NAME "(a: array, s: Sequence[int] | None = None, axes: Sequence[int] | None = " \
              DEFAULT ", norm: str = 'backward', stream: None | Stream | Device = None) -> array"),  \
      DOC);
  nb::object two = nb::make_tuple(-2, -1);
  FFTN(fft2, fftn, two, "[-2, -1]", "Two-dimensional discrete Fourier transform.")
  FFTN(ifft2, ifftn, two, "[-2, -1]", "Two-dimensional inverse discrete Fourier transform.")
  FFTN(rfft2, rfftn, two, "[-2, -1]", "Two-dimensional Fourier transform of real input.")
  FFTN(irfft2, irfftn, two, "[-2, -1]", "Inverse of rfft2.")
  FFTN(fftn, fftn, nb::none(), "None", "n-dimensional discrete Fourier transform (all axes by default).")
  FFTN(ifftn, ifftn, nb::none(), "None", "n-dimensional inverse discrete Fourier transform.")
  FFTN(rfftn, rfftn, nb::none(), "None", "n-dimensional Fourier transform of real input.")
  FFTN(irfftn, irfftn, nb::none(), "None", "Inverse of rfftn.")
#undef FFTN

  m.def(
      "fftshift", [](nb::handle a, nb::handle axes, StreamArg s) { return F::fftshift(to_array(a), opt_axes(axes), sd(s)); },
      "a"_a, nb::arg("axes").none() = nb::none(), "stream"_a = nb::none(),
      nb::sig("def fftshift(a: array, axes: int | Sequence[int] | None = None, stream: None | Stream | Device = None) "
              "-> array"),
      "Shifts the zero-frequency bin to the center along axes (all by default).");
  m.def(
      "ifftshift", [](nb::handle a, nb::handle axes, StreamArg s) { return F::ifftshift(to_array(a), opt_axes(axes), sd(s)); },
      "a"_a, nb::arg("axes").none() = nb::none(), "stream"_a = nb::none(),
      nb::sig("def ifftshift(a: array, axes: int | Sequence[int] | None = None, stream: None | Stream | Device = None) "
              "-> array"),
      "Inverse of fftshift.");
  m.def(
      "fftfreq", [](int n, double d, StreamArg s) { return F::fftfreq(n, d, sd(s)); }, "n"_a, "d"_a = 1.0,
      "stream"_a = nb::none(),
      nb::sig("def fftfreq(n: int, d: float = 1.0, stream: None | Stream | Device = None) -> array"),
      "Sample frequencies of an n-point fft with sample spacing d: [0, 1, ..., -1] / (d * n).");
  m.def(
      "rfftfreq", [](int n, double d, StreamArg s) { return F::rfftfreq(n, d, sd(s)); }, "n"_a, "d"_a = 1.0,
      "stream"_a = nb::none(),
      nb::sig("def rfftfreq(n: int, d: float = 1.0, stream: None | Stream | Device = None) -> array"),
      "Sample frequencies of an n-point rfft: [0, 1, ..., n // 2] / (d * n).");
  (void)kStream;
}

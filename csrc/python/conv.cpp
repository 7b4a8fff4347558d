// Bindings of the convolution ops: conv_general, conv{1,2,3}d, conv_transpose{1,2,3}d, convolve.
#include "convert.h"
#include "mlx/ops/conv.h"

using namespace nb::literals;

namespace {

using IntOrVec = std::variant<int, std::vector<int>>;
using Padding = std::variant<int, std::vector<int>, std::pair<std::vector<int>, std::vector<int>>>;
using Int2 = std::variant<int, std::pair<int, int>>;
using Int3 = std::variant<int, std::tuple<int, int, int>>;

std::vector<int> vec(const IntOrVec& v) {
  if (auto* i = std::get_if<int>(&v)) return {*i};
  return std::get<std::vector<int>>(v);
}
std::pair<int, int> pair2(const Int2& v) {
  if (auto* i = std::get_if<int>(&v)) return {*i, *i};
  return std::get<std::pair<int, int>>(v);
}
std::tuple<int, int, int> tup3(const Int3& v) {
  if (auto* i = std::get_if<int>(&v)) return {*i, *i, *i};
  return std::get<std::tuple<int, int, int>>(v);
}

}  // namespace

void init_conv(nb::module_& m) {
  auto st = "stream"_a = nb::none();

  m.def(
      "conv_general",
      [](const array& input, const array& weight, const IntOrVec& stride, const Padding& padding,
         const IntOrVec& kernel_dilation, const IntOrVec& input_dilation, int groups, bool flip,
         StreamArg s) {
        std::vector<int> lo, hi;
        if (auto* i = std::get_if<int>(&padding)) {
          lo = hi = {*i};
        } else if (auto* v = std::get_if<std::vector<int>>(&padding)) {
          lo = hi = *v;
        } else {
          auto& pr = std::get<std::pair<std::vector<int>, std::vector<int>>>(padding);
          lo = pr.first;
          hi = pr.second;
        }
        return conv_general(input, weight, vec(stride), lo, hi, vec(kernel_dilation),
                            vec(input_dilation), groups, flip, sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0,
      "kernel_dilation"_a = 1, "input_dilation"_a = 1, "groups"_a = 1, "flip"_a = false,
      nb::kw_only(), st,
      nb::sig("def conv_general(input: array, weight: array, /, stride: int | Sequence[int] = 1, "
              "padding: int | Sequence[int] | tuple[Sequence[int], Sequence[int]] = 0, "
              "kernel_dilation: int | Sequence[int] = 1, input_dilation: int | Sequence[int] = 1, "
              "groups: int = 1, flip: bool = False, *, stream: Stream | Device | None = None) "
              "-> array"),
      R"(General convolution over an input with several channels.

Args:
    input (array): Input of shape ``(N, ..., C_in)``.
    weight (array): Weight of shape ``(C_out, ..., C_in / groups)``.
    stride (int or list(int)): Kernel strides. Default: ``1``.
    padding (int, list(int) or tuple(list(int), list(int))): Input padding, symmetric or
        as ``(padding_lo, padding_hi)``; negative values crop. Default: ``0``.
    kernel_dilation (int or list(int)): Kernel dilation. Default: ``1``.
    input_dilation (int or list(int)): Input dilation. Default: ``1``.
    groups (int): Input feature groups. Default: ``1``.
    flip (bool): Flip the kernel (true convolution instead of cross-correlation).

Returns:
    array: The convolved array.)");

  m.def(
      "conv1d",
      [](const array& input, const array& weight, int stride, int padding, int dilation,
         int groups, StreamArg s) {
        return conv1d(input, weight, stride, padding, dilation, groups, sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "groups"_a = 1, nb::kw_only(), st,
      R"(1D convolution over an input ``(N, L, C_in)`` with a weight ``(C_out, K, C_in / groups)``.)");

  m.def(
      "conv2d",
      [](const array& input, const array& weight, const Int2& stride, const Int2& padding,
         const Int2& dilation, int groups, StreamArg s) {
        return conv2d(input, weight, pair2(stride), pair2(padding), pair2(dilation), groups, sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "groups"_a = 1, nb::kw_only(), st,
      nb::sig("def conv2d(input: array, weight: array, /, stride: int | tuple[int, int] = 1, "
              "padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1, "
              "groups: int = 1, *, stream: Stream | Device | None = None) -> array"),
      R"(2D convolution over an input ``(N, H, W, C_in)`` with a weight ``(C_out, KH, KW, C_in / groups)``.)");

  m.def(
      "conv3d",
      [](const array& input, const array& weight, const Int3& stride, const Int3& padding,
         const Int3& dilation, int groups, StreamArg s) {
        return conv3d(input, weight, tup3(stride), tup3(padding), tup3(dilation), groups, sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "groups"_a = 1, nb::kw_only(), st,
      nb::sig("def conv3d(input: array, weight: array, /, stride: int | tuple[int, int, int] = 1, "
              "padding: int | tuple[int, int, int] = 0, dilation: int | tuple[int, int, int] = 1, "
              "groups: int = 1, *, stream: Stream | Device | None = None) -> array"),
      R"(3D convolution over an input ``(N, D, H, W, C_in)`` with a weight ``(C_out, KD, KH, KW, C_in)``.)");

  m.def(
      "conv_transpose1d",
      [](const array& input, const array& weight, int stride, int padding, int dilation,
         int output_padding, int groups, StreamArg s) {
        return conv_transpose1d(input, weight, stride, padding, dilation, output_padding, groups,
                                sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "output_padding"_a = 0, "groups"_a = 1, nb::kw_only(), st,
      R"(1D transposed convolution over an input ``(N, L, C_in)`` with a weight ``(C_out, K, C_in / groups)``.)");

  m.def(
      "conv_transpose2d",
      [](const array& input, const array& weight, const Int2& stride, const Int2& padding,
         const Int2& dilation, const Int2& output_padding, int groups, StreamArg s) {
        return conv_transpose2d(input, weight, pair2(stride), pair2(padding), pair2(dilation),
                                pair2(output_padding), groups, sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "output_padding"_a = 0, "groups"_a = 1, nb::kw_only(), st,
      nb::sig("def conv_transpose2d(input: array, weight: array, /, stride: int | tuple[int, int] = 1, "
              "padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1, "
              "output_padding: int | tuple[int, int] = 0, groups: int = 1, *, "
              "stream: Stream | Device | None = None) -> array"),
      R"(2D transposed convolution over an input ``(N, H, W, C_in)`` with a weight ``(C_out, KH, KW, C_in / groups)``.)");

  m.def(
      "conv_transpose3d",
      [](const array& input, const array& weight, const Int3& stride, const Int3& padding,
         const Int3& dilation, const Int3& output_padding, int groups, StreamArg s) {
        return conv_transpose3d(input, weight, tup3(stride), tup3(padding), tup3(dilation),
                                tup3(output_padding), groups, sd(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "output_padding"_a = 0, "groups"_a = 1, nb::kw_only(), st,
      nb::sig("def conv_transpose3d(input: array, weight: array, /, "
              "stride: int | tuple[int, int, int] = 1, padding: int | tuple[int, int, int] = 0, "
              "dilation: int | tuple[int, int, int] = 1, "
              "output_padding: int | tuple[int, int, int] = 0, groups: int = 1, *, "
              "stream: Stream | Device | None = None) -> array"),
      R"(3D transposed convolution over an input ``(N, D, H, W, C_in)`` with a weight ``(C_out, KD, KH, KW, C_in)``.)");

  m.def(
      "convolve",
      [](const array& a, const array& v, const std::string& mode, StreamArg s) {
        return convolve(a, v, mode, sd(s));
      },
      "a"_a, "v"_a, "mode"_a = "full", nb::kw_only(), st,
      R"(The discrete convolution of 1D arrays (NumPy's ``"full"``, ``"same"`` and ``"valid"``
modes). If ``v`` is longer than ``a`` they are swapped; the filter is flipped.)");
}

// Convolution ops: argument checks, dtype promotion and the Convolution node.
#include "mlx/ops/conv.h"

#include <numeric>

namespace mlx::core {

namespace {

// Effective (dilated) extent of n samples spaced by `dil`: 0 for n == 0.
int64_t dilated(int64_t n, int64_t dil) { return n > 0 ? (n - 1) * dil + 1 : 0; }

// Output spatial shape of a convolution (0 where the kernel does not fit).
Shape conv_out_shape(const array& x, const array& w, const std::vector<int>& stride,
                     const std::vector<int>& lo, const std::vector<int>& hi,
                     const std::vector<int>& kdil, const std::vector<int>& idil) {
  int D = static_cast<int>(x.ndim()) - 2;
  Shape out{x.shape(0)};
  for (int d = 0; d < D; ++d) {
    int64_t in_eff = dilated(x.shape(1 + d), idil[d]) + lo[d] + hi[d];
    int64_t k_eff = dilated(w.shape(1 + d), kdil[d]);
    int64_t num = in_eff - k_eff;
    out.push_back(num < 0 ? 0 : static_cast<int>(num / stride[d] + 1));
  }
  out.push_back(w.shape(0));
  return out;
}

// Expands a parameter list to one value per spatial dimension.
std::vector<int> expand(std::vector<int> v, int D, int dflt, const char* what) {
  if (v.empty()) return std::vector<int>(D, dflt);
  if (v.size() == 1 && D > 1) return std::vector<int>(D, v[0]);
  if (static_cast<int>(v.size()) != D)
    throw ValueError(msg("[conv] invalid ", what, " ", Shape(v.begin(), v.end()), " for a ", D,
                         "D convolution; got ", v.size(), " values, expected ", D, "."));
  return v;
}

void check_positive(const std::vector<int>& v, const char* what) {
  for (int x : v)
    if (x <= 0)
      throw ValueError(msg("[conv] ", what, " sizes must be positive; got ", what, " ",
                           Shape(v.begin(), v.end()), "."));
}

// Checks the ranks of input and weight; returns the number of spatial dimensions.
int check_ranks(const array& in, const array& wt) {
  int D = static_cast<int>(in.ndim()) - 2;
  if (D < 1 || D > 3)
    throw ValueError(msg("[conv] only inputs with 1 to 3 spatial dimensions are supported, in the "
                         "format (N, ..., C_in); got input with shape ", in.shape(), "."));
  if (wt.ndim() != in.ndim())
    throw ValueError(msg("[conv] invalid weight array with ", wt.ndim(), " dimensions for a ", D,
                         "D convolution, expected ", D + 2, " dimensions in the format (C_out, ..., "
                         "C_in); got weight with shape ", wt.shape(), "."));
  return D;
}

}  // namespace

namespace detail {

array convolution(const array& x, const array& w, std::vector<int> stride,
                  std::vector<int> padding_lo, std::vector<int> padding_hi,
                  std::vector<int> kernel_dilation, std::vector<int> input_dilation, int groups,
                  bool flip, SD s) {
  Shape out = conv_out_shape(x, w, stride, padding_lo, padding_hi, kernel_dilation, input_dilation);
  return array(out, x.dtype(),
               std::make_shared<Convolution>(to_stream(s), std::move(stride), std::move(padding_lo),
                                             std::move(padding_hi), std::move(kernel_dilation),
                                             std::move(input_dilation), groups, flip),
               {x, w});
}

}  // namespace detail

array conv_general(const array& input, const array& weight, std::vector<int> stride,
                   std::vector<int> padding_lo, std::vector<int> padding_hi,
                   std::vector<int> kernel_dilation, std::vector<int> input_dilation, int groups,
                   bool flip, SD s) {
  int D = check_ranks(input, weight);
  if (!is_floating_point(input.dtype()))
    throw ValueError(msg("[conv] convolution only supports floating point types; got input of type ",
                         input.dtype(), "."));
  Dtype out_type = promote_types(input.dtype(), weight.dtype());
  if (!is_floating_point(out_type))
    throw ValueError(msg("[conv] convolution only supports floating point types; got weight of type ",
                         weight.dtype(), "."));
  if (groups < 1) throw ValueError(msg("[conv] groups must be positive; got groups=", groups, "."));
  if (groups != 1 && D == 3)
    throw ValueError(msg("[conv] groups != 1 is only supported in 1D or 2D convolutions; got groups=",
                         groups, " for a 3D convolution."));
  int c_in = input.shape(-1), c_out = weight.shape(0);
  if (c_in % groups != 0)
    throw ValueError(msg("[conv] the input channels must be divisible by the number of groups; got "
                         "input with shape ", input.shape(), " and ", groups, " groups."));
  if (c_out % groups != 0)
    throw ValueError(msg("[conv] the output channels must be divisible by the number of groups; got ",
                         c_out, " output channels and ", groups, " groups."));
  if (weight.shape(-1) * groups != c_in)
    throw ValueError(msg("[conv] the input channels of the input and weight arrays must match "
                         "(weight channels x groups); got input with shape ", input.shape(),
                         ", weight with shape ", weight.shape(), " and ", groups, " groups."));
  stride = expand(std::move(stride), D, 1, "strides");
  padding_lo = expand(std::move(padding_lo), D, 0, "padding");
  padding_hi = expand(std::move(padding_hi), D, 0, "padding");
  kernel_dilation = expand(std::move(kernel_dilation), D, 1, "kernel dilation");
  input_dilation = expand(std::move(input_dilation), D, 1, "input dilation");
  check_positive(stride, "stride");
  check_positive(kernel_dilation, "kernel dilation");
  check_positive(input_dilation, "input dilation");
  for (int d = 0; d < D; ++d) {
    if (weight.shape(1 + d) <= 0)
      throw ValueError(msg("[conv] the kernel spatial dimensions must be positive; got weight with "
                           "shape ", weight.shape(), "."));
    int64_t in_eff = dilated(input.shape(1 + d), input_dilation[d]) + padding_lo[d] + padding_hi[d];
    int64_t k_eff = dilated(weight.shape(1 + d), kernel_dilation[d]);
    if (in_eff < k_eff)
      throw ValueError(msg("[conv] the spatial dimensions of the input after dilation and padding "
                           "cannot be smaller than the dilated kernel; got size ", in_eff,
                           " < ", k_eff, " at axis ", 1 + d, " for input with shape ", input.shape(),
                           ", padding low ", Shape(padding_lo.begin(), padding_lo.end()),
                           ", padding high ", Shape(padding_hi.begin(), padding_hi.end()),
                           " and weight with shape ", weight.shape(), "."));
  }
  array x = astype(input, out_type, s), w = astype(weight, out_type, s);
  return detail::convolution(x, w, std::move(stride), std::move(padding_lo), std::move(padding_hi),
                             std::move(kernel_dilation), std::move(input_dilation), groups, flip, s);
}

array conv1d(const array& input, const array& weight, int stride, int padding, int dilation,
             int groups, SD s) {
  return conv_general(input, weight, {stride}, {padding}, {padding}, {dilation}, {1}, groups, false, s);
}

array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride,
             const std::pair<int, int>& padding, const std::pair<int, int>& dilation, int groups,
             SD s) {
  std::vector<int> p{padding.first, padding.second};
  return conv_general(input, weight, {stride.first, stride.second}, p, p,
                      {dilation.first, dilation.second}, {1, 1}, groups, false, s);
}

array conv3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride,
             const std::tuple<int, int, int>& padding, const std::tuple<int, int, int>& dilation,
             int groups, SD s) {
  auto v = [](const std::tuple<int, int, int>& t) {
    return std::vector<int>{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
  };
  return conv_general(input, weight, v(stride), v(padding), v(padding), v(dilation), {1, 1, 1},
                      groups, false, s);
}

namespace {

// Transposed convolution as a flipped convolution over the stride-dilated input.
array conv_transpose_general(const array& input, const array& weight, std::vector<int> stride,
                             std::vector<int> padding, std::vector<int> dilation,
                             std::vector<int> output_padding, int groups, SD s) {
  int D = check_ranks(input, weight);
  check_positive(stride, "stride");
  check_positive(dilation, "kernel dilation");
  std::vector<int> lo(D), hi(D);
  for (int d = 0; d < D; ++d) {
    int k = weight.shape(1 + d);
    lo[d] = dilation[d] * (k - 1) - padding[d];
    hi[d] = lo[d] + output_padding[d];
  }
  return conv_general(input, weight, std::vector<int>(D, 1), lo, hi, dilation, stride, groups, true, s);
}

}  // namespace

array conv_transpose1d(const array& input, const array& weight, int stride, int padding,
                       int dilation, int output_padding, int groups, SD s) {
  return conv_transpose_general(input, weight, {stride}, {padding}, {dilation}, {output_padding},
                                groups, s);
}

array conv_transpose2d(const array& input, const array& weight, const std::pair<int, int>& stride,
                       const std::pair<int, int>& padding, const std::pair<int, int>& dilation,
                       const std::pair<int, int>& output_padding, int groups, SD s) {
  auto v = [](const std::pair<int, int>& p) { return std::vector<int>{p.first, p.second}; };
  return conv_transpose_general(input, weight, v(stride), v(padding), v(dilation),
                                v(output_padding), groups, s);
}

array conv_transpose3d(const array& input, const array& weight,
                       const std::tuple<int, int, int>& stride,
                       const std::tuple<int, int, int>& padding,
                       const std::tuple<int, int, int>& dilation,
                       const std::tuple<int, int, int>& output_padding, int groups, SD s) {
  auto v = [](const std::tuple<int, int, int>& t) {
    return std::vector<int>{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
  };
  return conv_transpose_general(input, weight, v(stride), v(padding), v(dilation),
                                v(output_padding), groups, s);
}

array convolve(const array& a, const array& v, const std::string& mode, SD s) {
  if (a.ndim() != 1 || v.ndim() != 1)
    throw ValueError(msg("[convolve] inputs must be 1D; got shapes ", a.shape(), " and ", v.shape(), "."));
  if (a.size() == 0 || v.size() == 0)
    throw ValueError(msg("[convolve] inputs cannot be empty; got shapes ", a.shape(), " and ",
                         v.shape(), "."));
  if (mode != "full" && mode != "same" && mode != "valid")
    throw ValueError(msg("[convolve] invalid mode, expected 'full', 'same' or 'valid'; got mode='",
                         mode, "'."));
  bool swap = v.size() > a.size();
  const array& x = swap ? v : a;
  const array& k = swap ? a : v;
  int n = x.shape(0), m = k.shape(0);
  int lo = 0, hi = 0;
  if (mode == "full") {
    lo = hi = m - 1;
  } else if (mode == "same") {
    lo = m / 2;
    hi = (m - 1) / 2;
  }
  array in = reshape(x, {1, n, 1}, s), wt = reshape(k, {1, m, 1}, s);
  array out = conv_general(in, wt, {1}, {lo}, {hi}, {1}, {1}, 1, true, s);
  return reshape(out, {out.shape(1)}, s);
}

}  // namespace mlx::core

// The convolution primitive (channels-last), shared by conv_general, conv{1,2,3}d,
// conv_transpose{1,2,3}d and convolve.
#pragma once
#include <vector>

#include "mlx/primitives/primitives.h"

namespace mlx::core {

// out[n, o..., co] = sum_{k..., ci} x~[n, o*stride + kk*kernel_dilation - padding_lo, g*Cig + ci]
//                                  * w[co, k..., ci]
// where g = co / (C_out / groups), kk = flip ? K-1-k : k, and x~ is the input dilated by
// input_dilation (zeros between samples and outside the data). Inputs: x (N, S..., C_in),
// w (C_out, K..., C_in / groups), both of the output dtype. Padding may be negative.
class Convolution : public Primitive {
 public:
  Convolution(Stream s, std::vector<int> stride, std::vector<int> padding_lo,
              std::vector<int> padding_hi, std::vector<int> kernel_dilation,
              std::vector<int> input_dilation, int groups, bool flip)
      : Primitive(s),
        stride_(std::move(stride)),
        padding_lo_(std::move(padding_lo)),
        padding_hi_(std::move(padding_hi)),
        kernel_dilation_(std::move(kernel_dilation)),
        input_dilation_(std::move(input_dilation)),
        groups_(groups),
        flip_(flip) {}
  MLX_PRIM_COMMON("Convolution")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;

  std::vector<int> stride_, padding_lo_, padding_hi_, kernel_dilation_, input_dilation_;
  int groups_;
  bool flip_;
};

}  // namespace mlx::core

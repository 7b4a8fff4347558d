// Convolution ops (channels-last): input (N, spatial..., C_in), weight (C_out, kernel..., C_in/groups).
#pragma once
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mlx/ops.h"
#include "mlx/primitives/conv.h"

namespace mlx::core {

// General convolution with per-dimension stride, (lo, hi) padding, kernel and input dilation,
// feature groups and an optional kernel flip. A vector of length 1 applies to every dimension;
// an empty one means the default (stride/dilation 1, padding 0).
array conv_general(const array& input, const array& weight, std::vector<int> stride = {},
                   std::vector<int> padding_lo = {}, std::vector<int> padding_hi = {},
                   std::vector<int> kernel_dilation = {}, std::vector<int> input_dilation = {},
                   int groups = 1, bool flip = false, SD s = {});

array conv1d(const array& input, const array& weight, int stride = 1, int padding = 0,
             int dilation = 1, int groups = 1, SD s = {});
array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride = {1, 1},
             const std::pair<int, int>& padding = {0, 0},
             const std::pair<int, int>& dilation = {1, 1}, int groups = 1, SD s = {});
array conv3d(const array& input, const array& weight,
             const std::tuple<int, int, int>& stride = {1, 1, 1},
             const std::tuple<int, int, int>& padding = {0, 0, 0},
             const std::tuple<int, int, int>& dilation = {1, 1, 1}, int groups = 1, SD s = {});

array conv_transpose1d(const array& input, const array& weight, int stride = 1, int padding = 0,
                       int dilation = 1, int output_padding = 0, int groups = 1, SD s = {});
array conv_transpose2d(const array& input, const array& weight,
                       const std::pair<int, int>& stride = {1, 1},
                       const std::pair<int, int>& padding = {0, 0},
                       const std::pair<int, int>& dilation = {1, 1},
                       const std::pair<int, int>& output_padding = {0, 0}, int groups = 1,
                       SD s = {});
array conv_transpose3d(const array& input, const array& weight,
                       const std::tuple<int, int, int>& stride = {1, 1, 1},
                       const std::tuple<int, int, int>& padding = {0, 0, 0},
                       const std::tuple<int, int, int>& dilation = {1, 1, 1},
                       const std::tuple<int, int, int>& output_padding = {0, 0, 0},
                       int groups = 1, SD s = {});

// Discrete linear convolution of two 1-D arrays (NumPy's modes "full", "same", "valid").
array convolve(const array& a, const array& v, const std::string& mode = "full", SD s = {});

namespace detail {
// Builds a Convolution node without the user-level checks (the rules use it). Every
// parameter vector has one entry per spatial dimension; x and w must share a dtype.
array convolution(const array& x, const array& w, std::vector<int> stride,
                  std::vector<int> padding_lo, std::vector<int> padding_hi,
                  std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                  int groups, bool flip, SD s = {});
}  // namespace detail

}  // namespace mlx::core

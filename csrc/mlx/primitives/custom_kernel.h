// A user's CUDA kernel (mx.fast.cuda_kernel): source compiled with NVRTC at first use and
// launched on the GPU stream. It has no CPU kernel and no transforms.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "mlx/primitives/primitives.h"

namespace mlx::core::fast {

// One parameter of the generated kernel beyond the arrays themselves.
struct KernelShapeParam {
  int input;        // index of the input
  bool shape;       // `<name>_shape` (const int32_t*)
  bool strides;     // `<name>_strides` (const int64_t*)
  bool ndim;        // `<name>_ndim` (int)
};

class CustomKernel : public Primitive {
 public:
  CustomKernel(Stream s, std::string kernel_name, std::string source, std::vector<KernelShapeParam> params,
               std::array<int, 3> grid, std::array<int, 3> block, int shared_memory,
               std::optional<float> init_value)
      : Primitive(s), kernel_name_(std::move(kernel_name)), source_(std::move(source)),
        params_(std::move(params)), grid_(grid), block_(block), shared_memory_(shared_memory),
        init_value_(init_value) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return "CustomKernel"; }
  bool supports(const Device& d) const override { return d.type == Device::gpu; }

  std::string kernel_name_;  // the extern "C" symbol in source_
  std::string source_;       // the whole translation unit given to NVRTC
  std::vector<KernelShapeParam> params_;
  std::array<int, 3> grid_;   // threads in each dimension (as Metal's dispatchThreads)
  std::array<int, 3> block_;  // threads per block
  int shared_memory_;         // dynamic shared memory bytes
  std::optional<float> init_value_;
};

// Builds the kernel source for the given inputs and template arguments and returns the
// outputs of one launch. Template arguments are (name, value) with value a Dtype, an int or
// a bool (as MLX's `template=`). Raises ValueError for malformed requests.
using TemplateArg = std::variant<Dtype, int, bool>;
std::vector<array> cuda_kernel(const std::string& name, const std::vector<std::string>& input_names,
                               const std::vector<std::string>& output_names, const std::string& source,
                               const std::string& header, bool ensure_row_contiguous, int shared_memory,
                               const std::vector<array>& inputs, const std::vector<Shape>& output_shapes,
                               const std::vector<Dtype>& output_dtypes, std::array<int, 3> grid,
                               std::array<int, 3> threadgroup,
                               const std::vector<std::pair<std::string, TemplateArg>>& template_args,
                               std::optional<float> init_value, bool verbose, StreamOrDevice s = {});

}  // namespace mlx::core::fast

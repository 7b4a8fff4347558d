// NumberOfElements on the CPU: the value comes from the input's shape; its data is not read.
#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/number_of_elements.h"

namespace mlx::core {

void NumberOfElements::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  double v = value(inputs[0].shape());
  copy_cast_raw(&v, float64, out.raw_ptr(), out.dtype(), 1);
}

}  // namespace mlx::core

// The composite kernel of the mlx.core.fast primitives (fast.cu): runs the primitive's
// fallback graph, whose nodes have GPU kernels. Kernels that handle only some cases (sdpa.cpp)
// call it for the others.
#pragma once
#include <vector>

#include "mlx/array.h"
#include "mlx/primitive.h"

namespace mlx::core::cu {

bool eval_fast_composite(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);

}  // namespace mlx::core::cu

// Umbrella header for C++ users of the library.
#pragma once
#include "mlx/allocator.h"
#include "mlx/array.h"
#include "mlx/device.h"
#include "mlx/dtype.h"
#include "mlx/errors.h"
#include "mlx/ops.h"
#include "mlx/transforms.h"
#include "mlx/ops/conv.h"
#include "mlx/ops/fast.h"
#include "mlx/io/io.h"
#include "mlx/ops/sort_scan.h"
#include "mlx/ops/random.h"

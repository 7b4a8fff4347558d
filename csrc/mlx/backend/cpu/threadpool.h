// One shared thread pool for all CPU kernels.
#pragma once
#include <cstddef>
#include <functional>

namespace mlx::core::cpu {

// Number of threads kernels split work across (caller included).
int num_threads();
void set_num_threads(int n);

// Runs f(begin, end) over [0, n) in chunks of at least `grain`, on the pool and the caller.
void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f);

}  // namespace mlx::core::cpu

// One shared thread pool for all CPU kernels.
#pragma once
#include <cstddef>
#include <functional>
#include <utility>

namespace mlx::core::cpu {

// Number of threads kernels split work across (caller included).
int num_threads();
void set_num_threads(int n);

// Runs f over [0, n) in chunks on the pool and the caller (used by parallel_for for work of
// two grains or more).
void parallel_for_pool(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f);

// Runs f(begin, end) over [0, n) in chunks of at least `grain`, on the pool and the caller.
// Work under two grains runs inline in the caller, without touching the pool or wrapping f.
template <typename F>
inline void parallel_for(size_t n, size_t grain, F&& f) {
  if (n == 0) return;
  if (n < 2 * grain) {
    f(size_t(0), n);
    return;
  }
  parallel_for_pool(n, grain, std::function<void(size_t, size_t)>(std::ref(f)));
}

}  // namespace mlx::core::cpu

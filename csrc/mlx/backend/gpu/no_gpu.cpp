// The GPU interface in a build without a GPU backend: there is no GPU.
#include <stdexcept>

#include "mlx/backend/gpu/gpu.h"

namespace mlx::core::gpu {

bool is_available() { return false; }
int device_count() { return 0; }
void eval(Primitive&, const std::vector<array>&, std::vector<array>&) {
  throw std::runtime_error("[eval] this build of mlx has no GPU backend; got an op on a gpu stream.");
}
bool begin_tape(const std::vector<array>&) { return false; }
void end_tape(bool) {}
std::map<std::string, size_t> graph_stats() { return {}; }
void after_cpu_eval(std::vector<array>&) {}
void to_host(Data&) {
  throw std::runtime_error("[to_host] this build of mlx has no GPU backend; got device data.");
}
void release(Data&) {}
void synchronize() {}
size_t active_memory() { return 0; }
size_t peak_memory() { return 0; }
void reset_peak_memory() {}
size_t cache_memory() { return 0; }
void set_memory_limit(size_t) {}
void set_cache_limit(size_t) {}
void clear_cache() {}
std::map<std::string, size_t> host_fallbacks() { return {}; }
void profile_reset() {}
std::map<std::string, std::variant<std::string, size_t>> device_info() {
  throw std::invalid_argument("[device_info] the device is not available.");
}

}  // namespace mlx::core::gpu

// Buffers, the caching allocator, and the memory counters behind mx.get_*_memory.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mlx::core {

// A raw allocation. ptr is 64-byte aligned; size is what was asked for.
struct Buffer {
  void* ptr = nullptr;
  size_t size = 0;
};

namespace allocator {
// Returns a buffer of at least `size` bytes, from the cache when one fits.
// Throws std::runtime_error (surfaced as RuntimeError) when the memory limit can't be met.
Buffer malloc(size_t size);
// Returns the buffer to the cache (or the system, past the cache limit).
void free(Buffer b);
}  // namespace allocator

size_t get_active_memory();
size_t get_peak_memory();
void reset_peak_memory();
size_t get_cache_memory();
// Each setter returns the previous limit.
size_t set_memory_limit(size_t limit);
size_t get_memory_limit();
size_t set_cache_limit(size_t limit);
size_t set_wired_limit(size_t limit);
void clear_cache();

}  // namespace mlx::core

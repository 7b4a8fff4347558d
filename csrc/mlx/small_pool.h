// A per-thread cache of small fixed-size heap blocks, for the objects every graph node
// allocates (the array node, its data record, elementwise primitives). A graph of scalars
// frees and reallocates hundreds of such blocks per call; taking them from a free list avoids
// the general-purpose malloc paths (bin sorting, coalescing) that otherwise dominate.
#pragma once
#include <cstddef>
#include <new>

namespace mlx::core::detail {

constexpr size_t kPoolMaxBlock = 512;  // larger blocks go straight to operator new
// A block of at least `size` bytes (size <= kPoolMaxBlock), 16-byte aligned.
void* pool_alloc(size_t size);
// Returns a block from pool_alloc(size) (any thread may return it).
void pool_free(void* p, size_t size) noexcept;

// Allocator for std::allocate_shared (and containers of one element at a time).
template <typename T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  static constexpr bool pooled = sizeof(T) <= kPoolMaxBlock && alignof(T) <= 16;
  T* allocate(size_t n) {
    if (pooled && n == 1) return static_cast<T*>(pool_alloc(sizeof(T)));
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept {
    if (pooled && n == 1) pool_free(p, sizeof(T));
    else ::operator delete(p);
  }
  template <typename U>
  bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const PoolAllocator<U>&) const noexcept { return false; }
};

}  // namespace mlx::core::detail

// Flat open-addressing set and map keyed by node ids (array::id(), never 0), for the graph
// walks of eval and the transforms: no allocation per element, unlike std::unordered_*.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace mlx::core::detail {

// Fibonacci hashing: the top bits of k times 2^64/phi, as many as the table has slot bits
// (mask + 1 slots, a power of two).
inline size_t id_slot(uintptr_t k, size_t mask) {
  return static_cast<size_t>((static_cast<uint64_t>(k) * 0x9E3779B97F4A7C15ull) >> (64 - __builtin_popcountll(mask)));
}

class IdSet {
 public:
  IdSet() : keys_(64, 0) {}
  // True when k was not yet in the set.
  bool insert(uintptr_t k) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t m = keys_.size() - 1;
    for (size_t i = id_slot(k, m);; i = (i + 1) & m) {
      if (keys_[i] == k) return false;
      if (keys_[i] == 0) {
        keys_[i] = k;
        ++size_;
        return true;
      }
    }
  }
  bool contains(uintptr_t k) const {
    size_t m = keys_.size() - 1;
    for (size_t i = id_slot(k, m);; i = (i + 1) & m) {
      if (keys_[i] == k) return true;
      if (keys_[i] == 0) return false;
    }
  }
  size_t count(uintptr_t k) const { return contains(k) ? 1 : 0; }
  size_t size() const { return size_; }
  // Calls f(id) for every element, in no particular order.
  template <typename F>
  void for_each(F&& f) const {
    for (auto k : keys_)
      if (k) f(k);
  }

 private:
  void grow() {
    std::vector<uintptr_t> old(keys_.size() * 2, 0);
    old.swap(keys_);
    size_t m = keys_.size() - 1;
    for (auto k : old) {
      if (!k) continue;
      size_t i = id_slot(k, m);
      while (keys_[i]) i = (i + 1) & m;
      keys_[i] = k;
    }
  }
  std::vector<uintptr_t> keys_;
  size_t size_ = 0;
};

// Map from node id to V (V default-constructible and movable).
template <typename V>
class IdMap {
 public:
  IdMap() : slots_(64) {}
  V* find(uintptr_t k) {
    size_t m = slots_.size() - 1;
    for (size_t i = id_slot(k, m);; i = (i + 1) & m) {
      if (slots_[i].first == k) return &slots_[i].second;
      if (slots_[i].first == 0) return nullptr;
    }
  }
  // The value of k, and whether it was just added (default-constructed).
  std::pair<V*, bool> try_emplace(uintptr_t k) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t m = slots_.size() - 1;
    for (size_t i = id_slot(k, m);; i = (i + 1) & m) {
      if (slots_[i].first == k) return {&slots_[i].second, false};
      if (slots_[i].first == 0) {
        slots_[i].first = k;
        ++size_;
        return {&slots_[i].second, true};
      }
    }
  }
  size_t size() const { return size_; }
  template <typename F>
  void for_each(F&& f) const {
    for (auto& s : slots_)
      if (s.first) f(s.first, s.second);
  }

 private:
  void grow() {
    std::vector<std::pair<uintptr_t, V>> old(slots_.size() * 2);
    old.swap(slots_);
    size_t m = slots_.size() - 1;
    for (auto& s : old) {
      if (!s.first) continue;
      size_t i = id_slot(s.first, m);
      while (slots_[i].first) i = (i + 1) & m;
      slots_[i].first = s.first;
      slots_[i].second = std::move(s.second);
    }
  }
  std::vector<std::pair<uintptr_t, V>> slots_;
  size_t size_ = 0;
};

}  // namespace mlx::core::detail

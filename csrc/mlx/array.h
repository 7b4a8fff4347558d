// The array: a handle to a shared node that holds shape, strides, dtype and
// data (once evaluated) or a primitive and its inputs (while lazy).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "mlx/allocator.h"
#include "mlx/device.h"
#include "mlx/dtype.h"
#include "mlx/errors.h"
#include "mlx/small_pool.h"

namespace mlx::core {

class Primitive;

// Owns one allocation; freed with its deleter when the last view goes.
// With a GPU backend the same bytes may also live in device memory: `where` says which copies
// are current (kHost, kDevice or both). The host copy is made on first CPU access (see
// array::raw_ptr), the device copy on first GPU use; `buffer.size` is the size of either.
struct Data {
  static constexpr uint8_t kHost = 1, kDevice = 2;
  Buffer buffer;
  std::function<void(Buffer)> deleter;
  void* device = nullptr;  // device copy (owned by the GPU backend), if any
  uint8_t where = kHost;
  int8_t gpu_slot = -1;    // the GPU backend's stream that last wrote the device copy
  explicit Data(Buffer b) : buffer(b), deleter(allocator::free) {}
  Data(Buffer b, std::function<void(Buffer)> d) : buffer(b), deleter(std::move(d)) {}
  ~Data();
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;
};

namespace detail {
// Makes the host copy of `d` current (copies from the device). Defined by the GPU backend.
void data_to_host(Data& d);
inline char* host_ptr(Data& d) {
  if (__builtin_expect(!(d.where & Data::kHost), 0)) data_to_host(d);
  return static_cast<char*>(d.buffer.ptr);
}
}  // namespace detail

struct Flags {
  // contiguous: the elements fill data_size consecutive slots (in some order).
  // row_contiguous iff strides[i] == prod(shape[i+1:]) for every dim of size > 1.
  bool contiguous = true;
  bool row_contiguous = true;
  bool col_contiguous = true;
};

Strides row_strides(const Shape& shape);
size_t shape_size(const Shape& shape);

class array {
 public:
  array() = default;
  array(const array&) = default;
  array(array&&) noexcept = default;
  array& operator=(const array&) = default;
  array& operator=(array&&) noexcept = default;
  // Breaks the reference cycle among the outputs of a multi-output primitive (siblings hold
  // each other) when this is the last handle from outside the group.
  ~array();

  // A scalar (0-d) array.
  template <typename T>
  explicit array(T val, Dtype dtype = TypeToDtype<T>::value);
  // A 1-d array from a list.
  template <typename T>
  array(std::initializer_list<T> data);
  template <typename T>
  array(std::initializer_list<T> data, Dtype dtype);
  // An array of the given shape from row-major values.
  template <typename T>
  array(std::initializer_list<T> data, Shape shape)
      : array(data.begin(), std::move(shape), TypeToDtype<T>::value) {}
  // An array copying `data` (row-major, of type T) into shape `shape` and dtype `dtype`.
  template <typename It>
  array(It data, Shape shape, Dtype dtype = TypeToDtype<typename std::iterator_traits<It>::value_type>::value);
  // A new evaluated array with uninitialized data.
  array(Shape shape, Dtype dtype, std::shared_ptr<Data> data, Strides strides, size_t offset,
        Flags flags, size_t data_size);
  // A lazy array produced by `primitive` from `inputs`.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
        std::vector<array> inputs);

  // Several lazy outputs of one primitive, siblings of each other.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);

  Dtype dtype() const { return desc_->dtype; }
  size_t itemsize() const { return size_of(dtype()); }
  size_t size() const { return desc_->size; }
  size_t nbytes() const { return size() * itemsize(); }
  size_t ndim() const { return desc_->shape.size(); }
  const Shape& shape() const { return desc_->shape; }
  int shape(int dim) const { return desc_->shape.at(dim < 0 ? dim + ndim() : dim); }
  const Strides& strides() const { return desc_->strides; }
  int64_t strides(int dim) const { return desc_->strides.at(dim < 0 ? dim + ndim() : dim); }

  // Evaluates the graph that produces this array.
  void eval();
  template <typename T>
  T item();

  bool is_valid() const { return desc_ != nullptr; }
  bool has_primitive() const { return desc_->primitive != nullptr; }
  Primitive& primitive() const { return *desc_->primitive; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return desc_->primitive; }
  std::vector<array>& inputs() { return desc_->inputs; }
  const std::vector<array>& inputs() const { return desc_->inputs; }
  const std::vector<array>& siblings() const { return desc_->siblings; }
  std::vector<array> outputs() const;  // this array and its siblings, in order
  int position() const { return desc_->position; }
  // True once data is set (evaluated or created from values).
  bool is_available() const { return desc_->data != nullptr; }
  // A tracer only while some transform (vjp, jvp, vmap, compile) is tracing.
  bool is_tracer() const;
  void set_tracer(bool t) { desc_->is_tracer = t; }

  // Drops the primitive and inputs after evaluation so the graph frees as it goes.
  void detach();
  // As detach, for this array and its siblings, but leaves the sibling lists as they are
  // (the background evaluation uses it: only the thread that drops a group's last handle may
  // change those lists, see ~array).
  void detach_keep_siblings();
  // True while async_eval's background evaluation may still change this node (its data,
  // inputs, primitive), or any node reached through its inputs. Set and cleared by that
  // evaluation (transforms/eval.cpp); graph walks that run meanwhile stop at such nodes.
  bool is_pending() const { return desc_->pending.load(std::memory_order_acquire); }
  void set_pending(bool p) { desc_->pending.store(p, std::memory_order_release); }

  // Data access (valid once evaluated).
  // Host pointers: with a GPU backend these first bring the data back from the device if needed.
  template <typename T> T* data() { return reinterpret_cast<T*>(detail::host_ptr(*desc_->data) + desc_->offset); }
  template <typename T> const T* data() const { return reinterpret_cast<const T*>(detail::host_ptr(*desc_->data) + desc_->offset); }
  void* raw_ptr() { return detail::host_ptr(*desc_->data) + desc_->offset; }
  const std::shared_ptr<Data>& data_shared_ptr() const { return desc_->data; }
  size_t offset() const { return desc_->offset; }  // in bytes
  size_t data_size() const { return desc_->data_size; }
  const Flags& flags() const { return desc_->flags; }

  // Allocates fresh row-contiguous data for this (output) array.
  void set_data(Buffer buffer);
  void set_data(std::shared_ptr<Data> data, size_t data_size, Strides strides, Flags flags, size_t offset = 0);
  // Makes this array a view into `other`'s buffer; offset in elements of this array's dtype.
  void copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                          size_t data_size, int64_t offset = 0);
  void copy_shared_buffer(const array& other);
  // Takes over `other`'s buffer (donation), keeping our own shape.
  void move_shared_buffer(array other);
  // True when nothing else holds this node or its data, so the buffer may be reused.
  bool is_donatable() const {
    return desc_.use_count() == 1 && desc_->data && desc_->data.use_count() == 1 &&
           desc_->flags.row_contiguous && desc_->data_size == desc_->size;
  }

  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }
  bool is(const array& o) const { return desc_ == o.desc_; }
  long use_count() const { return desc_.use_count(); }

  Stream stream() const;

 private:
  struct ArrayDesc {
    Shape shape;
    Strides strides;
    size_t size = 1;
    Dtype dtype = float32;
    std::shared_ptr<Primitive> primitive;
    std::vector<array> inputs;
    std::vector<array> siblings;
    int position = 0;
    std::shared_ptr<Data> data;
    size_t offset = 0;
    size_t data_size = 0;
    Flags flags;
    bool is_tracer = false;
    std::atomic<bool> pending{false};
    ArrayDesc(Shape s, Dtype t);
    ~ArrayDesc();
  };
  std::shared_ptr<ArrayDesc> desc_;
  static std::shared_ptr<ArrayDesc> new_desc(Shape shape, Dtype dtype) {
    return std::allocate_shared<ArrayDesc>(detail::PoolAllocator<ArrayDesc>(), std::move(shape), dtype);
  }
  void init_from(const void* src, Dtype src_type);
  template <typename It> void init_iter(It begin);
};

// Copies n elements of type From to To (used by the templated constructors).
void copy_cast_raw(const void* src, Dtype src_t, void* dst, Dtype dst_t, size_t n);

template <typename T>
array::array(T val, Dtype dtype) : desc_(new_desc(Shape{}, dtype)) {
  init_from(&val, TypeToDtype<T>::value);
}

template <typename T>
array::array(std::initializer_list<T> data)
    : array(data.begin(), Shape{static_cast<int32_t>(data.size())}, TypeToDtype<T>::value) {}

template <typename T>
array::array(std::initializer_list<T> data, Dtype dtype)
    : array(data.begin(), Shape{static_cast<int32_t>(data.size())}, dtype) {}

template <typename It>
array::array(It data, Shape shape, Dtype dtype)
    : desc_(new_desc(std::move(shape), dtype)) {
  using T = typename std::iterator_traits<It>::value_type;
  std::vector<T> tmp(data, data + desc_->size);
  init_from(tmp.data(), TypeToDtype<T>::value);
}

template <typename T>
T array::item() {
  if (size() != 1) throw ValueError(msg("[item] only size-1 arrays can be converted to scalars; got shape=", shape(), "."));
  eval();
  T out;
  copy_cast_raw(data<void>(), dtype(), &out, TypeToDtype<T>::value, 1);
  return out;
}

}  // namespace mlx::core

#include "mlx/array.h"
#include "mlx/backend/gpu/gpu.h"

#include "mlx/dtype_dispatch.h"
#include "mlx/primitive.h"
#include "mlx/transforms.h"
#include "mlx/types/cast.h"

namespace mlx::core {

Data::~Data() {
  if (device) gpu::release(*this);
  if (deleter) deleter(buffer);
}

void detail::data_to_host(Data& d) { gpu::to_host(d); }


Strides row_strides(const Shape& shape) {
  Strides st(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * shape[i + 1];
  return st;
}

size_t shape_size(const Shape& shape) {
  size_t n = 1;
  for (auto s : shape) n *= static_cast<size_t>(s);
  return n;
}

array::ArrayDesc::ArrayDesc(Shape s, Dtype t) : shape(std::move(s)), dtype(t) {
  size = shape_size(shape);
  strides = row_strides(shape);
}

array::ArrayDesc::~ArrayDesc() {
  if (inputs.empty()) return;
  // Free long chains iteratively: recursion through inputs could overflow the stack. The
  // pending nodes sit in a few inline slots first, so freeing one node allocates nothing.
  struct Pending {
    std::shared_ptr<ArrayDesc> local[8];
    size_t n = 0;
    std::vector<std::shared_ptr<ArrayDesc>> spill;
    void push(std::shared_ptr<ArrayDesc>&& d) {
      if (n < 8) local[n++] = std::move(d);
      else spill.push_back(std::move(d));
    }
    bool empty() const { return n == 0 && spill.empty(); }
    std::shared_ptr<ArrayDesc> pop() {
      if (!spill.empty()) {
        auto d = std::move(spill.back());
        spill.pop_back();
        return d;
      }
      return std::move(local[--n]);
    }
  } stack;
  auto take = [&stack](std::vector<array>& v) {
    for (auto& a : v)
      if (a.desc_.use_count() == 1) stack.push(std::move(a.desc_));
    v.clear();
  };
  take(inputs);
  while (!stack.empty()) {
    auto d = stack.pop();
    take(d->inputs);
    d->siblings.clear();
  }
}

array::~array() {
  if (!desc_ || desc_->siblings.empty()) return;
  long n = static_cast<long>(desc_->siblings.size()) + 1;
  long external = desc_.use_count() - (n - 1);
  for (auto& s : desc_->siblings) {
    if (!s.desc_) return;
    external += s.desc_.use_count() - (n - 1);
  }
  if (external == 1) {
    // Empty every list before any handle is destroyed, so that nested destructors
    // never see a list that is being modified.
    std::vector<array> sibs;
    sibs.swap(desc_->siblings);
    std::vector<std::vector<array>> lists(sibs.size());
    for (size_t i = 0; i < sibs.size(); ++i) lists[i].swap(sibs[i].desc_->siblings);
  }
}

void copy_cast_raw(const void* src, Dtype st, void* dst, Dtype dt, size_t n) {
  MLX_DISPATCH_ALL(st, {
    using S = T;
    const S* s = static_cast<const S*>(src);
    MLX_DISPATCH_ALL(dt, {
      T* d = static_cast<T*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = cast_to<T>(s[i]);
    });
  });
}

void array::init_from(const void* src, Dtype src_type) {
  Buffer b = allocator::malloc(std::max<size_t>(nbytes(), 1));
  copy_cast_raw(src, src_type, b.ptr, dtype(), size());
  set_data(b);
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Data> data, Strides strides,
             size_t offset, Flags flags, size_t data_size)
    : desc_(new_desc(std::move(shape), dtype)) {
  desc_->data = std::move(data);
  desc_->strides = std::move(strides);
  desc_->offset = offset;
  desc_->flags = flags;
  desc_->data_size = data_size;
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
             std::vector<array> inputs)
    : desc_(new_desc(std::move(shape), dtype)) {
  desc_->primitive = std::move(primitive);
  desc_->inputs = std::move(inputs);
  for (auto& in : desc_->inputs)
    if (in.is_tracer()) desc_->is_tracer = true;  // propagate only while tracing
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  std::vector<array> outs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outs.emplace_back(std::move(shapes[i]), dtypes[i], primitive, inputs);
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    outs[i].desc_->position = static_cast<int>(i);
    for (size_t j = 0; j < outs.size(); ++j)
      if (j != i) outs[i].desc_->siblings.push_back(outs[j]);
  }
  return outs;
}

std::vector<array> array::outputs() const {
  std::vector<array> outs;
  auto& sib = desc_->siblings;
  int pos = desc_->position;
  for (int i = 0, j = 0; i <= static_cast<int>(sib.size()); ++i) {
    if (i == pos) outs.push_back(*this);
    else outs.push_back(sib[j++]);
  }
  return outs;
}

void array::eval() { mlx::core::eval({*this}); }

bool array::is_tracer() const { return desc_->is_tracer && detail::trace_depth() > 0; }

void array::detach() {
  if (desc_->siblings.empty()) {
    std::vector<array> ins;
    ins.swap(desc_->inputs);
    desc_->position = 0;
    desc_->primitive = nullptr;
    return;
  }
  // Move every sibling list out before destroying anything (see ~array).
  std::vector<array> sibs;
  sibs.swap(desc_->siblings);
  std::vector<std::vector<array>> lists(sibs.size());
  std::vector<std::vector<array>> ins(sibs.size() + 1);
  for (size_t i = 0; i < sibs.size(); ++i) {
    auto& d = *sibs[i].desc_;
    lists[i].swap(d.siblings);
    ins[i].swap(d.inputs);
    d.position = 0;
    d.primitive = nullptr;
  }
  ins.back().swap(desc_->inputs);
  desc_->position = 0;
  desc_->primitive = nullptr;
}

void array::detach_keep_siblings() {
  std::vector<std::vector<array>> ins(desc_->siblings.size() + 1);
  for (size_t i = 0; i < desc_->siblings.size(); ++i) {
    auto& d = *desc_->siblings[i].desc_;
    ins[i].swap(d.inputs);
    d.primitive = nullptr;
  }
  ins.back().swap(desc_->inputs);
  desc_->primitive = nullptr;
}

void array::set_data(Buffer buffer) {
  desc_->data = std::allocate_shared<Data>(detail::PoolAllocator<Data>(), buffer);
  desc_->offset = 0;
  desc_->data_size = size();
  desc_->strides = row_strides(shape());
  desc_->flags = Flags{true, true, ndim() <= 1 || size() <= 1};
  if (!desc_->flags.col_contiguous) {
    // col_contiguous iff some non-trivial order reversal: at most one dim > 1.
    int big = 0;
    for (auto s : shape()) big += (s > 1);
    desc_->flags.col_contiguous = big <= 1;
  }
}

void array::set_data(std::shared_ptr<Data> data, size_t data_size, Strides strides, Flags flags,
                     size_t offset) {
  desc_->data = std::move(data);
  desc_->data_size = data_size;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->offset = offset;
}

void array::copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                               size_t data_size, int64_t offset) {
  desc_->data = other.desc_->data;
  desc_->strides = strides;
  desc_->flags = flags;
  desc_->data_size = data_size;
  desc_->offset = other.desc_->offset + offset * static_cast<int64_t>(itemsize());
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

void array::move_shared_buffer(array other) {
  desc_->data = std::move(other.desc_->data);
  desc_->strides = other.desc_->strides;
  desc_->flags = other.desc_->flags;
  desc_->data_size = other.desc_->data_size;
  desc_->offset = other.desc_->offset;
}

Stream array::stream() const {
  if (desc_->primitive) return desc_->primitive->stream();
  return default_stream(default_device());
}

}  // namespace mlx::core

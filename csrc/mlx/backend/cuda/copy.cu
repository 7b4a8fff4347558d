// Views, copies, concatenation and slice updates on the GPU.
#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cu {

namespace {

// y[dst layout] = x[src layout] for n elements of a collapsed shape (operand 0: src, 1: dst).
template <typename T>
__global__ void k_copy_general(const T* __restrict__ x, T* __restrict__ y, int64_t n, Strided s) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[strided_offset(s, 1, i)] = x[strided_offset(s, 0, i)];
}

// Copies src (any layout, broadcast to `shape`) into dst at element offset `off` with strides `dst_strides`.
bool copy_into(const array& src, void* dst_base, Dtype dt, const Shape& shape, const Strides& dst_strides,
               int64_t off) {
  if (src.dtype() != dt) return false;
  // A stand-in array carrying the destination layout, for collapse().
  array dview(shape, dt, nullptr, {});
  dview.set_data(std::make_shared<Data>(Buffer{nullptr, 0}, nullptr), 0, dst_strides, Flags{false, false, false});
  Strided s;
  if (!collapse(shape, {&src, &dview}, s)) return false;
  int64_t n = static_cast<int64_t>(shape_size(shape));
  return dispatch(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (n == 0) return;
    const T* x = in_ptr<T>(src);
    T* y = static_cast<T*>(dst_base) + off;
    k_copy_general<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(x, y, n, s);
    check_launch("copy kernel");
  });
}

// Pure views: the CPU implementation only sets strides, so it runs as is.
bool eval_view(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  p.eval_cpu(inputs, outputs);
  return true;
}

bool eval_reshape(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  if (in.flags().row_contiguous) {
    p.eval_cpu(inputs, outputs);
    return true;
  }
  array tmp(in.shape(), in.dtype(), nullptr, {});
  if (!copy_to_row_contiguous(in, tmp)) return false;
  p.eval_cpu({tmp}, outputs);
  return true;
}

bool eval_slice(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& sl = static_cast<Slice&>(p);
  for (auto st : sl.strides_)
    if (st < 0) return false;  // reversed slices copy on the CPU
  if (outputs[0].size() == 0) {
    alloc_out(outputs[0]);
    return true;
  }
  p.eval_cpu(inputs, outputs);
  return true;
}

bool eval_slice_update(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& su = static_cast<SliceUpdate&>(p);
  auto &src = inputs[0], &upd = inputs[1];
  array& out = outputs[0];
  if (src.dtype() != out.dtype() || upd.dtype() != out.dtype()) return false;
  if (!dispatch(out.dtype(), [](auto) {})) return false;
  if (!copy_to_row_contiguous(src, out)) return false;
  Strides st(out.ndim());
  int64_t off = 0;
  for (size_t i = 0; i < out.ndim(); ++i) {
    st[i] = out.strides(i) * su.strides_[i];
    off += static_cast<int64_t>(su.start_[i]) * out.strides(i);
  }
  Data& d = *out.data_shared_ptr();
  return copy_into(upd, d.device, out.dtype(), upd.shape(), st, off);
}

bool eval_concatenate(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& c = static_cast<Concatenate&>(p);
  array& out = outputs[0];
  for (auto& in : inputs)
    if (in.dtype() != out.dtype()) return false;
  if (!dispatch(out.dtype(), [](auto) {})) return false;
  void* base = alloc_out(out);
  int64_t off = 0;
  int ax = c.axis_;
  for (auto& in : inputs) {
    if (!copy_into(in, base, out.dtype(), in.shape(), out.strides(), off * out.strides(ax))) {
      throw std::runtime_error("[concatenate] too many dimensions for the GPU copy kernel.");
    }
    off += in.shape(ax);
  }
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(Transpose, eval_view);
MLX_CUDA_KERNEL(Broadcast, eval_view);
MLX_CUDA_KERNEL(AsStrided, eval_view);
MLX_CUDA_KERNEL(Reshape, eval_reshape);
MLX_CUDA_KERNEL(Slice, eval_slice);
MLX_CUDA_KERNEL(SliceUpdate, eval_slice_update);
MLX_CUDA_KERNEL(Concatenate, eval_concatenate);

bool on_axis_last(const array& in, array& out, int axis,
                  const std::function<bool(const array& in_rows, array& out_rows)>& rows) {
  int nd = static_cast<int>(in.ndim());
  std::vector<int> perm;
  for (int i = 0; i < nd; ++i)
    if (i != axis) perm.push_back(i);
  perm.push_back(axis);
  Shape psh(nd);
  Strides pst(nd);
  for (int i = 0; i < nd; ++i) {
    psh[i] = in.shape(perm[i]);
    pst[i] = in.strides(perm[i]);
  }
  array view(psh, in.dtype(), nullptr, {});
  view.copy_shared_buffer(in, pst, Flags{false, false, false}, in.data_size(), 0);
  array tin(psh, in.dtype(), nullptr, {});
  if (!copy_to_row_contiguous(view, tin)) return false;
  array tout(psh, out.dtype(), nullptr, {});
  if (!rows(tin, tout)) return false;
  Strides rs = row_strides(psh), ost(nd);
  for (int i = 0; i < nd; ++i) ost[perm[i]] = rs[i];
  array back(out.shape(), out.dtype(), nullptr, {});
  back.copy_shared_buffer(tout, ost, Flags{false, false, false}, tout.size(), 0);
  return copy_to_row_contiguous(back, out);
}

}  // namespace mlx::core::cu

// Arithmetic binary ops on the GPU; the Binary, DivMod and Select kernels.
#include "mlx/backend/cuda/binary.cuh"

namespace mlx::core::cu {

bool binary_arith(BinaryOp op, const array& a, const array& b, array& out) {
  switch (op) {
    case BinaryOp::Add: return binary_op<BinaryOp::Add>(a, b, out);
    case BinaryOp::Subtract: return binary_op<BinaryOp::Subtract>(a, b, out);
    case BinaryOp::Multiply: return binary_op<BinaryOp::Multiply>(a, b, out);
    case BinaryOp::Divide: return binary_op<BinaryOp::Divide>(a, b, out);
    case BinaryOp::FloorDivide: return binary_op<BinaryOp::FloorDivide>(a, b, out);
    case BinaryOp::Remainder: return binary_op<BinaryOp::Remainder>(a, b, out);
    case BinaryOp::Power: return binary_op<BinaryOp::Power>(a, b, out);
    case BinaryOp::Maximum: return binary_op<BinaryOp::Maximum>(a, b, out);
    case BinaryOp::Minimum: return binary_op<BinaryOp::Minimum>(a, b, out);
    default: return binary_other(op, a, b, out);
  }
}

namespace {

bool eval_binary(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  return binary_arith(static_cast<Binary&>(p).op(), inputs[0], inputs[1], outputs[0]);
}

bool eval_divmod(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  if (a.dtype() != inputs[1].dtype() || !dispatch(a.dtype(), [](auto) {}) || a.dtype() == Dtype::bool_) return false;
  return binary_op<BinaryOp::FloorDivide>(a, inputs[1], outputs[0]) &&
         binary_op<BinaryOp::Remainder>(a, inputs[1], outputs[1]);
}

template <typename T>
struct SelectF {
  __device__ __forceinline__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

bool eval_select(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto &c = inputs[0], &x = inputs[1], &y = inputs[2];
  array& out = outputs[0];
  if (c.dtype() != Dtype::bool_ || x.dtype() != y.dtype() || out.dtype() != x.dtype()) return false;
  Strided s;
  if (!collapse(out.shape(), {&c, &x, &y}, s)) return false;
  return dispatch(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const bool* pc = in_ptr<bool>(c);
    const T* px = in_ptr<T>(x);
    const T* py = in_ptr<T>(y);
    T* po = static_cast<T*>(alloc_out(out));
    int64_t n = static_cast<int64_t>(out.size());
    if (n == 0) return;
    map3_strided(pc, px, py, po, n, s, SelectF<T>{});
  });
}

}  // namespace

MLX_CUDA_KERNEL(Binary, eval_binary);
MLX_CUDA_KERNEL(DivMod, eval_divmod);
MLX_CUDA_KERNEL(Select, eval_select);

}  // namespace mlx::core::cu

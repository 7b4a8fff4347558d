// Comparison, logical, bitwise and transcendental binary ops on the GPU.
#include "mlx/backend/cuda/binary.cuh"

namespace mlx::core::cu {

bool binary_other(BinaryOp op, const array& a, const array& b, array& out) {
  switch (op) {
    case BinaryOp::Equal: return binary_op<BinaryOp::Equal>(a, b, out);
    case BinaryOp::NaNEqual: return binary_op<BinaryOp::NaNEqual>(a, b, out);
    case BinaryOp::NotEqual: return binary_op<BinaryOp::NotEqual>(a, b, out);
    case BinaryOp::Less: return binary_op<BinaryOp::Less>(a, b, out);
    case BinaryOp::LessEqual: return binary_op<BinaryOp::LessEqual>(a, b, out);
    case BinaryOp::Greater: return binary_op<BinaryOp::Greater>(a, b, out);
    case BinaryOp::GreaterEqual: return binary_op<BinaryOp::GreaterEqual>(a, b, out);
    case BinaryOp::LogicalAnd: return binary_op<BinaryOp::LogicalAnd>(a, b, out);
    case BinaryOp::LogicalOr: return binary_op<BinaryOp::LogicalOr>(a, b, out);
    case BinaryOp::BitwiseAnd: return binary_op<BinaryOp::BitwiseAnd>(a, b, out);
    case BinaryOp::BitwiseOr: return binary_op<BinaryOp::BitwiseOr>(a, b, out);
    case BinaryOp::BitwiseXor: return binary_op<BinaryOp::BitwiseXor>(a, b, out);
    case BinaryOp::LeftShift: return binary_op<BinaryOp::LeftShift>(a, b, out);
    case BinaryOp::RightShift: return binary_op<BinaryOp::RightShift>(a, b, out);
    case BinaryOp::ArcTan2: return binary_op<BinaryOp::ArcTan2>(a, b, out);
    case BinaryOp::LogAddExp: return binary_op<BinaryOp::LogAddExp>(a, b, out);
    default: return false;
  }
}

}  // namespace mlx::core::cu

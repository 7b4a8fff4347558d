// Span kernels of the elementwise primitives over dense buffers, for the fused (compiled)
// interpreter. Each one is the eager kernel's inner loop (same input promotion, same math,
// same output type), so fused and unfused results agree bit for bit. They are looked up
// once per program; a null result means "not covered": the caller falls back to the
// primitive's own eval_cpu. Covered input dtypes: bool, int32, float16, bfloat16, float32.
#pragma once
#include <cstddef>

#include "mlx/dtype.h"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cpu {

// out[i] = op(in[i]) for i < n.
using UnarySpanFn = void (*)(const void* in, void* out, size_t n);
// The kernel of `op` on inputs of dtype `in`; sets *out_t to the result dtype.
UnarySpanFn unary_span(UnaryOp op, Dtype in, Dtype* out_t);

// Operand layouts of a binary span.
enum class SpanMode : int { VV = 0, SV = 1, VS = 2 };  // V: n values, S: one value (a[0] / b[0])
// out[i] = op(a[i or 0], b[i or 0]) for i < n.
using BinarySpanFn = void (*)(const void* a, const void* b, void* out, size_t n);
// The kernel of `op` on operands of dtype `in` laid out as `mode`; sets *out_t.
BinarySpanFn binary_span(BinaryOp op, Dtype in, SpanMode mode, Dtype* out_t);

// float32 only: out[i] = bop(uop(u[i]), w[i or 0]) (u_left) or bop(w[i or 0], uop(u[i])), the
// values of the two span kernels above run one after the other, computed without storing
// uop's values. Null where the pair is not covered (uop: exp, sin, cos, tanh, erf, sigmoid;
// bop: add, subtract, multiply, divide; and only where the CPU has AVX2 and FMA).
using UnaryBinarySpanFn = void (*)(const void* u, const void* w, void* out, size_t n);
UnaryBinarySpanFn unary_binary_span(UnaryOp uop, BinaryOp bop, bool u_left, bool w_scalar);
// float32 only: out[i] = uop(bop(a[i or 0], b[i or 0])) (operands laid out as mode), likewise
// the values of the two span kernels run in turn. Null where not covered (as above).
using BinaryUnarySpanFn = void (*)(const void* a, const void* b, void* out, size_t n);
BinaryUnarySpanFn binary_unary_span(BinaryOp bop, UnaryOp uop, SpanMode mode);

}  // namespace mlx::core::cpu

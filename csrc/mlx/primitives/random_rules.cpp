// Equivalence and vjp/jvp/vmap rules of the mx.random primitives.
#include <cmath>

#include "mlx/ops/random.h"

namespace mlx::core {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

bool RandomBits::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RandomBits*>(&o);
  return p && p->shape_ == shape_ && p->width_ == width_;
}

bool RandomMap::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RandomMap*>(&o);
  return p && p->op_ == op_;
}

static Dtype bits_dtype(int width) {
  return width == 1 ? uint8 : width == 2 ? uint16 : width == 4 ? uint32 : uint64;
}

// Keys are integers: nothing flows through them.
Arrs RandomBits::vjp(const Arrs& primals, const Arrs&, const std::vector<int>&, const Arrs&) {
  return {zeros_like(primals[0])};
}

Arrs RandomBits::jvp(const Arrs& primals, const Arrs&, const std::vector<int>&) {
  Shape sh(primals[0].shape().begin(), primals[0].shape().end() - 1);
  sh.insert(sh.end(), shape_.begin(), shape_.end());
  return {zeros(sh, bits_dtype(width_))};
}

// A batch of keys draws one sample array per key: the batch axis goes in front.
VmapOut RandomBits::vmap(const Arrs& inputs, const std::vector<int>& axes) {
  array keys = axes[0] >= 0 ? moveaxis(inputs[0], axes[0], 0) : inputs[0];
  Shape sh(keys.shape().begin(), keys.shape().end() - 1);
  sh.insert(sh.end(), shape_.begin(), shape_.end());
  return {{array(sh, bits_dtype(width_), std::make_shared<RandomBits>(stream(), shape_, width_), {keys})}, {axes[0] >= 0 ? 0 : -1}};
}

// d erfinv(x) / dx = sqrt(pi) / 2 * exp(erfinv(x)^2);
// d -log(-log(u)) / du = -1 / (u log u) = exp(y) / u  with y = -log(-log(u)).
static array map_derivative(RandomMapOp op, const array& x, const array& y) {
  if (op == RandomMapOp::ErfInv)
    return multiply(astype(array(0.5 * std::sqrt(M_PI)), x.dtype()), exp(square(y)));
  return divide(exp(y), x);
}

Arrs RandomMap::vjp(const Arrs& primals, const Arrs& cotangents, const std::vector<int>&, const Arrs& outputs) {
  return {multiply(cotangents[0], map_derivative(op_, primals[0], outputs[0]))};
}

Arrs RandomMap::jvp(const Arrs& primals, const Arrs& tangents, const std::vector<int>&) {
  array y = array(primals[0].shape(), primals[0].dtype(), std::make_shared<RandomMap>(stream(), op_), {primals[0]});
  return {multiply(tangents[0], map_derivative(op_, primals[0], y))};
}

VmapOut RandomMap::vmap(const Arrs& inputs, const std::vector<int>& axes) {
  const array& x = inputs[0];
  return {{array(x.shape(), x.dtype(), std::make_shared<RandomMap>(stream(), op_), {x})}, {axes[0]}};
}

}  // namespace mlx::core

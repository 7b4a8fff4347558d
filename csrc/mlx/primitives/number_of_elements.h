// NumberOfElements: a 0-d array holding the number of elements of the input along some axes,
// read from the input's shape when the node is evaluated (its data is never read). mean, var
// and std divide by it instead of a count fixed when the graph was built, so a shapeless
// compiled or exported function still divides by the right count when called on new shapes.
#pragma once
#include "mlx/primitives/primitives.h"

namespace mlx::core {

// Output (dtype `dtype_`, shape {}): d = prod(input.shape(ax) for ax in axes_) - ddof_;
// `inverted_` gives 1 / d instead: +inf where d <= 0, but NaN
// where d == 0 because the axes are empty and ddof_ == 0. `axes_` are non-negative.
class NumberOfElements : public Primitive {
 public:
  NumberOfElements(Stream s, std::vector<int> axes, bool inverted, int ddof, Dtype dtype)
      : Primitive(s), axes_(std::move(axes)), inverted_(inverted), ddof_(ddof), dtype_(dtype) {}
  MLX_PRIM_COMMON("NumberOfElements")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  // The value for an input of shape `sh`, in double.
  double value(const Shape& sh) const;
  std::vector<int> axes_;
  bool inverted_;
  int ddof_;
  Dtype dtype_;
};

// The lazy count (or its inverse) of `a` along `axes` (normalized here), as a 0-d `dtype` array.
array number_of_elements(const array& a, std::vector<int> axes, bool inverted, int ddof, Dtype dtype,
                         StreamOrDevice s = {});

}  // namespace mlx::core

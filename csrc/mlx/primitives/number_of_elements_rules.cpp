// The NumberOfElements op and its vjp / jvp / vmap rules.
#include <algorithm>
#include <cmath>

#include "mlx/ops.h"
#include "mlx/primitives/number_of_elements.h"

namespace mlx::core {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

array number_of_elements(const array& a, std::vector<int> axes, bool inverted, int ddof, Dtype dtype,
                         StreamOrDevice s) {
  axes = normalize_axes(axes, static_cast<int>(a.ndim()), "number_of_elements");
  std::sort(axes.begin(), axes.end());
  return array(Shape{}, dtype, std::make_shared<NumberOfElements>(to_stream(s), std::move(axes), inverted, ddof, dtype),
               {a});
}

bool NumberOfElements::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const NumberOfElements*>(&o);
  return p && p->axes_ == axes_ && p->inverted_ == inverted_ && p->ddof_ == ddof_ && p->dtype_ == dtype_;
}

double NumberOfElements::value(const Shape& sh) const {
  double n = 1;
  for (int ax : axes_) n *= sh[ax];
  double d = n - ddof_;
  if (!inverted_) return d;
  // Over an empty axis a mean multiplies 0 by NaN (a positive NaN; 0 * inf would give -nan).
  if (d <= 0) return n == 0 && ddof_ == 0 ? NAN : INFINITY;
  return 1.0 / d;
}

// The count does not change with the input's values.
std::vector<array> NumberOfElements::vjp(const Arrs& p, const Arrs&, const std::vector<int>& argnums, const Arrs&) {
  std::vector<array> r;
  for (int i : argnums) r.push_back(zeros_like(p[i], stream()));
  return r;
}

std::vector<array> NumberOfElements::jvp(const Arrs&, const Arrs&, const std::vector<int>&) {
  return {zeros({}, dtype_, stream())};
}

// The count along the non-batch axes; the 0-d result is broadcast along the batch (the rules of
// the nodes that use it expect a batched input on the vmap tape).
VmapOut NumberOfElements::vmap(const Arrs& in, const std::vector<int>& ax) {
  int b = ax[0];
  std::vector<int> axes = axes_;
  if (b >= 0)
    for (int& a : axes) a += a >= b;
  array r(Shape{}, dtype_, std::make_shared<NumberOfElements>(stream(), axes, inverted_, ddof_, dtype_), {in[0]});
  if (b < 0) return {{r}, {-1}};
  return {{broadcast_to(r, {in[0].shape(b)}, stream())}, {0}};
}

}  // namespace mlx::core

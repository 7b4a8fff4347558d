// A C++ program embedding the library: builds lazy arrays, evaluates them, takes a
// gradient, and fits a tiny linear model with gradient descent.
#include <iostream>

#include "mlx/mlx.h"

using namespace mlx::core;

int main() {
  array a({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  array b = add(matmul(a, a), array(1.0f));
  b.eval();
  std::cout << "a @ a + 1 = [" << b.data<float>()[0] << ", " << b.data<float>()[1] << ", "
            << b.data<float>()[2] << ", " << b.data<float>()[3] << "]\n";

  // Fit y = 3x - 2 with gradient descent on mean squared error.
  array x = reshape(arange(0, 16, 1, float32), {16, 1});
  x = divide(x, array(16.0f));
  array y = subtract(multiply(x, array(3.0f)), array(2.0f));
  array w = zeros({1, 1});
  array c = zeros({1});
  auto loss_fn = [&](const std::vector<array>& p) -> std::vector<array> {
    array pred = add(matmul(x, p[0]), p[1]);
    array d = subtract(pred, y);
    return {mean(multiply(d, d), all_axes(d))};
  };
  float loss = 0;
  for (int step = 0; step < 500; ++step) {
    auto [out, grads] = vjp(loss_fn, {w, c}, {array(1.0f)});
    w = subtract(w, multiply(grads[0], array(0.5f)));
    c = subtract(c, multiply(grads[1], array(0.5f)));
    eval({w, c, out[0]});
    loss = out[0].item<float>();
  }
  std::cout << "w = " << w.item<float>() << ", b = " << c.item<float>() << ", loss = " << loss << "\n";
  bool ok = std::abs(w.item<float>() - 3.0f) < 0.05f && std::abs(c.item<float>() + 2.0f) < 0.05f;
  std::cout << (ok ? "fit ok" : "fit FAILED") << "\n";
  return ok ? 0 : 1;
}

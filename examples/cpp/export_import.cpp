// Function export from C++ and import of functions exported by Python.
//
//   export_import                     exports a C++ function (two traces), imports it back and
//                                     checks values and a gradient; prints "cpp round trip ok".
//   export_import FN.mlxfn DATA.txt   imports a function file written by Python (for example
//                                     with mx.export_function), calls it on the inputs in
//                                     DATA.txt and checks the expected outputs stored there;
//                                     prints "imported function ok".
//
// DATA.txt is plain text, all values float32:
//   <number of inputs>   then per input:  <ndim> <dims...> <values...>
//   <number of outputs>  then per output: <ndim> <dims...> <values...>
#include <cmath>
#include <fstream>
#include <iostream>

#include "mlx/mlx.h"

using namespace mlx::core;

namespace {

std::vector<array> read_arrays(std::istream& in) {
  int n = 0;
  in >> n;
  std::vector<array> out;
  for (int i = 0; i < n && in; ++i) {
    int nd = 0;
    in >> nd;
    Shape shape(nd);
    size_t size = 1;
    for (auto& d : shape) {
      in >> d;
      size *= d;
    }
    std::vector<float> v(size);
    for (auto& x : v) in >> x;
    out.push_back(array(v.begin(), shape, float32));
  }
  if (!in) throw std::runtime_error("malformed data file");
  return out;
}

bool close_to(array a, array b, float tol = 1e-4f) {
  if (a.shape() != b.shape()) return false;
  array d = max(abs(subtract(astype(a, float32), astype(b, float32))), all_axes(a));
  array m = max(abs(astype(b, float32)), all_axes(b));
  return d.item<float>() <= tol * std::max(1.0f, m.item<float>());
}

int import_python_file(const char* fn_path, const char* data_path) {
  std::ifstream data(data_path);
  if (!data) {
    std::cerr << "cannot open " << data_path << "\n";
    return 2;
  }
  auto inputs = read_arrays(data);
  auto expected = read_arrays(data);
  ImportedFunction f = import_function(fn_path);
  std::vector<array> outs = f(inputs);
  eval(outs);
  if (outs.size() != expected.size()) {
    std::cerr << "got " << outs.size() << " outputs, expected " << expected.size() << "\n";
    return 1;
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!close_to(outs[i], expected[i])) {
      std::cerr << "output " << i << " differs\n";
      return 1;
    }
  }
  // The imported graph is differentiable: d/dx sum(f(x)[0]) by vjp, against a finite difference.
  auto loss = [&](const std::vector<array>& xs) {
    std::vector<array> args = inputs;
    args[0] = xs[0];
    return std::vector<array>{sum(f(args)[0], all_axes(f(args)[0]))};
  };
  auto [o, g] = vjp(loss, {inputs[0]}, {array(1.0f)});
  array t = ones(inputs[0].shape());
  float eps = 1e-2f;
  float fd = (loss({add(inputs[0], multiply(t, array(eps)))})[0].item<float>() -
              loss({subtract(inputs[0], multiply(t, array(eps)))})[0].item<float>()) / (2 * eps);
  float an = sum(g[0], all_axes(g[0])).item<float>();
  if (std::abs(fd - an) > 2e-2f * std::max(1.0f, std::abs(fd))) {
    std::cerr << "gradient differs: finite difference " << fd << ", vjp " << an << "\n";
    return 1;
  }
  std::cout << "outputs: " << outs.size() << ", metadata: '" << f.metadata() << "'\n";
  std::cout << "imported function ok\n";
  return 0;
}

int cpp_round_trip() {
  array w({0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f}, {3, 2});
  KwargsFn fun = [w](const std::vector<array>& args, const Kwargs& kwargs) {
    array h = tanh(matmul(args[0], w));
    auto it = kwargs.find("scale");
    if (it != kwargs.end()) h = multiply(h, it->second);
    return std::vector<array>{h, sum(h, all_axes(h))};
  };
  const char* path = "cpp_round_trip.mlxfn";
  {
    FunctionExporter ex = exporter(path, fun, false, "{\"from\": \"c++\"}");
    ex({ones({4, 3})});
    ex({ones({2, 3})}, {{"scale", array(3.0f)}});
    ex.close();
  }
  ImportedFunction f = import_function(path);
  array x = reshape(divide(arange(0, 12, 1, float32), array(12.0f)), {4, 3});
  auto got = f({x});
  auto want = fun({x}, {});
  array x2 = slice(x, {0, 0}, {2, 3}, {1, 1});
  auto got2 = f({x2}, {{"scale", array(3.0f)}});
  auto want2 = fun({x2}, {{"scale", array(3.0f)}});
  bool ok = f.num_traces() == 2 && f.metadata() == "{\"from\": \"c++\"}" && close_to(got[0], want[0]) &&
            close_to(got[1], want[1]) && close_to(got2[0], want2[0]);
  // Gradients through the imported function equal those of the original.
  auto ga = vjp([&](const std::vector<array>& xs) { return std::vector<array>{f(xs)[1]}; }, {x}, {array(1.0f)});
  auto gb = vjp([&](const std::vector<array>& xs) { return std::vector<array>{fun(xs, {})[1]}; }, {x}, {array(1.0f)});
  ok = ok && close_to(ga.second[0], gb.second[0]);
  // Calling with a signature that was not exported is a ValueError.
  try {
    f({ones({5, 5})});
    ok = false;
  } catch (const ValueError&) {
  }
  std::remove(path);
  std::cout << (ok ? "cpp round trip ok" : "cpp round trip FAILED") << "\n";
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3) return import_python_file(argv[1], argv[2]);
    if (argc == 1) return cpp_round_trip();
    std::cerr << "usage: export_import [FN.mlxfn DATA.txt]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

// The fused elementwise kernel: runs a compiled program tile by tile so that
// intermediates stay in cache and every input is read once.
#include <cstring>

#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/compiled.h"

namespace mlx::core {

namespace {
constexpr size_t kTile = 16384;  // five float buffers of this size fit in L2

array wrap(void* p, Dtype t, size_t n, bool scalar) {
  auto data = std::make_shared<Data>(Buffer{p, n * size_of(t)}, [](Buffer) {});
  Flags f = scalar ? Flags{false, false, false} : Flags{true, true, true};
  return array(Shape{static_cast<int32_t>(n)}, t, std::move(data), Strides{scalar ? 0 : 1}, 0, f,
               scalar ? 1 : n);
}
}  // namespace

void Compiled::eval_cpu(const std::vector<array>& inputs_in, std::vector<array>& outputs) {
  auto& out = outputs[0];
  size_t n = out.size();
  std::vector<array> inputs;
  std::vector<bool> scalar;
  for (auto& in : inputs_in) {
    bool s = in.data_size() == 1 && in.size() > 0;
    if (!s && !(in.flags().row_contiguous && in.size() == n)) {
      inputs.push_back(cpu::ensure_row_contiguous(in));
    } else {
      inputs.push_back(in);
    }
    scalar.push_back(s);
  }
  cpu::alloc_out(out);
  if (n == 0) return;
  size_t tiles = (n + kTile - 1) / kTile;
  size_t isz = out.itemsize();
  char* dst = static_cast<char*>(out.raw_ptr());
  cpu::parallel_for(tiles, 4, [&](size_t t0, size_t t1) {
    std::vector<array> vals, keep;
    for (size_t t = t0; t < t1; ++t) {
      size_t b = t * kTile, len = std::min(kTile, n - b);
      vals.clear();
      keep.clear();
      for (auto& st : steps_) {
        std::vector<array> ops;
        for (int o : st.operands) {
          if (o < 0) {
            ops.push_back(vals[-1 - o]);
          } else {
            auto& in = inputs[o];
            char* p = static_cast<char*>(in.raw_ptr());
            ops.push_back(scalar[o] ? wrap(p, in.dtype(), len, true)
                                    : wrap(p + b * in.itemsize(), in.dtype(), len, false));
            keep.push_back(ops.back());  // a second reference: input memory is never donated
          }
        }
        std::vector<array> res{array(Shape{static_cast<int32_t>(len)}, st.dtype, nullptr, {})};
        st.prim->eval_cpu(ops, res);
        vals.push_back(res[0]);
      }
      array& last = vals.back();
      if (last.flags().row_contiguous) {
        std::memcpy(dst + b * isz, last.raw_ptr(), len * isz);
      } else {
        array dview = wrap(dst + b * isz, out.dtype(), len, false);
        cpu::copy_strided(last, dview, last.shape(), Strides{1}, 0);
      }
    }
  });
}

}  // namespace mlx::core

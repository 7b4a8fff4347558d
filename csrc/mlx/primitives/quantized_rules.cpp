// vjp / jvp / vmap rules of the quantization primitives.
#include <stdexcept>

#include "mlx/ops.h"
#include "mlx/ops/quantized.h"
#include "mlx/ops/sort_scan.h"
#include "mlx/primitives/quantized.h"

namespace mlx::core {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

bool Quantize::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Quantize*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_ && p->mode_ == mode_;
}
bool Dequantize::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Dequantize*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_ && p->mode_ == mode_;
}
bool QuantizedMatmul::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizedMatmul*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_ && p->mode_ == mode_ &&
         p->transpose_ == transpose_;
}
bool FromFP8::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const FromFP8*>(&o);
  return p && p->dtype_ == dtype_;
}
bool GatherQMM::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const GatherQMM*>(&o);
  return p && p->group_size_ == group_size_ && p->bits_ == bits_ && p->mode_ == mode_ &&
         p->transpose_ == transpose_ && p->sorted_ == sorted_;
}

namespace {

[[noreturn]] void no_weight_grad(const char* prim) {
  throw std::runtime_error(msg("[", prim, "] there is no gradient with respect to the quantized weights; "
                               "got a gradient request for the packed uint32 matrix."));
}

// The integer codes of an affine-quantized matrix as values of dtype t (unit scales, zero biases).
array affine_codes(const array& w, const array& scales, int group_size, int bits, Stream s) {
  Shape os = w.shape();
  os.back() = scales.shape(-1) * group_size;
  return array(os, scales.dtype(), std::make_shared<Dequantize>(s, group_size, bits, QuantizationMode::Affine),
               {w, ones_like(scales), zeros_like(scales)});
}

// Sum over each group of the last axis: (..., G * g) -> (..., G).
array group_sum(const array& a, int group_size) {
  Shape sh = a.shape();
  int cols = sh.back();
  sh.back() = cols / group_size;
  sh.push_back(group_size);
  return sum(reshape(a, sh), {-1});
}

// Gradients wrt scales and biases from dW, the gradient wrt the dequantized matrix.
void scale_bias_grads(const array& dW, const array& w, const array& scales, int gs, int bits, Stream s,
                      const std::vector<int>& argnums, Arrs& res, size_t pos_of_scales, size_t pos_of_biases) {
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (static_cast<size_t>(argnums[k]) == pos_of_scales)
      res[k] = astype(group_sum(multiply(dW, affine_codes(w, scales, gs, bits, s)), gs), scales.dtype());
    else if (static_cast<size_t>(argnums[k]) == pos_of_biases)
      res[k] = astype(group_sum(dW, gs), scales.dtype());
  }
}

bool batch_front(array& x, int ax) {
  if (ax < 0) return false;
  if (ax != 0) x = moveaxis(x, ax, 0);
  return true;
}

Shape with_front(const array& a, int B) {
  Shape sh = a.shape();
  sh.insert(sh.begin(), B);
  return sh;
}

int batch_size(const Arrs& in, const std::vector<int>& axes) {
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) return in[i].shape(axes[i]);
  return 1;
}

}  // namespace

// ---------------- Quantize ----------------
Arrs Quantize::vjp(const Arrs& p, const Arrs&, const std::vector<int>& argnums, const Arrs&) {
  Arrs r;
  for (int a : argnums) r.push_back(zeros_like(p[a]));
  return r;
}
Arrs Quantize::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) {
  Shape qs = p[0].shape(), ss = p[0].shape();
  qs.back() = static_cast<int>(int64_t(qs.back()) * bits_ / 32);
  ss.back() = ss.back() / group_size_;
  if (mode_ == QuantizationMode::Affine) return {zeros(qs, uint32), zeros(ss, p[0].dtype()), zeros(ss, p[0].dtype())};
  return {zeros(qs, uint32), zeros(ss, uint8)};
}
VmapOut Quantize::vmap(const Arrs& in, const std::vector<int>& axes) {
  if (in.size() > 1 && axes[1] >= 0) return Primitive::vmap(in, axes);
  array w = in[0];
  batch_front(w, axes[0]);
  auto outs = quantize(w, group_size_, bits_, quantization_mode_to_string(mode_),
                       in.size() > 1 ? std::optional<array>(in[1]) : std::nullopt, stream());
  return {outs, std::vector<int>(outs.size(), 0)};
}

// ---------------- Dequantize ----------------
Arrs Dequantize::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs& outs) {
  Arrs res(argnums.size());
  for (size_t k = 0; k < argnums.size(); ++k) {
    int a = argnums[k];
    if (a == 0) no_weight_grad("dequantize");
    if (mode_ != QuantizationMode::Affine && a == 2) {
      // out = v * scale * gs / 2688: d out / d gs = out / gs.
      array prod = multiply(ct[0], outs[0]);
      res[k] = reshape(divide(sum(prod, all_axes(prod)), p[2]), p[2].shape());
    }
  }
  if (mode_ == QuantizationMode::Affine)
    scale_bias_grads(ct[0], p[0], p[1], group_size_, bits_, stream(), argnums, res, 1, 2);
  for (size_t k = 0; k < argnums.size(); ++k)
    if (!res[k].is_valid()) res[k] = zeros_like(p[argnums[k]]);
  return res;
}
Arrs Dequantize::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  if (mode_ == QuantizationMode::Affine) {
    array ts = zeros_like(p[1]), tb = zeros_like(p[2]);
    for (size_t k = 0; k < argnums.size(); ++k) {
      if (argnums[k] == 1) ts = t[k];
      if (argnums[k] == 2) tb = t[k];
    }
    Shape os = p[0].shape();
    os.back() = p[1].shape(-1) * group_size_;
    return {array(os, p[1].dtype(), std::make_shared<Dequantize>(stream(), group_size_, bits_, mode_),
                  {p[0], astype(ts, p[1].dtype()), astype(tb, p[1].dtype())})};
  }
  Shape os = p[0].shape();
  os.back() = static_cast<int>(int64_t(os.back()) * 32 / bits_);
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 2) {
      array out(os, float32, std::make_shared<Dequantize>(stream(), group_size_, bits_, mode_), p);
      return {multiply(out, divide(t[k], p[2]))};
    }
  }
  return {zeros(os, float32)};
}
VmapOut Dequantize::vmap(const Arrs& in, const std::vector<int>& axes) {
  int B = batch_size(in, axes);
  Arrs vin;
  for (size_t i = 0; i < in.size(); ++i) {
    array x = in[i];
    if (i == 3 || (mode_ != QuantizationMode::Affine && i == 2)) {
      if (axes[i] >= 0) return Primitive::vmap(in, axes);  // batched global scale: loop
      vin.push_back(x);
      continue;
    }
    if (!batch_front(x, axes[i])) x = broadcast_to(expand_dims(x, {0}), with_front(x, B));
    vin.push_back(x);
  }
  Shape os = vin[0].shape();
  os.back() = static_cast<int>(int64_t(os.back()) * 32 / bits_);
  Dtype t = mode_ == QuantizationMode::Affine ? vin[1].dtype() : float32;
  return {{array(os, t, std::make_shared<Dequantize>(stream(), group_size_, bits_, mode_), vin)}, {0}};
}

// ---------------- QuantizedMatmul ----------------
Arrs QuantizedMatmul::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  std::string mode = quantization_mode_to_string(mode_);
  std::optional<array> b = p.size() > 3 ? std::optional<array>(p[3]) : std::nullopt;
  Arrs res(argnums.size());
  bool need_dw = false;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int a = argnums[k];
    if (a == 0) {
      res[k] = quantized_matmul(ct[0], p[1], p[2], b, !transpose_, group_size_, bits_, mode, stream());
    } else if (a == 1) {
      no_weight_grad("QuantizedMatmul");
    } else {
      need_dw = true;
    }
  }
  if (need_dw && mode_ == QuantizationMode::Affine) {
    // Gradient wrt the dequantized matrix, in its (rows, cols) layout.
    array dW = transpose_ ? matmul(swapaxes(ct[0], -1, -2), p[0]) : matmul(swapaxes(p[0], -1, -2), ct[0]);
    scale_bias_grads(dW, p[1], p[2], group_size_, bits_, stream(), argnums, res, 2, 3);
  }
  for (size_t k = 0; k < argnums.size(); ++k)
    if (!res[k].is_valid()) res[k] = zeros_like(p[argnums[k]]);
  return res;
}
Arrs QuantizedMatmul::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  std::string mode = quantization_mode_to_string(mode_);
  std::optional<array> b = p.size() > 3 ? std::optional<array>(p[3]) : std::nullopt;
  array acc;
  auto accum = [&](const array& r) { acc = acc.is_valid() ? add(acc, r) : r; };
  std::optional<array> ts, tb;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 0) accum(quantized_matmul(t[k], p[1], p[2], b, transpose_, group_size_, bits_, mode, stream()));
    else if (argnums[k] == 1) throw std::runtime_error("[QuantizedMatmul] there is no jvp with respect to the quantized weights; got a tangent for the packed uint32 matrix.");
    else if (argnums[k] == 2) ts = astype(t[k], p[2].dtype());
    else if (argnums[k] == 3) tb = astype(t[k], p[3].dtype());
  }
  if (mode_ == QuantizationMode::Affine && (ts || tb)) {
    // The dequantized matrix is linear in (scales, biases).
    accum(quantized_matmul(p[0], p[1], ts ? *ts : zeros_like(p[2]), tb ? *tb : zeros_like(p[3]), transpose_,
                           group_size_, bits_, mode, stream()));
  }
  if (!acc.is_valid()) {
    Shape os = p[0].shape();
    os.back() = transpose_ ? p[1].shape(-2) : static_cast<int>(int64_t(p[1].shape(-1)) * 32 / bits_);
    acc = zeros(os, p[0].dtype());
  }
  return {acc};
}
VmapOut QuantizedMatmul::vmap(const Arrs& in, const std::vector<int>& axes) {
  int B = batch_size(in, axes);
  bool wb = false;
  for (size_t i = 1; i < in.size(); ++i) wb |= axes[i] >= 0;
  Arrs v = in;
  if (!wb) {
    // Only x is mapped: its batch axis becomes one more leading dim of x.
    batch_front(v[0], axes[0]);
  } else {
    if (!batch_front(v[0], axes[0])) v[0] = expand_dims(v[0], {0});
    for (size_t i = 1; i < v.size(); ++i)
      if (!batch_front(v[i], axes[i])) v[i] = broadcast_to(expand_dims(v[i], {0}), with_front(v[i], B));
  }
  std::optional<array> b = v.size() > 3 ? std::optional<array>(v[3]) : std::nullopt;
  return {{quantized_matmul(v[0], v[1], v[2], b, transpose_, group_size_, bits_, quantization_mode_to_string(mode_),
                            stream())},
          {0}};
}

// ---------------- GatherQMM ----------------
Arrs GatherQMM::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  std::string mode = quantization_mode_to_string(mode_);
  bool has_b = p.size() == 6;
  std::optional<array> b = has_b ? std::optional<array>(p[3]) : std::nullopt;
  const array& li = p[has_b ? 4 : 3];
  const array& ri = p[has_b ? 5 : 4];
  const array& x = p[0];
  int B = ct[0].shape(0);
  Arrs res(argnums.size());
  bool need_dw = false;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int a = argnums[k];
    if (a == 0) {
      array items = arange(0, B, 1, uint32);
      array gx = gather_qmm(ct[0], p[1], p[2], b, items, ri, !transpose_, group_size_, bits_, mode, std::nullopt,
                            false, stream());
      res[k] = scatter(zeros_like(x), li, gx, 0, ScatterMode::Add);
    } else if (a == 1) {
      no_weight_grad("GatherQMM");
    } else if (a == 2 || (has_b && a == 3)) {
      need_dw = true;
    }
  }
  if (need_dw && mode_ == QuantizationMode::Affine) {
    array xs = take(x, li, 0);  // (B, M, K)
    array dWi = transpose_ ? matmul(swapaxes(ct[0], -1, -2), xs) : matmul(swapaxes(xs, -1, -2), ct[0]);
    Shape ws = p[1].shape();
    ws.back() = p[2].shape(-1) * group_size_;
    array dW = scatter(zeros(ws, dWi.dtype()), ri, dWi, 0, ScatterMode::Add);
    scale_bias_grads(dW, p[1], p[2], group_size_, bits_, stream(), argnums, res, 2, 3);
  }
  for (size_t k = 0; k < argnums.size(); ++k)
    if (!res[k].is_valid()) res[k] = zeros_like(p[argnums[k]]);
  return res;
}
Arrs GatherQMM::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  std::string mode = quantization_mode_to_string(mode_);
  bool has_b = p.size() == 6;
  std::optional<array> b = has_b ? std::optional<array>(p[3]) : std::nullopt;
  const array& li = p[has_b ? 4 : 3];
  const array& ri = p[has_b ? 5 : 4];
  array acc;
  auto accum = [&](const array& r) { acc = acc.is_valid() ? add(acc, r) : r; };
  std::optional<array> ts, tb;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int a = argnums[k];
    if (a == 0) accum(gather_qmm(t[k], p[1], p[2], b, li, ri, transpose_, group_size_, bits_, mode, std::nullopt,
                                 sorted_, stream()));
    else if (a == 1) throw std::runtime_error("[GatherQMM] there is no jvp with respect to the quantized weights; got a tangent for the packed uint32 matrix.");
    else if (a == 2) ts = astype(t[k], p[2].dtype());
    else if (has_b && a == 3) tb = astype(t[k], p[3].dtype());
  }
  if (has_b && (ts || tb))
    accum(gather_qmm(p[0], p[1], ts ? *ts : zeros_like(p[2]), tb ? *tb : zeros_like(p[3]), li, ri, transpose_,
                     group_size_, bits_, mode, std::nullopt, sorted_, stream()));
  if (!acc.is_valid()) {
    int N = transpose_ ? p[1].shape(-2) : static_cast<int>(int64_t(p[1].shape(-1)) * 32 / bits_);
    acc = zeros({li.shape(0), p[0].shape(-2), N}, p[0].dtype());
  }
  return {acc};
}
VmapOut GatherQMM::vmap(const Arrs& in, const std::vector<int>& axes) { return Primitive::vmap(in, axes); }

// ---------------- fp8 casts ----------------
Arrs ToFP8::vjp(const Arrs& p, const Arrs&, const std::vector<int>& argnums, const Arrs&) {
  Arrs r;
  for (int a : argnums) r.push_back(zeros_like(p[a]));
  return r;
}
Arrs ToFP8::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) { return {zeros(p[0].shape(), uint8)}; }
VmapOut ToFP8::vmap(const Arrs& in, const std::vector<int>& axes) { return {{to_fp8(in[0], stream())}, {axes[0]}}; }

Arrs FromFP8::vjp(const Arrs& p, const Arrs&, const std::vector<int>& argnums, const Arrs&) {
  Arrs r;
  for (int a : argnums) r.push_back(zeros_like(p[a]));
  return r;
}
Arrs FromFP8::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) { return {zeros(p[0].shape(), dtype_)}; }
VmapOut FromFP8::vmap(const Arrs& in, const std::vector<int>& axes) {
  return {{from_fp8(in[0], dtype_, stream())}, {axes[0]}};
}

}  // namespace mlx::core

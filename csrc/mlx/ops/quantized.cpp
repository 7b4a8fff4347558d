// Ops of the quantization family: argument checks, dtype rules and graph nodes.
#include "mlx/ops/quantized.h"

#include "mlx/errors.h"
#include "mlx/ops/sort_scan.h"

namespace mlx::core {

QuantizationMode quantization_mode_from_string(const std::string& mode, const char* op) {
  if (mode == "affine") return QuantizationMode::Affine;
  if (mode == "mxfp4") return QuantizationMode::Mxfp4;
  if (mode == "mxfp8") return QuantizationMode::Mxfp8;
  if (mode == "nvfp4") return QuantizationMode::Nvfp4;
  throw ValueError(msg("[", op, "] the quantization mode must be 'affine', 'mxfp4', 'mxfp8' or 'nvfp4'; got '",
                       mode, "'."));
}

std::string quantization_mode_to_string(QuantizationMode mode) {
  switch (mode) {
    case QuantizationMode::Affine: return "affine";
    case QuantizationMode::Mxfp4: return "mxfp4";
    case QuantizationMode::Mxfp8: return "mxfp8";
    default: return "nvfp4";
  }
}

std::pair<int, int> quantization_defaults(QuantizationMode mode) {
  switch (mode) {
    case QuantizationMode::Affine: return {64, 4};
    case QuantizationMode::Mxfp4: return {32, 4};
    case QuantizationMode::Mxfp8: return {32, 8};
    default: return {16, 4};
  }
}

namespace {

struct QParams {
  QuantizationMode mode;
  int group_size, bits;
};

// Resolves defaults and checks that (group_size, bits) are supported by the mode.
QParams resolve(const std::string& mode_str, std::optional<int> group_size, std::optional<int> bits, const char* op) {
  QuantizationMode mode = quantization_mode_from_string(mode_str, op);
  auto [dg, db] = quantization_defaults(mode);
  int g = group_size.value_or(dg), b = bits.value_or(db);
  if (mode == QuantizationMode::Affine) {
    if (g != 32 && g != 64 && g != 128)
      throw ValueError(msg("[", op, "] the group size must be 32, 64 or 128 for affine quantization; got ", g, "."));
    if (b < 1 || b > 8 || b == 7)
      throw ValueError(msg("[", op, "] the number of bits must be 1, 2, 3, 4, 5, 6 or 8 for affine quantization; got ",
                           b, "."));
  } else {
    if (g != dg)
      throw ValueError(msg("[", op, "] ", quantization_mode_to_string(mode), " quantization requires group size ",
                           dg, "; got ", g, "."));
    if (b != db)
      throw ValueError(msg("[", op, "] ", quantization_mode_to_string(mode), " quantization requires bits to be ",
                           db, "; got ", b, "."));
  }
  return {mode, g, b};
}

void check_global_scale(const std::optional<array>& gs, QuantizationMode mode, const char* op, const char* what) {
  if (!gs) return;
  if (mode != QuantizationMode::Nvfp4)
    throw ValueError(msg("[", op, "] ", what, " is only supported for 'nvfp4' quantization; got mode '",
                         quantization_mode_to_string(mode), "'."));
  if (gs->ndim() != 0 && gs->size() != 1)
    throw ValueError(msg("[", op, "] ", what, " must be a scalar; got shape ", gs->shape(), "."));
  if (gs->dtype() != float32)
    throw ValueError(msg("[", op, "] ", what, " must have dtype float32; got ", gs->dtype(), "."));
}

Shape leading(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 1); }
Shape batch_dims(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }

// Checks w/scales/biases of a quantized matrix; returns the number of logical columns.
int check_quantized(const array& w, const array& scales, const std::optional<array>& biases, const QParams& p,
                    const char* op, int min_ndim) {
  if (w.dtype() != uint32)
    throw ValueError(msg("[", op, "] the quantized matrix must have dtype uint32; got ", w.dtype(), "."));
  if (static_cast<int>(w.ndim()) < min_ndim)
    throw ValueError(msg("[", op, "] the quantized matrix must have at least ", min_ndim, " dimensions; got shape ",
                         w.shape(), "."));
  if (p.mode == QuantizationMode::Affine) {
    if (!biases) throw ValueError(msg("[", op, "] biases must be provided for affine quantization; got None."));
    if (is_complex(scales.dtype()) || is_complex(biases->dtype()))
      throw ValueError(msg("[", op, "] scales and biases must be real; got ", scales.dtype(), " and ",
                           biases->dtype(), "."));
    if (biases->shape() != scales.shape())
      throw ValueError(msg("[", op, "] scales and biases must have the same shape; got scales.shape=",
                           scales.shape(), " and biases.shape=", biases->shape(), "."));
  } else {
    if (biases)
      throw ValueError(msg("[", op, "] biases must be None for '", quantization_mode_to_string(p.mode),
                           "' quantization; got an array of shape ", biases->shape(), "."));
    if (scales.dtype() != uint8)
      throw ValueError(msg("[", op, "] the scales of '", quantization_mode_to_string(p.mode),
                           "' quantization must have dtype uint8; got ", scales.dtype(), "."));
  }
  if (scales.ndim() != w.ndim() || leading(scales) != leading(w))
    throw ValueError(msg("[", op, "] the quantized matrix and its scales must agree in all but the last dimension; "
                         "got w.shape=", w.shape(), " and scales.shape=", scales.shape(), "."));
  int64_t cols = static_cast<int64_t>(w.shape(-1)) * 32 / p.bits;
  if ((static_cast<int64_t>(w.shape(-1)) * 32) % p.bits != 0 || cols != int64_t(scales.shape(-1)) * p.group_size)
    throw ValueError(msg("[", op, "] the shapes of the quantized matrix and its scales do not match group_size=",
                         p.group_size, " and bits=", p.bits, "; got w.shape=", w.shape(), " and scales.shape=",
                         scales.shape(), "."));
  return static_cast<int>(cols);
}

// Dtype of the values a quantized matrix stands for in a matmul with x.
Dtype qmm_dtype(const array& x, const array& scales, const std::optional<array>& biases, const QParams& p,
                const char* op) {
  if (p.mode == QuantizationMode::Affine) {
    if (is_complex(x.dtype()))
      throw ValueError(msg("[", op, "] only real floating point inputs are supported; got x.dtype=", x.dtype(), "."));
    Dtype t = promote_types(promote_types(x.dtype(), scales.dtype()), biases->dtype());
    return is_floating_point(t) ? t : float32;
  }
  if (!is_floating_point(x.dtype()))
    throw ValueError(msg("[", op, "] only real floating point inputs are supported; got x.dtype=", x.dtype(), "."));
  return x.dtype();
}

std::vector<array> qinputs(const array& w, const array& scales, const std::optional<array>& biases) {
  std::vector<array> in{w, scales};
  if (biases) in.push_back(*biases);
  return in;
}

array node_qmm(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
               const QParams& p, bool transpose, int N, SD s) {
  Shape os = x.shape();
  os.back() = N;
  std::vector<array> in{x, w, scales};
  if (biases) in.push_back(*biases);
  return array(os, x.dtype(), std::make_shared<QuantizedMatmul>(to_stream(s), p.group_size, p.bits, p.mode, transpose),
               in);
}

}  // namespace

// ---------------- quantize / dequantize ----------------
std::vector<array> quantize(const array& w, std::optional<int> group_size, std::optional<int> bits,
                            const std::string& mode, const std::optional<array>& global_scale, SD s) {
  QParams p = resolve(mode, group_size, bits, "quantize");
  if (!is_floating_point(w.dtype()))
    throw ValueError(msg("[quantize] only real floating point arrays can be quantized; got dtype ", w.dtype(), "."));
  if (w.ndim() < 2)
    throw ValueError(msg("[quantize] the array to quantize must have at least 2 dimensions; got shape ", w.shape(),
                         "."));
  if (w.shape(-1) % p.group_size != 0)
    throw ValueError(msg("[quantize] the last dimension must be divisible by the group size ", p.group_size,
                         "; got shape ", w.shape(), "."));
  check_global_scale(global_scale, p.mode, "quantize", "global_scale");
  std::vector<array> in{w};
  if (global_scale) in.push_back(reshape(*global_scale, {}, s));
  Shape qs = w.shape(), ss = w.shape();
  qs.back() = static_cast<int>(int64_t(w.shape(-1)) * p.bits / 32);
  ss.back() = w.shape(-1) / p.group_size;
  auto prim = std::make_shared<Quantize>(to_stream(s), p.group_size, p.bits, p.mode);
  if (p.mode == QuantizationMode::Affine)
    return array::make_arrays({qs, ss, ss}, {uint32, w.dtype(), w.dtype()}, prim, in);
  return array::make_arrays({qs, ss}, {uint32, uint8}, prim, in);
}

array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 const std::optional<array>& global_scale, std::optional<Dtype> dtype, SD s) {
  QParams p = resolve(mode, group_size, bits, "dequantize");
  int cols = check_quantized(w, scales, biases, p, "dequantize", 2);
  check_global_scale(global_scale, p.mode, "dequantize", "global_scale");
  if (dtype && !is_floating_point(*dtype))
    throw ValueError(msg("[dequantize] the output dtype must be a real floating point type; got ", *dtype, "."));
  Dtype compute = float32;
  if (p.mode == QuantizationMode::Affine) {
    Dtype t = promote_types(scales.dtype(), biases->dtype());
    compute = is_floating_point(t) ? t : float32;
  }
  Dtype out_t = dtype ? *dtype : (p.mode == QuantizationMode::Affine ? compute : bfloat16);
  std::vector<array> in{w};
  if (p.mode == QuantizationMode::Affine) {
    in.push_back(astype(scales, compute, s));
    in.push_back(astype(*biases, compute, s));
  } else {
    in.push_back(scales);
    if (global_scale) in.push_back(reshape(*global_scale, {}, s));
  }
  Shape os = w.shape();
  os.back() = cols;
  array out(os, compute, std::make_shared<Dequantize>(to_stream(s), p.group_size, p.bits, p.mode), in);
  return out_t == compute ? out : astype(out, out_t, s);
}

// ---------------- quantized_matmul ----------------
array quantized_matmul(const array& x_in, const array& w, const array& scales, const std::optional<array>& biases,
                       bool transpose, std::optional<int> group_size, std::optional<int> bits,
                       const std::string& mode, SD s) {
  const char* op = "quantized_matmul";
  QParams p = resolve(mode, group_size, bits, op);
  int cols = check_quantized(w, scales, biases, p, op, 2);
  Dtype t = qmm_dtype(x_in, scales, biases, p, op);
  if (x_in.ndim() == 0)
    throw ValueError(msg("[", op, "] x must have at least one dimension; got shape ", x_in.shape(), "."));
  int K = transpose ? cols : w.shape(-2);
  int N = transpose ? w.shape(-2) : cols;
  if (x_in.shape(-1) != K)
    throw ValueError(msg("[", op, "] the last dimension of x must match the ", transpose ? "columns" : "rows",
                         " of the dequantized matrix (", transpose ? N : K, ", ", transpose ? K : N,
                         ") (transpose=", transpose, "); got x.shape=", x_in.shape(), "."));
  std::optional<array> b;
  array sc = scales;
  if (p.mode == QuantizationMode::Affine) {
    sc = astype(scales, t, s);
    b = astype(*biases, t, s);
  }
  array x = astype(x_in, t, s);
  if (w.ndim() == 2) {
    // All of x's leading dims form the rows of one matrix product.
    Shape xs = x.shape();
    int rows = 1;
    for (size_t i = 0; i + 1 < xs.size(); ++i) rows *= xs[i];
    array x2 = reshape(x, {rows, K}, s);
    array out = node_qmm(x2, w, sc, b, p, transpose, N, s);
    xs.back() = N;
    return reshape(out, xs, s);
  }
  bool vec = x.ndim() == 1;
  if (vec) x = reshape(x, {1, K}, s);
  Shape bx = batch_dims(x), bw = batch_dims(w);
  Shape bo = broadcast_shapes(bx, bw, op);
  auto bcast = [&](const array& a, const Shape& bat) {
    Shape sh = bat;
    sh.push_back(a.shape(-2));
    sh.push_back(a.shape(-1));
    return a.shape() == sh ? a : broadcast_to(a, sh, s);
  };
  array out = node_qmm(bcast(x, bo), bcast(w, bo), bcast(sc, bo), b ? std::optional<array>(bcast(*b, bo)) : b, p,
                       transpose, N, s);
  if (vec) out = squeeze(out, {-2}, s);
  return out;
}

// ---------------- gather_qmm ----------------
array gather_qmm(const array& x_in, const array& w, const array& scales, const std::optional<array>& biases,
                 const std::optional<array>& lhs, const std::optional<array>& rhs, bool transpose,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 const std::optional<array>& global_scale, bool sorted_indices, SD s) {
  const char* op = "gather_qmm";
  QParams p = resolve(mode, group_size, bits, op);
  if (global_scale)
    throw ValueError(msg("[", op, "] global_scale is only supported on the GPU; got a global_scale on the CPU."));
  if (x_in.ndim() < 2)
    throw ValueError(msg("[", op, "] x must have at least two dimensions; got shape ", x_in.shape(), "."));
  int cols = check_quantized(w, scales, biases, p, op, 2);
  Dtype t = qmm_dtype(x_in, scales, biases, p, op);
  for (auto* idx : {&lhs, &rhs})
    if (*idx && !is_integral((*idx)->dtype()))
      throw ValueError(msg("[", op, "] indices must be integral; got indices of dtype ", (*idx)->dtype(), "."));
  int K = transpose ? cols : w.shape(-2);
  int N = transpose ? w.shape(-2) : cols;
  int M = x_in.shape(-2);
  if (x_in.shape(-1) != K)
    throw ValueError(msg("[", op, "] the last dimension of x must match the ", transpose ? "columns" : "rows",
                         " of the dequantized matrix (", transpose ? N : K, ", ", transpose ? K : N,
                         ") (transpose=", transpose, "); got x.shape=", x_in.shape(), "."));
  array x = astype(x_in, t, s);
  std::optional<array> b;
  array sc = scales;
  if (p.mode == QuantizationMode::Affine) {
    sc = astype(scales, t, s);
    b = astype(*biases, t, s);
  }
  Shape bx = batch_dims(x), bw = batch_dims(w);
  int64_t nx = shape_size(bx), nw = shape_size(bw);
  array li = lhs ? *lhs : reshape(arange(0, static_cast<double>(nx), 1, uint32, s), bx, s);
  array ri = rhs ? *rhs : reshape(arange(0, static_cast<double>(nw), 1, uint32, s), bw, s);
  Shape ob = broadcast_shapes(li.shape(), ri.shape(), op);
  int B = static_cast<int>(shape_size(ob));
  auto flat3 = [&](const array& a, int64_t n) {
    return reshape(a, {static_cast<int>(n), a.shape(-2), a.shape(-1)}, s);
  };
  std::vector<array> in{flat3(x, nx), flat3(w, nw), flat3(sc, nw)};
  if (b) in.push_back(flat3(*b, nw));
  in.push_back(reshape(astype(broadcast_to(li, ob, s), uint32, s), {B}, s));
  in.push_back(reshape(astype(broadcast_to(ri, ob, s), uint32, s), {B}, s));
  array out({B, M, N}, t,
            std::make_shared<GatherQMM>(to_stream(s), p.group_size, p.bits, p.mode, transpose, sorted_indices), in);
  Shape os = ob;
  os.push_back(M);
  os.push_back(N);
  return reshape(out, os, s);
}

// ---------------- qqmm / gather_qqmm ----------------
namespace {

// Quantize-then-dequantize along the last axis in float32, with an identity gradient.
array fake_quantize(const array& a, const QParams& p, const std::optional<array>& gs, SD s) {
  auto q = quantize(a, p.group_size, p.bits, quantization_mode_to_string(p.mode), gs, s);
  array dq = dequantize(q[0], q[1], std::nullopt, p.group_size, p.bits, quantization_mode_to_string(p.mode), gs,
                        float32, s);
  array af = astype(a, float32, s);
  // Value dq exactly (af - af == 0), derivative 1.
  return add(stop_gradient(dq, s), subtract(af, stop_gradient(af, s), s), s);
}

QParams qq_params(const std::string& mode, std::optional<int> group_size, std::optional<int> bits, const char* op) {
  QParams p = resolve(mode, group_size, bits, op);
  if (p.mode == QuantizationMode::Affine)
    throw ValueError(msg("[", op, "] only 'nvfp4', 'mxfp8' and 'mxfp4' quantization are supported; got mode 'affine'."));
  return p;
}

void qq_check_float(const array& a, const char* op, const char* what) {
  Dtype t = a.dtype();
  if (t != float32 && t != float16 && t != bfloat16)
    throw ValueError(msg("[", op, "] ", what, " must be float32, float16 or bfloat16; got ", t, "."));
}

// The float32 values of w (..., N, K): dequantized if given quantized, else fake-quantized.
array qq_weight(const array& w, const std::optional<array>& scales, const QParams& p,
                const std::optional<array>& gs_w, const char* op, int min_ndim, SD s) {
  if (w.dtype() == uint32) {
    if (!scales)
      throw ValueError(msg("[", op, "] scales must be provided when w is quantized (uint32); got None."));
    check_quantized(w, *scales, std::nullopt, p, op, min_ndim);
    check_global_scale(gs_w, p.mode, op, "global_scale_w");
    return dequantize(w, *scales, std::nullopt, p.group_size, p.bits, quantization_mode_to_string(p.mode), gs_w,
                      float32, s);
  }
  qq_check_float(w, op, "w");
  if (static_cast<int>(w.ndim()) < min_ndim)
    throw ValueError(msg("[", op, "] w must have at least ", min_ndim, " dimensions; got shape ", w.shape(), "."));
  if (scales)
    throw ValueError(msg("[", op, "] scales must be None when w is not quantized; got w of dtype ", w.dtype(), "."));
  if (w.shape(-1) % p.group_size != 0)
    throw ValueError(msg("[", op, "] the last dimension of w must be divisible by the group size ", p.group_size,
                         "; got w.shape=", w.shape(), "."));
  check_global_scale(gs_w, p.mode, op, "global_scale_w");
  return fake_quantize(w, p, gs_w, s);
}

array qq_input(const array& x, const QParams& p, const std::optional<array>& gs_x, int K, const char* op, SD s) {
  qq_check_float(x, op, "x");
  if (x.shape(-1) != K)
    throw ValueError(msg("[", op, "] the last dimension of x must match the last dimension of w (", K,
                         "); got x.shape=", x.shape(), "."));
  if (K % p.group_size != 0)
    throw ValueError(msg("[", op, "] the last dimension of x must be divisible by the group size ", p.group_size,
                         "; got x.shape=", x.shape(), "."));
  check_global_scale(gs_x, p.mode, op, "global_scale_x");
  // quantize needs 2-D input: quantize rows of the flattened leading dims.
  int rows = 1;
  for (size_t i = 0; i + 1 < x.ndim(); ++i) rows *= x.shape(i);
  array x2 = reshape(x, {rows, K}, s);
  return reshape(fake_quantize(x2, p, gs_x, s), x.shape(), s);
}

}  // namespace

array qqmm(const array& x, const array& w, const std::optional<array>& scales, std::optional<int> group_size,
           std::optional<int> bits, const std::string& mode, const std::optional<array>& gs_x,
           const std::optional<array>& gs_w, SD s) {
  const char* op = "qqmm";
  QParams p = qq_params(mode, group_size, bits, op);
  if (x.ndim() == 0) throw ValueError(msg("[", op, "] x must have at least one dimension; got shape ", x.shape(), "."));
  if (w.ndim() != 2)
    throw ValueError(msg("[", op, "] w must be 2-D; got w.shape=", w.shape(), "."));
  qq_check_float(x, op, "x");
  array wf = qq_weight(w, scales, p, gs_w, op, 2, s);
  array xf = qq_input(x, p, gs_x, wf.shape(-1), op, s);
  array out = matmul(xf, transpose(wf, s), s);
  return astype(out, x.dtype(), s);
}

array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales,
                  const std::optional<array>& lhs, const std::optional<array>& rhs, std::optional<int> group_size,
                  std::optional<int> bits, const std::string& mode, const std::optional<array>& gs_x,
                  const std::optional<array>& gs_w, bool sorted_indices, SD s) {
  const char* op = "gather_qqmm";
  QParams p = qq_params(mode, group_size, bits, op);
  if (x.ndim() < 2)
    throw ValueError(msg("[", op, "] x must have at least two dimensions; got shape ", x.shape(), "."));
  qq_check_float(x, op, "x");
  array wf = qq_weight(w, scales, p, gs_w, op, 2, s);
  array xf = qq_input(x, p, gs_x, wf.shape(-1), op, s);
  array out = gather_mm(xf, swapaxes(wf, -1, -2, s), lhs, rhs, sorted_indices, s);
  return astype(out, x.dtype(), s);
}

// ---------------- fp8 ----------------
array to_fp8(const array& x, SD s) {
  if (!is_floating_point(x.dtype()))
    throw ValueError(msg("[to_fp8] only real floating point inputs are supported; got dtype ", x.dtype(), "."));
  return array(x.shape(), uint8, std::make_shared<ToFP8>(to_stream(s)), {x});
}

array from_fp8(const array& x, Dtype dtype, SD s) {
  if (x.dtype() != uint8)
    throw ValueError(msg("[from_fp8] the input must have dtype uint8; got ", x.dtype(), "."));
  if (!is_floating_point(dtype))
    throw ValueError(msg("[from_fp8] the output dtype must be a real floating point type; got ", dtype, "."));
  return array(x.shape(), dtype, std::make_shared<FromFP8>(to_stream(s), dtype), {x});
}

}  // namespace mlx::core

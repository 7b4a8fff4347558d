// Bindings of the quantization family: quantize, dequantize, quantized_matmul, gather_qmm,
// qqmm, gather_qqmm, to_fp8, from_fp8.
#include "convert.h"
#include "mlx/ops/quantized.h"

using namespace nb::literals;

namespace {

std::optional<array> opt_arr(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return to_array(h);
}

}  // namespace

void init_quantized(nb::module_& m) {
  auto kw = nb::kw_only();
  auto st = "stream"_a = nb::none();

  m.def(
      "quantize",
      [](nb::handle w, std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
         nb::handle global_scale, StreamArg s) {
        auto outs = quantize(to_array(w), group_size, bits, mode, opt_arr(global_scale), sd(s));
        nb::list l;
        for (auto& o : outs) l.append(o);
        return l;
      },
      "w"_a, "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "affine", kw,
      "global_scale"_a = nb::none(), st,
      R"(Quantize the array ``w`` along its last axis, ``group_size`` elements at a time.

Modes (group sizes / bits, defaults marked *): ``"affine"`` (32, 64*, 128 / 1, 2, 3, 4*,
5, 6, 8; scale and bias per group in w's dtype), ``"mxfp4"`` (32 / 4, e8m0 scales),
``"mxfp8"`` (32 / 8, e8m0 scales), ``"nvfp4"`` (16 / 4, e4m3 scales; optional float32
``global_scale``). Affine codes are ``round((w - bias) / scale)`` with 0 exactly
representable; codes are packed in uint32 from the least significant bits up.

Returns:
  list: ``[w_q, scales, biases]`` for ``"affine"``, ``[w_q, scales]`` otherwise.)");

  m.def(
      "dequantize",
      [](nb::handle w, nb::handle scales, nb::handle biases, std::optional<int> group_size,
         std::optional<int> bits, const std::string& mode, nb::handle global_scale, std::optional<Dtype> dtype,
         StreamArg s) {
        return dequantize(to_array(w), to_array(scales), opt_arr(biases), group_size, bits, mode,
                          opt_arr(global_scale), dtype, sd(s));
      },
      "w"_a, "scales"_a, "biases"_a = nb::none(), "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "affine", "global_scale"_a = nb::none(), "dtype"_a = nb::none(), kw, st,
      R"(Dequantize ``w`` with its ``scales`` (and ``biases`` for affine: ``w = scale * q + bias``).

The output dtype defaults to the scales' dtype for ``"affine"`` and ``bfloat16`` otherwise.)");

  m.def(
      "quantized_matmul",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle biases, bool transpose,
         std::optional<int> group_size, std::optional<int> bits, const std::string& mode, StreamArg s) {
        return quantized_matmul(to_array(x), to_array(w), to_array(scales), opt_arr(biases), transpose, group_size,
                                bits, mode, sd(s));
      },
      "x"_a, "w"_a, "scales"_a, "biases"_a = nb::none(), "transpose"_a = true, "group_size"_a = nb::none(),
      "bits"_a = nb::none(), "mode"_a = "affine", kw, st,
      R"(Matrix product with a quantized matrix: ``x @ w.T`` (transpose=True) or ``x @ w``.

The matrix is dequantized tile by tile inside the kernel; it is never materialized.)");

  m.def(
      "gather_qmm",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle biases, nb::handle lhs, nb::handle rhs,
         bool transpose, std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
         nb::handle global_scale, bool sorted_indices, StreamArg s) {
        return gather_qmm(to_array(x), to_array(w), to_array(scales), opt_arr(biases), opt_arr(lhs), opt_arr(rhs),
                          transpose, group_size, bits, mode, opt_arr(global_scale), sorted_indices, sd(s));
      },
      "x"_a, "w"_a, "scales"_a, "biases"_a = nb::none(), "lhs_indices"_a = nb::none(),
      "rhs_indices"_a = nb::none(), "transpose"_a = true, "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "affine", "global_scale"_a = nb::none(), kw, "sorted_indices"_a = false, st,
      R"(Quantized matrix product with matrix-level gather (the quantized :func:`gather_mm`).

``lhs_indices`` and ``rhs_indices`` index the flattened batch dimensions of ``x`` and
``w`` (whose scales and biases share its batch dimensions).)");

  m.def(
      "qqmm",
      [](nb::handle x, nb::handle w, nb::handle scales, std::optional<int> group_size, std::optional<int> bits,
         const std::string& mode, nb::handle gx, nb::handle gw, StreamArg s) {
        return qqmm(to_array(x), to_array(w), opt_arr(scales), group_size, bits, mode, opt_arr(gx), opt_arr(gw),
                    sd(s));
      },
      "x"_a, "w"_a, "scales"_a = nb::none(), "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "nvfp4", "global_scale_x"_a = nb::none(), "global_scale_w"_a = nb::none(), kw, st,
      R"(``x @ w.T`` with ``x`` quantized on the fly and ``w`` quantized on the fly unless it is
given quantized (uint32 with ``scales``). Modes ``"nvfp4"`` (default), ``"mxfp8"``, ``"mxfp4"``.

Gradients pass straight through the quantization of ``x`` and of a non-quantized ``w``.)");

  m.def(
      "gather_qqmm",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle lhs, nb::handle rhs,
         std::optional<int> group_size, std::optional<int> bits, const std::string& mode, nb::handle gx,
         nb::handle gw, bool sorted_indices, StreamArg s) {
        return gather_qqmm(to_array(x), to_array(w), opt_arr(scales), opt_arr(lhs), opt_arr(rhs), group_size, bits,
                           mode, opt_arr(gx), opt_arr(gw), sorted_indices, sd(s));
      },
      "x"_a, "w"_a, "scales"_a = nb::none(), "lhs_indices"_a = nb::none(), "rhs_indices"_a = nb::none(),
      "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "nvfp4", "global_scale_x"_a = nb::none(),
      "global_scale_w"_a = nb::none(), kw, "sorted_indices"_a = false, st,
      "Fused :func:`qqmm` with matrix-level gather (as :func:`gather_mm`).");

  m.def(
      "to_fp8", [](nb::handle x, StreamArg s) { return to_fp8(to_array(x), sd(s)); }, "x"_a, kw, st,
      "Convert to fp8 (e4m3) codes of type uint8 (round to nearest even, saturating at 448).");
  m.def(
      "from_fp8", [](nb::handle x, Dtype dtype, StreamArg s) { return from_fp8(to_array(x), dtype, sd(s)); }, "x"_a,
      "dtype"_a = bfloat16, kw, st, "Convert fp8 (e4m3) codes of type uint8 to a floating point dtype.");
}

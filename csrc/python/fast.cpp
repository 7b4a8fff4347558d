// Bindings of mlx.core.fast: fused norms, rotary embedding, attention, and the custom
// kernel entry points of the GPU back-ends (absent in this CPU-only build).
#include <cctype>

#include <nanobind/stl/function.h>

#include "convert.h"
#include "mlx/ops/fast.h"
#include "mlx/primitives/custom_kernel.h"

using namespace nb::literals;

namespace {

std::optional<array> opt_array(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return to_array(h);
}

[[noreturn]] void no_backend(const char* op, const char* backend, const std::string& name) {
  throw std::runtime_error(msg("[", op, "] No ", backend, " back-end: this build of mlx has only the CPU back-end; got a request for kernel '", name, "'."));
}

}  // namespace

void init_fast(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("fast", "Fused implementations of common operations.");
  auto st = "stream"_a = nb::none();

  m.def(
      "rms_norm",
      [](const array& x, nb::handle weight, float eps, StreamArg s) {
        return fast::rms_norm(x, opt_array(weight), eps, sd(s));
      },
      "x"_a, "weight"_a.none(), "eps"_a, nb::kw_only(), st,
      R"(Root Mean Square normalization over the last axis of ``x``.

Computes ``x / sqrt(mean(x**2, -1) + eps) * weight`` with float32 accumulation for
half types.

Args:
    x (array): Input array.
    weight (array, optional): One-dimensional multiplicative weight of size
      ``x.shape[-1]``; ``None`` for no scaling.
    eps (float): A small additive constant for numerical stability.

Returns:
    array: The normalized array.)");

  m.def(
      "layer_norm",
      [](const array& x, nb::handle weight, nb::handle bias, float eps, StreamArg s) {
        return fast::layer_norm(x, opt_array(weight), opt_array(bias), eps, sd(s));
      },
      "x"_a, "weight"_a.none(), "bias"_a.none(), "eps"_a, nb::kw_only(), st,
      R"(Layer normalization over the last axis of ``x``.

Computes ``(x - mean) / sqrt(var + eps) * weight + bias``.

Args:
    x (array): Input array.
    weight (array, optional): One-dimensional multiplicative weight of size
      ``x.shape[-1]``; ``None`` for no scaling.
    bias (array, optional): One-dimensional additive offset of size
      ``x.shape[-1]``; ``None`` for no offset.
    eps (float): A small additive constant for numerical stability.

Returns:
    array: The normalized array.)");

  m.def(
      "rope",
      [](const array& a, int dims, bool traditional, std::optional<float> base, float scale, nb::handle offset,
         nb::handle freqs, StreamArg s) {
        std::optional<array> f = opt_array(freqs);
        if (nb::isinstance<array>(offset))
          return fast::rope(a, dims, traditional, base, scale, nb::cast<array>(offset), f, sd(s));
        if (nb::isinstance<nb::bool_>(offset) || !nb::isinstance<nb::int_>(offset))
          throw ValueError(msg("[rope] offset must be an integer or an integer array; got ",
                               nb::cast<std::string>(nb::str(nb::type_name(offset.type()))), "."));
        return fast::rope(a, dims, traditional, base, scale, nb::cast<int>(offset), f, sd(s));
      },
      "a"_a, "dims"_a, nb::kw_only(), "traditional"_a, "base"_a.none(), "scale"_a, "offset"_a,
      "freqs"_a = nb::none(), st,
      R"(Rotary positional encoding of the first ``dims`` features of ``a``.

The input has shape ``(B, *, T, D)``; position ``offset + t`` (``offset[b] + t`` for a
vector offset) scaled by ``scale`` rotates feature pairs by ``position * freq``.

Args:
    a (array): Input array with at least 3 dimensions.
    dims (int): Number of (leading) features to rotate; even, at most ``D``.
    traditional (bool): Rotate consecutive pairs ``(2i, 2i+1)`` instead of
      ``(i, i + dims/2)``.
    base (float, optional): Base of the frequencies ``base ** (-2i/dims)``.
      Exactly one of ``base`` and ``freqs`` is ``None``.
    scale (float): Scale applied to the positions.
    offset (int or array): Position of the first element; a scalar or one
      offset per batch element.
    freqs (array, optional): Periods ``(dims/2,)``; the angle is
      ``position / freqs``.

Returns:
    array: The output array.)");

  m.def(
      "scaled_dot_product_attention",
      [](const array& q, const array& k, const array& v, float scale, nb::handle mask, nb::handle sinks,
         bool force_fused, StreamArg s) {
        (void)force_fused;
        std::string mode;
        std::optional<array> m;
        if (nb::isinstance<nb::str>(mask)) {
          mode = nb::cast<std::string>(mask);
          if (mode != "causal")
            throw ValueError(msg("[scaled_dot_product_attention] mask must be 'causal' or an array; got '", mode, "'."));
        } else if (!mask.is_none()) {
          mode = "array";
          m = to_array(mask);
        }
        return fast::scaled_dot_product_attention(q, k, v, scale, mode, m, opt_array(sinks), sd(s));
      },
      "q"_a, "k"_a, "v"_a, nb::kw_only(), "scale"_a, "mask"_a = nb::none(), "sinks"_a = nb::none(),
      "force_fused"_a = false, st,
      R"(Multi-head attention ``softmax(scale * q @ k.T + mask) @ v``.

Supports grouped-query and multi-query attention: ``k`` and ``v`` may have fewer
heads than ``q`` (a divisor of it), and are not to be pre-tiled. The softmax is
computed in float32 for half types.

Args:
    q (array): Queries ``(B, N_q, T_q, D)``.
    k (array): Keys ``(B, N_kv, T_kv, D)``.
    v (array): Values ``(B, N_kv, T_kv, D_v)``.
    scale (float): Scale of the queries, typically ``1 / sqrt(D)``.
    mask (str or array, optional): ``"causal"`` (lower-right aligned: the last
      query sees every key), or a boolean mask (True keeps) or additive mask
      broadcastable to ``(B, N_q, T_q, T_kv)``.
    sinks (array, optional): Per-head attention sink logits ``(N_q,)``, added to
      the softmax denominator.
    force_fused (bool): Accepted for compatibility; the CPU kernel is always fused.

Returns:
    array: ``(B, N_q, T_q, D_v)``.)");

  m.def(
      "metal_kernel",
      [](const std::string& name, nb::handle input_names, nb::handle output_names, const std::string& source,
         const std::string& header, bool ensure_row_contiguous, bool atomic_outputs, nb::handle compile_options) {
        (void)input_names, (void)output_names, (void)source, (void)header, (void)ensure_row_contiguous,
            (void)atomic_outputs, (void)compile_options;
        // As in MLX without Metal: building the kernel works, calling it raises.
        return nb::cpp_function([name](nb::args, nb::kwargs) -> nb::object { no_backend("metal_kernel", "Metal", name); });
      },
      "name"_a, "input_names"_a, "output_names"_a, "source"_a, "header"_a = "", "ensure_row_contiguous"_a = true,
      "atomic_outputs"_a = false, "compile_options"_a = nb::none(),
      R"(A custom Metal kernel from source. This build has no Metal back-end: the returned
callable raises ``RuntimeError`` when called.)");

  m.def(
      "cuda_kernel",
      [](const std::string& name, nb::handle input_names, nb::handle output_names, const std::string& source,
         const std::string& header, bool ensure_row_contiguous, int shared_memory) -> nb::object {
        if (!is_available(Device::gpu)) no_backend("cuda_kernel", "CUDA", name);
        bool ident = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
        for (char c : name) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
        if (!ident) throw ValueError(msg("[cuda_kernel] the kernel name must be a C identifier; got '", name, "'."));
        auto names = [](nb::handle h, const char* what) {
          std::vector<std::string> out;
          if (nb::isinstance<nb::str>(h))
            throw ValueError(msg("[cuda_kernel] ", what, " must be a list of strings; got a string."));
          for (auto item : h) {
            if (!nb::isinstance<nb::str>(item))
              throw ValueError(msg("[cuda_kernel] ", what, " must be a list of strings; got ",
                                   nb::cast<std::string>(nb::str(nb::type_name(item.type()))), "."));
            out.push_back(nb::cast<std::string>(item));
          }
          return out;
        };
        auto ins = names(input_names, "input_names");
        auto outs = names(output_names, "output_names");
        auto dims3 = [](nb::handle h, const char* what) {
          std::array<int, 3> d{1, 1, 1};
          auto seq = nb::cast<std::vector<int>>(h);
          if (seq.empty() || seq.size() > 3)
            throw ValueError(msg("[cuda_kernel] ", what, " must have 1 to 3 sizes; got ", seq.size(), "."));
          for (size_t i = 0; i < seq.size(); ++i) d[i] = seq[i];
          return d;
        };
        auto call = [=](nb::handle inputs, nb::handle output_shapes, nb::handle output_dtypes, nb::handle grid,
                        nb::handle threadgroup, nb::handle template_args, std::optional<float> init_value,
                        bool verbose, StreamArg st) -> nb::object {
          std::vector<array> arrs;
          for (auto item : inputs) arrs.push_back(to_array(item));
          std::vector<Shape> shapes;
          for (auto item : output_shapes) shapes.push_back(nb::cast<Shape>(item));
          std::vector<Dtype> dtypes;
          for (auto item : output_dtypes) dtypes.push_back(nb::cast<Dtype>(item));
          std::vector<std::pair<std::string, fast::TemplateArg>> targs;
          if (!template_args.is_none()) {
            for (auto item : template_args) {
              auto tup = nb::cast<nb::tuple>(item);
              if (tup.size() != 2)
                throw ValueError("[cuda_kernel] template arguments are (name, value) pairs; got another length.");
              std::string tn = nb::cast<std::string>(tup[0]);
              nb::handle v = tup[1];
              Dtype dt;
              if (nb::try_cast<Dtype>(v, dt)) targs.push_back({tn, dt});
              else if (nb::isinstance<nb::bool_>(v)) targs.push_back({tn, nb::cast<bool>(v)});
              else if (nb::isinstance<nb::int_>(v)) targs.push_back({tn, nb::cast<int>(v)});
              else
                throw ValueError(msg("[cuda_kernel] a template argument's value must be a Dtype, an int or a bool; got ",
                                     nb::cast<std::string>(nb::str(nb::type_name(v.type()))), " for '", tn, "'."));
            }
          }
          auto res = fast::cuda_kernel(name, ins, outs, source, header, ensure_row_contiguous, shared_memory, arrs,
                                       shapes, dtypes, dims3(grid, "grid"), dims3(threadgroup, "threadgroup"), targs,
                                       init_value, verbose, sd(st));
          nb::list l;
          for (auto& a : res) l.append(nb::cast(a));
          return l;
        };
        return nb::cpp_function(call, "inputs"_a, "output_shapes"_a, "output_dtypes"_a, "grid"_a, "threadgroup"_a,
                                "template"_a = nb::none(), "init_value"_a = nb::none(), "verbose"_a = false,
                                "stream"_a = nb::none());
      },
      "name"_a, "input_names"_a, "output_names"_a, "source"_a, "header"_a = "", "ensure_row_contiguous"_a = true,
      "shared_memory"_a = 0,
      R"(A custom CUDA kernel from source.

``source`` is the body of the kernel; its signature is generated from ``input_names``
(``const T* name`` for each input, plus ``name_shape`` (``const int32_t*``),
``name_strides`` (``const int64_t*``) and ``name_ndim`` (``int``) where the body uses them)
and ``output_names`` (``T* name``), with ``T`` the arrays' element types (``float``,
``__half``, ``__nv_bfloat16``, ``int32_t``, ...). ``header`` goes before the kernel.
The source is compiled with NVRTC on first use and cached.

Returns a callable ``kernel(inputs, output_shapes, output_dtypes, grid, threadgroup,
template=None, init_value=None, verbose=False, stream=None)`` that returns the list of
outputs. ``grid`` counts threads in each dimension (blocks are ``ceil(grid / threadgroup)``),
``template`` is a list of ``(name, value)`` pairs with a Dtype, int or bool value, visible
in the body, and ``init_value`` fills the outputs before the launch. Raises
``RuntimeError`` in a build or on a machine without a CUDA GPU.)");

  m.def(
      "precompiled_cuda_kernel",
      [](nb::kwargs kwargs) -> nb::object {
        std::string name = kwargs.contains("name") ? nb::cast<std::string>(nb::str(kwargs["name"])) : "";
        no_backend("precompiled_cuda_kernel", "CUDA", name);
      },
      R"(Runs a precompiled CUDA kernel. This build has no CUDA back-end: raises
``RuntimeError``.)");
}

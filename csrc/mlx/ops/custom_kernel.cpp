// mx.fast.cuda_kernel: the kernel's source is generated here (signature from the inputs,
// outputs and template arguments, the user's body inside); the GPU backend compiles it.
#include <cctype>
#include <cstdio>

#include "mlx/ops.h"
#include "mlx/primitives/custom_kernel.h"

namespace mlx::core::fast {

void CustomKernel::eval_cpu(const std::vector<array>&, std::vector<array>&) {
  throw std::runtime_error(msg("[cuda_kernel] the kernel '", kernel_name_,
                               "' runs only on a GPU stream; got a CPU stream."));
}

namespace {

bool valid_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

const char* c_type(Dtype t) {
  switch (t) {
    case Dtype::bool_: return "bool";
    case Dtype::uint8: return "uint8_t";
    case Dtype::uint16: return "uint16_t";
    case Dtype::uint32: return "uint32_t";
    case Dtype::uint64: return "uint64_t";
    case Dtype::int8: return "int8_t";
    case Dtype::int16: return "int16_t";
    case Dtype::int32: return "int32_t";
    case Dtype::int64: return "int64_t";
    case Dtype::float16: return "__half";
    case Dtype::bfloat16: return "__nv_bfloat16";
    case Dtype::float32: return "float";
    case Dtype::complex64: return "float2";
    default: return nullptr;
  }
}

// Whether `name` occurs in `src` as a whole identifier.
bool mentions(const std::string& src, const std::string& name) {
  size_t pos = 0;
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while ((pos = src.find(name, pos)) != std::string::npos) {
    bool left = pos == 0 || !ident(src[pos - 1]);
    bool right = pos + name.size() >= src.size() || !ident(src[pos + name.size()]);
    if (left && right) return true;
    pos += name.size();
  }
  return false;
}

}  // namespace

std::vector<array> cuda_kernel(const std::string& name, const std::vector<std::string>& input_names,
                               const std::vector<std::string>& output_names, const std::string& source,
                               const std::string& header, bool ensure_row_contiguous, int shared_memory,
                               const std::vector<array>& inputs_in, const std::vector<Shape>& output_shapes,
                               const std::vector<Dtype>& output_dtypes, std::array<int, 3> grid,
                               std::array<int, 3> threadgroup,
                               const std::vector<std::pair<std::string, TemplateArg>>& template_args,
                               std::optional<float> init_value, bool verbose, StreamOrDevice s) {
  const char* op = "[cuda_kernel]";
  if (!valid_identifier(name))
    throw ValueError(msg(op, " the kernel name must be a C identifier; got '", name, "'."));
  if (input_names.size() != inputs_in.size())
    throw ValueError(msg(op, " expected one input per input name (", input_names.size(), "); got ",
                         inputs_in.size(), " inputs."));
  if (output_names.empty())
    throw ValueError(msg(op, " the kernel needs at least one output; got no output names."));
  if (output_shapes.size() != output_names.size() || output_dtypes.size() != output_names.size())
    throw ValueError(msg(op, " expected one output shape and dtype per output name (", output_names.size(),
                         "); got ", output_shapes.size(), " shapes and ", output_dtypes.size(), " dtypes."));
  for (auto* names : {&input_names, &output_names})
    for (auto& n : *names)
      if (!valid_identifier(n)) throw ValueError(msg(op, " argument names must be C identifiers; got '", n, "'."));
  for (int i = 0; i < 3; ++i) {
    if (grid[i] < 1 || threadgroup[i] < 1)
      throw ValueError(msg(op, " grid and threadgroup sizes must be positive; got grid=(", grid[0], ", ", grid[1],
                           ", ", grid[2], "), threadgroup=(", threadgroup[0], ", ", threadgroup[1], ", ",
                           threadgroup[2], ")."));
  }
  if (static_cast<long long>(threadgroup[0]) * threadgroup[1] * threadgroup[2] > 1024)
    throw ValueError(msg(op, " a threadgroup holds at most 1024 threads; got ",
                         static_cast<long long>(threadgroup[0]) * threadgroup[1] * threadgroup[2], "."));
  if (shared_memory < 0)
    throw ValueError(msg(op, " shared_memory must be non-negative; got ", shared_memory, "."));
  Stream st = to_stream(s);
  if (st.device.type != Device::gpu)
    throw ValueError(msg(op, " custom kernels run only on the GPU; got a stream of the ", st.device.type == Device::cpu ? "cpu" : "gpu", " device."));

  std::vector<array> inputs;
  for (auto& a : inputs_in) inputs.push_back(ensure_row_contiguous ? contiguous(a, false, st) : a);

  std::string sig;
  std::vector<KernelShapeParam> params;
  auto add = [&sig](const std::string& p) { sig += (sig.empty() ? "" : ", ") + p; };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const char* t = c_type(inputs[i].dtype());
    if (!t)
      throw ValueError(msg(op, " input '", input_names[i], "' has a dtype the GPU does not support; got ",
                           inputs[i].dtype(), "."));
    const std::string& n = input_names[i];
    add(std::string("const ") + t + "* " + n);
    KernelShapeParam p{static_cast<int>(i), mentions(source, n + "_shape"), mentions(source, n + "_strides"),
                       mentions(source, n + "_ndim")};
    if (p.shape) add("const int32_t* " + n + "_shape");
    if (p.strides) add("const int64_t* " + n + "_strides");
    if (p.ndim) add("const int " + n + "_ndim");
    params.push_back(p);
  }
  for (size_t i = 0; i < output_names.size(); ++i) {
    const char* t = c_type(output_dtypes[i]);
    if (!t)
      throw ValueError(msg(op, " output '", output_names[i], "' has a dtype the GPU does not support; got ",
                           output_dtypes[i], "."));
    for (auto d : output_shapes[i])
      if (d < 0) throw ValueError(msg(op, " output shapes must be non-negative; got ", output_shapes[i], "."));
    add(std::string(t) + "* " + output_names[i]);
  }
  std::string kname = "mlx_custom_" + name;
  std::string body;
  for (auto& [tn, tv] : template_args) {
    if (!valid_identifier(tn))
      throw ValueError(msg(op, " template argument names must be C identifiers; got '", tn, "'."));
    if (auto* d = std::get_if<Dtype>(&tv)) {
      const char* t = c_type(*d);
      if (!t) throw ValueError(msg(op, " template argument '", tn, "' names a dtype the GPU does not support; got ", *d, "."));
      body += "  using " + tn + " = " + t + ";\n";
    } else if (auto* b = std::get_if<bool>(&tv)) {
      body += "  constexpr bool " + tn + " = " + (*b ? "true" : "false") + ";\n";
    } else {
      body += "  constexpr int " + tn + " = " + std::to_string(std::get<int>(tv)) + ";\n";
    }
  }
  std::string src = header + "\n\nextern \"C\" __global__ void " + kname + "(" + sig + ") {\n" + body + source + "\n}\n";
  if (verbose) std::printf("Generated source code for `%s`:\n```\n%s```\n", name.c_str(), src.c_str());
  auto prim = std::make_shared<CustomKernel>(st, kname, src, std::move(params), grid, threadgroup, shared_memory,
                                             init_value);
  return array::make_arrays(output_shapes, output_dtypes, prim, inputs);
}

}  // namespace mlx::core::fast

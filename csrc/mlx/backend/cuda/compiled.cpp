// mx.compile on the GPU: a fused elementwise program becomes one CUDA kernel, generated as
// source, compiled with NVRTC on first use and cached by its source. Programs the generator
// does not cover (non-float32 values, ops without an expression here, broadcast inputs other
// than scalars) run their unfused graph on the GPU instead.
// Without NVRTC on the machine (nvrtc.cpp), compiled programs run unfused.
#include "mlx/backend/cuda/cuda.h"
#include "mlx/primitives/compiled.h"

namespace mlx::core::cu {

namespace {

const char* unary_expr(UnaryOp op) {
  switch (op) {
    case UnaryOp::Abs: return "fabsf(%)";
    case UnaryOp::Negative: return "(-%)";
    case UnaryOp::Sign: return "(float)((% > 0.f) - (% < 0.f))";
    case UnaryOp::Sqrt: return "sqrtf(%)";
    case UnaryOp::Rsqrt: return "rsqrtf(%)";
    case UnaryOp::Square: return "(% * %)";
    case UnaryOp::Reciprocal: return "(1.0f / %)";
    case UnaryOp::Exp: return "expf(%)";
    case UnaryOp::Expm1: return "expm1f(%)";
    case UnaryOp::Log: return "logf(%)";
    case UnaryOp::Log1p: return "log1pf(%)";
    case UnaryOp::Log2: return "log2f(%)";
    case UnaryOp::Log10: return "log10f(%)";
    case UnaryOp::Sin: return "sinf(%)";
    case UnaryOp::Cos: return "cosf(%)";
    case UnaryOp::Tan: return "tanf(%)";
    case UnaryOp::ArcSin: return "asinf(%)";
    case UnaryOp::ArcCos: return "acosf(%)";
    case UnaryOp::ArcTan: return "atanf(%)";
    case UnaryOp::Sinh: return "sinhf(%)";
    case UnaryOp::Cosh: return "coshf(%)";
    case UnaryOp::Tanh: return "tanhf(%)";
    case UnaryOp::ArcSinh: return "asinhf(%)";
    case UnaryOp::ArcCosh: return "acoshf(%)";
    case UnaryOp::ArcTanh: return "atanhf(%)";
    case UnaryOp::Erf: return "erff(%)";
    case UnaryOp::ErfInv: return "erfinvf(%)";
    case UnaryOp::Sigmoid: return "(1.0f / (1.0f + expf(-%)))";
    case UnaryOp::Floor: return "floorf(%)";
    case UnaryOp::Ceil: return "ceilf(%)";
    case UnaryOp::Round: return "rintf(%)";
    case UnaryOp::Copy: case UnaryOp::StopGradient: case UnaryOp::Conjugate: case UnaryOp::Real:
      return "(%)";
    default: return nullptr;
  }
}

const char* binary_expr(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "(% + #)";
    case BinaryOp::Subtract: return "(% - #)";
    case BinaryOp::Multiply: return "(% * #)";
    case BinaryOp::Divide: return "(% / #)";
    case BinaryOp::Maximum: return "mx_max(%, #)";
    case BinaryOp::Minimum: return "mx_min(%, #)";
    case BinaryOp::Power: return "powf(%, #)";
    case BinaryOp::ArcTan2: return "atan2f(%, #)";
    case BinaryOp::LogAddExp: return "mx_logaddexp(%, #)";
    case BinaryOp::Remainder: return "mx_rem(%, #)";
    case BinaryOp::FloorDivide: return "floorf(% / #)";
    default: return nullptr;
  }
}

std::string subst(const char* pat, const std::string& a, const std::string& b = "") {
  std::string r;
  for (const char* p = pat; *p; ++p) {
    if (*p == '%') r += a;
    else if (*p == '#') r += b;
    else r += *p;
  }
  return r;
}

const char* kPrelude = R"(
__device__ __forceinline__ float mx_max(float a, float b) { return (a != a || a > b) ? a : b; }
__device__ __forceinline__ float mx_min(float a, float b) { return (a != a || a < b) ? a : b; }
__device__ __forceinline__ float mx_rem(float a, float b) {
  float r = fmodf(a, b); if (r != 0.f && ((r < 0.f) != (b < 0.f))) r += b; return r; }
__device__ __forceinline__ float mx_logaddexp(float a, float b) {
  if (a != a || b != b) return a + b;
  float m = a > b ? a : b; if (isinf(m)) return m;
  float d = a > b ? b - a : a - b; return m + log1pf(expf(d)); }
)";

// Source of the fused kernel, or "" when a step has no expression here. (Built with
// std::string and std::to_string only: no locale-dependent stream formatting.)
std::string generate(const std::vector<FusedStep>& steps, const std::vector<bool>& scalar) {
  std::string body;
  size_t nin = scalar.size();
  auto num = [](size_t v) { return std::to_string(v); };
  auto operand = [&](int o) { return o >= 0 ? "x" + num(static_cast<size_t>(o)) : "t" + num(static_cast<size_t>(-1 - o)); };
  for (size_t k = 0; k < steps.size(); ++k) {
    auto& st = steps[k];
    if (st.dtype != Dtype::float32) return "";
    std::string e;
    if (auto* u = dynamic_cast<Unary*>(st.prim.get())) {
      const char* pat = unary_expr(u->op());
      if (!pat || st.operands.size() != 1) return "";
      e = subst(pat, operand(st.operands[0]));
    } else if (auto* b = dynamic_cast<Binary*>(st.prim.get())) {
      const char* pat = binary_expr(b->op());
      if (!pat || st.operands.size() != 2) return "";
      e = subst(pat, operand(st.operands[0]), operand(st.operands[1]));
    } else if (dynamic_cast<AsType*>(st.prim.get())) {
      if (st.operands.size() != 1) return "";
      e = operand(st.operands[0]);
    } else {
      return "";
    }
    body += "      float t" + num(k) + " = " + e + ";\n";
  }
  std::string last = "t" + num(steps.size() - 1);
  std::string src = kPrelude;
  src += "extern \"C\" __global__ void fused(";
  for (size_t i = 0; i < nin; ++i) src += "const float* __restrict__ in" + num(i) + ", ";
  src += "float* __restrict__ out, long long n) {\n";
  src += "  long long base = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * 4;\n";
  src += "  if (base + 4 <= n) {\n";
  for (size_t i = 0; i < nin; ++i) {
    std::string in = "in" + num(i);
    if (scalar[i]) src += "    float4 v" + num(i) + " = make_float4(" + in + "[0], " + in + "[0], " + in + "[0], " + in + "[0]);\n";
    else src += "    float4 v" + num(i) + " = *reinterpret_cast<const float4*>(" + in + " + base);\n";
  }
  src += "    float4 r;\n";
  for (const char* lane : {"x", "y", "z", "w"}) {
    src += "    {\n";
    for (size_t i = 0; i < nin; ++i) src += "      float x" + num(i) + " = v" + num(i) + "." + lane + ";\n";
    src += body + "      r." + lane + " = " + last + ";\n    }\n";
  }
  src += "    *reinterpret_cast<float4*>(out + base) = r;\n";
  src += "  } else {\n    for (long long i = base; i < n; ++i) {\n";
  for (size_t i = 0; i < nin; ++i) src += "      float x" + num(i) + " = in" + num(i) + (scalar[i] ? "[0]" : "[i]") + ";\n";
  src += body + "      out[i] = " + last + ";\n    }\n  }\n}\n";
  return src;
}

bool eval_compiled(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& c = static_cast<Compiled&>(p);
  array& out = outputs[0];
  size_t n = out.size();
  bool fusable = out.dtype() == Dtype::float32 && n > 0 && nvrtc_available();
  std::vector<bool> scalar;
  for (auto& in : inputs) {
    bool s = in.data_size() == 1;
    fusable = fusable && in.dtype() == Dtype::float32 && (s || (in.flags().row_contiguous && in.size() == n));
    scalar.push_back(s);
  }
  std::string src = fusable ? generate(c.steps(), scalar) : "";
  if (src.empty()) {
    eval_composite({c.expand(inputs)}, outputs);
    return true;
  }
  std::vector<const void*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ptrs.push_back(in_ptr(inputs[i]));
    if (!scalar[i] && (reinterpret_cast<uintptr_t>(ptrs.back()) % 16) != 0) {
      eval_composite({c.expand(inputs)}, outputs);
      return true;
    }
  }
  cudaKernel_t k = nvrtc_kernel(src, "fused", "[compile]");
  void* y = alloc_out(out);
  long long nn = static_cast<long long>(n);
  std::vector<void*> args;
  for (auto& pt : ptrs) args.push_back(const_cast<const void**>(&pt));
  args.push_back(&y);
  args.push_back(&nn);
  unsigned blocks = static_cast<unsigned>((n + 4 * 256 - 1) / (4 * 256));
  MLX_CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(k), dim3(blocks), dim3(256), args.data(), 0, stream()));
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(Compiled, eval_compiled);

}  // namespace mlx::core::cu

// mx.compile on the GPU: a fused elementwise program becomes one CUDA kernel, generated as
// source, compiled with NVRTC on first use and cached by the program's structure. A program may
// have several outputs (steps of the program), all written by the one kernel. Programs over contiguous or
// scalar inputs get a vectorized kernel (16-byte loads and stores per thread); broadcast or
// strided inputs get the general kernel. Programs neither covers (integer values, ops without
// an expression here) run their unfused graph on the GPU.
// Without NVRTC on the machine (nvrtc.cpp), compiled programs run unfused. Fused kernels are
// compiled with --fmad=false: a multiply and an add of two steps stay two roundings, so the
// fused result is the unfused one bit for bit.
#include <algorithm>
#include <mutex>
#include <unordered_map>

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
    case UnaryOp::LogicalNot: return "(% == 0.f ? 1.f : 0.f)";
    case UnaryOp::IsNan: return "(isnan(%) ? 1.f : 0.f)";
    case UnaryOp::IsInf: return "(isinf(%) ? 1.f : 0.f)";
    case UnaryOp::IsPosInf: return "((isinf(%) && % > 0.f) ? 1.f : 0.f)";
    case UnaryOp::IsNegInf: return "((isinf(%) && % < 0.f) ? 1.f : 0.f)";
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
    case BinaryOp::Power: return "(# == 2.0f ? % * % : powf(%, #))";  // as the unfused kernel
    case BinaryOp::ArcTan2: return "atan2f(%, #)";
    case BinaryOp::LogAddExp: return "mx_logaddexp(%, #)";
    case BinaryOp::Remainder: return "mx_rem(%, #)";
    case BinaryOp::FloorDivide: return "floorf(% / #)";
    case BinaryOp::Equal: return "(% == # ? 1.f : 0.f)";
    case BinaryOp::NaNEqual: return "((% == # || (isnan(%) && isnan(#))) ? 1.f : 0.f)";
    case BinaryOp::NotEqual: return "(% != # ? 1.f : 0.f)";
    case BinaryOp::Less: return "(% < # ? 1.f : 0.f)";
    case BinaryOp::LessEqual: return "(% <= # ? 1.f : 0.f)";
    case BinaryOp::Greater: return "(% > # ? 1.f : 0.f)";
    case BinaryOp::GreaterEqual: return "(% >= # ? 1.f : 0.f)";
    case BinaryOp::LogicalAnd: return "((% != 0.f && # != 0.f) ? 1.f : 0.f)";
    case BinaryOp::LogicalOr: return "((% != 0.f || # != 0.f) ? 1.f : 0.f)";
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

// Values in the kernels are floats: loads convert from the element type, each step rounds to
// its own dtype (as the unfused kernels do), stores convert back.

const char* c_type(Dtype t) {
  switch (t) {
    case Dtype::float32: return "float";
    case Dtype::float16: return "__half";
    case Dtype::bfloat16: return "__nv_bfloat16";
    case Dtype::bool_: return "bool";
    default: return nullptr;
  }
}

std::string load_expr(Dtype t, const std::string& v) {
  switch (t) {
    case Dtype::float16: return "__half2float(" + v + ")";
    case Dtype::bfloat16: return "__bfloat162float(" + v + ")";
    case Dtype::bool_: return "(" + v + " ? 1.f : 0.f)";
    default: return v;
  }
}

std::string round_expr(Dtype t, const std::string& e) {
  switch (t) {
    case Dtype::float16: return "__half2float(__float2half(" + e + "))";
    case Dtype::bfloat16: return "__bfloat162float(__float2bfloat16(" + e + "))";
    case Dtype::bool_: return "((" + e + ") != 0.f ? 1.f : 0.f)";
    default: return e;
  }
}

std::string store_expr(Dtype t, const std::string& v) {
  switch (t) {
    case Dtype::float16: return "__float2half(" + v + ")";
    case Dtype::bfloat16: return "__float2bfloat16(" + v + ")";
    case Dtype::bool_: return "(" + v + " != 0.f)";
    default: return v;
  }
}

// The steps as lines `float tK = <expression>;` (each rounded to its dtype), or "" when a step
// has no expression here. (Built with std::string and std::to_string only: no locale-dependent
// stream formatting.)
std::string step_body(const std::vector<FusedStep>& steps, const std::string& indent) {
  auto num = [](size_t v) { return std::to_string(v); };
  auto operand = [&](int o) { return o >= 0 ? "x" + num(static_cast<size_t>(o)) : "t" + num(static_cast<size_t>(-1 - o)); };
  std::string body;
  for (size_t k = 0; k < steps.size(); ++k) {
    auto& st = steps[k];
    if (!c_type(st.dtype)) return "";
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
    } else if (dynamic_cast<Select*>(st.prim.get())) {
      if (st.operands.size() != 3) return "";
      e = "(" + operand(st.operands[0]) + " != 0.f ? " + operand(st.operands[1]) + " : " + operand(st.operands[2]) + ")";
    } else {
      return "";
    }
    body += indent + "float t" + num(k) + " = " + round_expr(st.dtype, e) + ";\n";
  }
  return body;
}

// Input k's place in the kernel: contiguous with the output, one value for all, or strided.
enum class InKind { Contiguous, Scalar, Strided };

// The general kernel: float16/bfloat16/bool values as well as float32, and inputs of any
// layout (broadcast, transposed, sliced) addressed through their strides over the output's
// (collapsed) shape. Output k is step outs[k], stored row-contiguous.
std::string generate_general(const std::vector<FusedStep>& steps, const std::vector<int>& outs,
                             const std::vector<array>& inputs, const std::vector<InKind>& kinds, int ndim,
                             int nstrided) {
  auto num = [](size_t v) { return std::to_string(v); };
  std::string body = step_body(steps, "    ");
  if (body.empty()) return "";
  std::string src = "#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n";
  src += kPrelude;
  if (nstrided > 0) {
    src += "struct Lay { long long shape[" + num(ndim) + "]; long long st[" + num(nstrided) + "][" + num(ndim) + "]; };\n";
  }
  src += "extern \"C\" __global__ void fused_general(";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const char* t = c_type(inputs[i].dtype());
    if (!t) return "";
    src += std::string("const ") + t + "* __restrict__ in" + num(i) + ", ";
  }
  for (size_t k = 0; k < outs.size(); ++k) src += std::string(c_type(steps[outs[k]].dtype)) + "* __restrict__ out" + num(k) + ", ";
  src += "long long n";
  if (nstrided > 0) src += ", Lay lay";
  src += ") {\n";
  src += "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {\n";
  if (nstrided > 0) {
    src += "    long long rem = i;\n";
    for (int k = 0; k < nstrided; ++k) src += "    long long o" + num(k) + " = 0;\n";
    src += "    #pragma unroll\n    for (int d = " + num(ndim - 1) + "; d >= 0; --d) {\n";
    src += "      long long c = rem % lay.shape[d]; rem /= lay.shape[d];\n";
    for (int k = 0; k < nstrided; ++k) src += "      o" + num(k) + " += c * lay.st[" + num(k) + "][d];\n";
    src += "    }\n";
  }
  int sk = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string idx = kinds[i] == InKind::Scalar ? "0" : kinds[i] == InKind::Contiguous ? "i" : "o" + num(sk++);
    src += "    float x" + num(i) + " = " + load_expr(inputs[i].dtype(), "in" + num(i) + "[" + idx + "]") + ";\n";
  }
  src += body;
  for (size_t k = 0; k < outs.size(); ++k)
    src += "    out" + num(k) + "[i] = " + store_expr(steps[outs[k]].dtype, "t" + num(outs[k])) + ";\n";
  src += "  }\n}\n";
  return src;
}

// The general kernel for inputs that are all contiguous with the output or single values:
// each thread loads V consecutive elements of every contiguous input as one vector (V * size
// of the widest type = 16 bytes), computes them, and stores one vector per output; the last
// n % V elements are done one by one. Pointers must be V-element aligned (checked by the
// caller).
std::string generate_general_vec(const std::vector<FusedStep>& steps, const std::vector<int>& outs,
                                 const std::vector<array>& inputs, const std::vector<InKind>& kinds, int V) {
  auto num = [](size_t v) { return std::to_string(v); };
  std::string body = step_body(steps, "      ");
  if (body.empty()) return "";
  std::string src = "#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n";
  src += kPrelude;
  src += "template <typename T> struct alignas(sizeof(T) * " + num(V) + ") VecN { T v[" + num(V) + "]; };\n";
  src += "extern \"C\" __global__ void fused_vec(";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const char* t = c_type(inputs[i].dtype());
    if (!t) return "";
    src += std::string("const ") + t + "* __restrict__ in" + num(i) + ", ";
  }
  auto ot = [&](size_t k) { return std::string(c_type(steps[outs[k]].dtype)); };
  for (size_t k = 0; k < outs.size(); ++k) src += ot(k) + "* __restrict__ out" + num(k) + ", ";
  src += "long long n) {\n";
  src += "  long long nv = n / " + num(V) + ", stride = (long long)gridDim.x * blockDim.x;\n";
  src += "  long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n";
  src += "  for (long long j = tid; j < nv; j += stride) {\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string t = c_type(inputs[i].dtype());
    if (kinds[i] == InKind::Contiguous)
      src += "    VecN<" + t + "> a" + num(i) + " = *reinterpret_cast<const VecN<" + t + ">*>(in" + num(i) + " + j * " +
             num(V) + ");\n";
    else
      src += "    float s" + num(i) + " = " + load_expr(inputs[i].dtype(), "in" + num(i) + "[0]") + ";\n";
  }
  for (size_t k = 0; k < outs.size(); ++k) src += "    VecN<" + ot(k) + "> r" + num(k) + ";\n";
  src += "    #pragma unroll\n    for (int u = 0; u < " + num(V) + "; ++u) {\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string v = kinds[i] == InKind::Contiguous ? load_expr(inputs[i].dtype(), "a" + num(i) + ".v[u]") : "s" + num(i);
    src += "      float x" + num(i) + " = " + v + ";\n";
  }
  src += body;
  for (size_t k = 0; k < outs.size(); ++k)
    src += "      r" + num(k) + ".v[u] = " + store_expr(steps[outs[k]].dtype, "t" + num(outs[k])) + ";\n";
  src += "    }\n";
  for (size_t k = 0; k < outs.size(); ++k)
    src += "    *reinterpret_cast<VecN<" + ot(k) + ">*>(out" + num(k) + " + j * " + num(V) + ") = r" + num(k) + ";\n";
  src += "  }\n";
  src += "  for (long long i = nv * " + num(V) + " + tid; i < n; i += stride) {\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string idx = kinds[i] == InKind::Contiguous ? "i" : "0";
    src += "      float x" + num(i) + " = " + load_expr(inputs[i].dtype(), "in" + num(i) + "[" + idx + "]") + ";\n";
  }
  src += body;
  for (size_t k = 0; k < outs.size(); ++k)
    src += "      out" + num(k) + "[i] = " + store_expr(steps[outs[k]].dtype, "t" + num(outs[k])) + ";\n";
  src += "  }\n}\n";
  return src;
}

// Kernels by the structure of the program and its inputs (cheap to form on every call; the
// source and NVRTC's cache by source are only reached on a miss). A program no generator
// covers is cached as null, so it falls back without generating source again.
struct KeyHash {
  size_t operator()(const std::vector<int64_t>& v) const {
    size_t h = 1469598103934665603ull;
    for (int64_t x : v) h = (h ^ static_cast<size_t>(x)) * 1099511628211ull;
    return h;
  }
};
std::vector<int64_t> program_key(const Compiled& c, const std::vector<array>& inputs, const std::vector<InKind>& kinds,
                                 int64_t generator, int64_t a, int64_t b) {
  std::vector<int64_t> key{generator, a, b};
  for (auto& st : c.steps()) {
    int64_t tag = 0, op = 0;
    if (auto* u = dynamic_cast<Unary*>(st.prim.get())) tag = 1, op = static_cast<int64_t>(u->op());
    else if (auto* bi = dynamic_cast<Binary*>(st.prim.get())) tag = 2, op = static_cast<int64_t>(bi->op());
    else if (dynamic_cast<AsType*>(st.prim.get())) tag = 3;
    else if (dynamic_cast<Select*>(st.prim.get())) tag = 4;
    key.insert(key.end(), {tag, op, static_cast<int64_t>(st.dtype), static_cast<int64_t>(st.operands.size())});
    key.insert(key.end(), st.operands.begin(), st.operands.end());
  }
  key.push_back(-1);
  key.insert(key.end(), c.output_steps().begin(), c.output_steps().end());
  key.push_back(-1);
  for (size_t i = 0; i < inputs.size(); ++i) key.push_back(static_cast<int64_t>(inputs[i].dtype()) * 4 + static_cast<int64_t>(kinds[i]));
  return key;
}
template <typename Gen>
cudaKernel_t cached_kernel(std::vector<int64_t> key, const char* symbol, Gen gen) {
  static std::mutex mu;
  static std::unordered_map<std::vector<int64_t>, cudaKernel_t, KeyHash> cache;
  {
    std::lock_guard lk(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  std::string src = gen();
  cudaKernel_t k = src.empty() ? nullptr : nvrtc_kernel(src, symbol, "[compile]", {"--fmad=false"});
  std::lock_guard lk(mu);
  cache.emplace(std::move(key), k);
  return k;
}

// Runs the general kernel; false when the program or layout is outside what it covers.
bool eval_general(const Compiled& c, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& out0 = outputs[0];
  const auto& outs = c.output_steps();
  size_t n = out0.size();
  const Shape& shape = out0.shape();
  int nd = static_cast<int>(shape.size());
  for (auto& o : outputs)
    if (!c_type(o.dtype())) return false;
  std::vector<InKind> kinds;
  std::vector<const array*> strided;
  for (auto& in : inputs) {
    if (in.data_size() == 1) kinds.push_back(InKind::Scalar);
    else if (in.flags().row_contiguous && in.size() == n) kinds.push_back(InKind::Contiguous);
    else {
      kinds.push_back(InKind::Strided);
      strided.push_back(&in);
    }
  }
  auto launch = [&](cudaKernel_t k, std::vector<const void*>& ptrs, void* extra, size_t blocks) {
    std::vector<void*> ys;
    for (auto& o : outputs) ys.push_back(alloc_out(o));  // fresh allocations are 256-byte aligned
    long long nn = static_cast<long long>(n);
    std::vector<void*> args;
    for (auto& pt : ptrs) args.push_back(const_cast<const void**>(&pt));
    for (auto& y : ys) args.push_back(&y);
    args.push_back(&nn);
    if (extra) args.push_back(extra);
    MLX_CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(k), dim3(static_cast<unsigned>(blocks)), dim3(256),
                                    args.data(), 0, stream()));
  };
  if (strided.empty() && n > 0) {
    int widest = 1;
    for (auto& o : outputs) widest = std::max(widest, size_of(o.dtype()));
    for (auto& in : inputs) widest = std::max(widest, size_of(in.dtype()));
    int V = 16 / widest;
    bool ok = V > 1;
    std::vector<const void*> ptrs;
    for (size_t i = 0; ok && i < inputs.size(); ++i) {
      ptrs.push_back(in_ptr(inputs[i]));
      if (kinds[i] == InKind::Contiguous && reinterpret_cast<uintptr_t>(ptrs.back()) % static_cast<uintptr_t>(V * size_of(inputs[i].dtype())))
        ok = false;
    }
    cudaKernel_t k = ok ? cached_kernel(program_key(c, inputs, kinds, 0, V, 0), "fused_vec",
                                        [&] { return generate_general_vec(c.steps(), outs, inputs, kinds, V); })
                        : nullptr;
    if (k) {
      launch(k, ptrs, nullptr, std::max<size_t>(1, (n / V + 255) / 256));  // one vector per thread
      return true;
    }
  }
  // Strides of the strided inputs broadcast to the output's shape, dims merged where every
  // strided input allows it and size-1 dims dropped.
  std::vector<long long> sh;
  std::vector<std::vector<long long>> cs(strided.size());
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    std::vector<long long> sd(strided.size());
    for (size_t k = 0; k < strided.size(); ++k) {
      const array& a = *strided[k];
      int off = nd - static_cast<int>(a.ndim());
      sd[k] = (d < off || a.shape(d - off) == 1) ? 0 : a.strides()[d - off];
    }
    bool merge = !sh.empty();
    for (size_t k = 0; merge && k < strided.size(); ++k) merge = cs[k].back() == sd[k] * shape[d];
    if (merge) {
      sh.back() *= shape[d];
      for (size_t k = 0; k < strided.size(); ++k) cs[k].back() = sd[k];
    } else {
      sh.push_back(shape[d]);
      for (size_t k = 0; k < strided.size(); ++k) cs[k].push_back(sd[k]);
    }
  }
  if (sh.empty()) {
    sh.push_back(1);
    for (auto& v : cs) v.push_back(0);
  }
  int cnd = static_cast<int>(sh.size());
  if (cnd > kMaxDims || strided.size() > 16) return false;
  int nstrided = static_cast<int>(strided.size());
  cudaKernel_t k = cached_kernel(program_key(c, inputs, kinds, 1, cnd, nstrided), "fused_general",
                                 [&] { return generate_general(c.steps(), outs, inputs, kinds, cnd, nstrided); });
  if (!k) return false;
  std::vector<const void*> ptrs;
  for (auto& in : inputs) ptrs.push_back(in_ptr(in));
  std::vector<long long> lay(sh.begin(), sh.end());
  for (auto& v : cs) lay.insert(lay.end(), v.begin(), v.end());
  launch(k, ptrs, nstrided > 0 ? lay.data() : nullptr,
         std::min<size_t>((n + 255) / 256, static_cast<size_t>(props().multiProcessorCount) * 16));
  return true;
}

bool eval_compiled(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& c = static_cast<Compiled&>(p);
  if (outputs[0].size() > 0 && nvrtc_available() && eval_general(c, inputs, outputs)) return true;
  eval_composite(c.expand(inputs), outputs);
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(Compiled, eval_compiled);

}  // namespace mlx::core::cu

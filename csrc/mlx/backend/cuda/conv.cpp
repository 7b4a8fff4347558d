// Convolution on the GPU. float32 (no TF32 unless MLX_ENABLE_TF32=1), float16 and bfloat16 with
// float32 accumulation.
//
// Paths, first that applies:
//  1. cuDNN (when built with it, MLX_CUDA_HAS_CUDNN), through the frontend graph API, 1-D to 3-D
//     (1-D as 2-D with a unit height), operands laid out as packed NHWC / KRSC:
//     - input_dilation == 1: conv_fprop. Negative padding is sliced off the input first; the
//       padding after the data is trimmed to what the output reads, so cuDNN's output size
//       matches exactly. flip selects CONVOLUTION mode.
//     - input_dilation > 1 with stride 1 (transposed convolutions, data gradients of strided
//       convolutions): conv_dgrad of the convolution that maps the output space onto the input
//       with stride = input_dilation, with the weights re-laid as (C_in, K..., C_out/groups).
//     - groups == 1 and a kernel larger than the output (weight gradients, where the cotangent
//       is the kernel): conv_wgrad, batch and channels swapping roles.
//     Graphs are cached per (path, dtype, dims, strides, parameters). A graph cuDNN does not
//     support, or an execution that fails, falls through to 2.
//  2. Implicit GEMM: tiles of output rows are unfolded (im2col, conv_im2col.cu) into a scratch
//     buffer and multiplied by the weights with one strided-batched cuBLAS call per tile (the
//     groups are the batch). 1x1 convolutions read the input directly.
// With MLX_CUDA_CONV_LOG=1 the path of every convolution is printed to stderr.
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlx/backend/cuda/conv_im2col.h"
#include "mlx/backend/cuda/cuda.h"
#include "mlx/backend/cuda/gemm.h"
#include "mlx/primitives/conv.h"

#ifdef MLX_CUDA_HAS_CUDNN
#include <cudnn.h>
#include <cudnn_frontend.h>
#endif

namespace mlx::core::cu {

namespace {

using Vec = std::vector<int64_t>;

bool conv_log() {
  static const bool on = env_flag("MLX_CUDA_CONV_LOG");
  return on;
}

Vec row_strides(const Vec& shape) {
  Vec st(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

int64_t prod(const Vec& v) {
  int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}

// Device pointer to the elements of `a` starting `offset` elements past a's start, read as
// shape `shape` through element strides `strides`, laid out row-contiguously: a's own memory
// when it already is (and `aligned` where asked), else a gathered copy in `tmp`.
const char* packed(const array& a, const Vec& shape, const Vec& strides, int64_t offset, Scratch& tmp,
                   bool need_aligned = false) {
  size_t es = a.itemsize();
  const char* base = static_cast<const char*>(in_ptr(a)) + offset * int64_t(es);
  Vec rs = row_strides(shape);
  bool dense = true;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && strides[i] != rs[i]) dense = false;
  if (dense && (!need_aligned || reinterpret_cast<uintptr_t>(base) % 16 == 0)) return base;
  int64_t n = prod(shape);
  tmp.alloc(static_cast<size_t>(n) * es);
  conv_gather(static_cast<int>(es), base, tmp.p, static_cast<int>(shape.size()), shape.data(), strides.data(),
              stream());
  return static_cast<const char*>(tmp.p);
}

Vec spatial_shape(const array& a) {
  Vec s;
  for (int d = 1; d + 1 < static_cast<int>(a.ndim()); ++d) s.push_back(a.shape(d));
  return s;
}
Vec spatial_strides(const array& a) {
  Vec s;
  for (int d = 1; d + 1 < static_cast<int>(a.ndim()); ++d) s.push_back(a.strides(d));
  return s;
}

Vec cat(std::initializer_list<Vec> parts) {
  Vec r;
  for (auto& p : parts) r.insert(r.end(), p.begin(), p.end());
  return r;
}

// ----------------------------------------------------------------------------------------------
// Implicit GEMM (im2col + cuBLAS)

cublasHandle_t conv_cublas_handle() {
  static BlasHandle h(8u << 20, "[conv]");
  return h.get();
}

cudaDataType_t cuda_type(Dtype t) {
  switch (t) {
    case Dtype::float16: return CUDA_R_16F;
    case Dtype::bfloat16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

ConvGeom make_geom(const Convolution& p, const array& x, const array& w, const array& out) {
  ConvGeom g;
  g.D = static_cast<int>(x.ndim()) - 2;
  g.flip = p.flip_ ? 1 : 0;
  g.N = x.shape(0);
  g.c_in = x.shape(-1);
  g.c_out = w.shape(0);
  g.groups = p.groups_;
  g.cig = g.c_in / g.groups;
  g.cog = g.c_out / g.groups;
  int64_t st = g.c_in;
  for (int d = g.D - 1; d >= 0; --d) {
    g.S[d] = x.shape(1 + d);
    g.K[d] = w.shape(1 + d);
    g.O[d] = out.shape(1 + d);
    g.stride[d] = p.stride_[d];
    g.lo[d] = p.padding_lo_[d];
    g.kdil[d] = p.kernel_dilation_[d];
    g.idil[d] = p.input_dilation_[d];
    g.xs[d] = st;
    st *= g.S[d];
  }
  g.xbatch = st;
  for (int d = 0; d < g.D; ++d) {
    g.k_total *= g.K[d];
    g.o_total *= g.O[d];
  }
  g.kc = g.k_total * g.cig;
  g.rows = g.N * g.o_total;
  return g;
}

bool gemm_fits(const ConvGeom& g) {
  return g.kc <= INT_MAX && g.cog <= INT_MAX && g.c_out <= INT_MAX && g.c_in <= INT_MAX &&
         g.groups <= INT_MAX;
}

bool is_pointwise(const Convolution& p, const ConvGeom& g) {
  for (int d = 0; d < g.D; ++d)
    if (g.K[d] != 1 || g.stride[d] != 1 || g.lo[d] != 0 || p.padding_hi_[d] != 0 || g.idil[d] != 1 ||
        g.S[d] != g.O[d])
      return false;
  return true;
}

// out (row-contiguous) = conv(x, w); x (N, S..., C_in) and w (C_out, K..., C_in/groups) are
// row-contiguous device data.
void run_gemm_path(const Convolution& p, const ConvGeom& g, const char* x, const char* w, char* y, Dtype t) {
  size_t es = size_of(t);
  cudaDataType_t dt = cuda_type(t);
  cublasComputeType_t ct = (t == float32 && tf32_enabled()) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  float alpha = 1.0f, beta = 0.0f;
  auto gemm = [&](const char* col, int64_t ldb, int64_t stride_b, int64_t r0, int64_t nr) {
    cublasStatus_t s = cublasGemmStridedBatchedEx(
        conv_cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(g.cog), static_cast<int>(nr),
        static_cast<int>(g.kc), &alpha, w, dt, static_cast<int>(g.kc), g.cog * g.kc, col, dt, static_cast<int>(ldb),
        stride_b, &beta, y + r0 * g.c_out * int64_t(es), dt, static_cast<int>(g.c_out), g.cog,
        static_cast<int>(g.groups), ct, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error(std::string("[conv] cublasGemmStridedBatchedEx failed: ") + cublasGetStatusString(s) +
                               ".");
  };
  if (is_pointwise(p, g)) {
    // The input rows are the unfolded rows; group grp reads channels [grp*cig, (grp+1)*cig).
    for (int64_t r0 = 0; r0 < g.rows; r0 += INT_MAX) {
      int64_t nr = std::min<int64_t>(INT_MAX, g.rows - r0);
      gemm(x + r0 * g.c_in * int64_t(es), g.c_in, g.cig, r0, nr);
    }
    return;
  }
  const int64_t budget = int64_t(256) << 20;  // bytes of unfolded rows per tile
  int64_t row_bytes = g.groups * g.kc * int64_t(es);
  int64_t tile = std::max<int64_t>(1, budget / std::max<int64_t>(row_bytes, 1));
  tile = std::min<int64_t>({tile, g.rows, INT_MAX});
  Scratch col(static_cast<size_t>(tile * row_bytes));
  for (int64_t r0 = 0; r0 < g.rows; r0 += tile) {
    int64_t nr = std::min(tile, g.rows - r0);
    conv_im2col(static_cast<int>(es), x, col.p, g, r0, nr, stream());
    gemm(static_cast<const char*>(col.p), g.kc, nr * g.kc, r0, nr);
  }
}

// ----------------------------------------------------------------------------------------------
// cuDNN

#ifdef MLX_CUDA_HAS_CUDNN
namespace fe = cudnn_frontend;

cudnnHandle_t conv_cudnn_handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t x;
    if (cudnnCreate(&x) != CUDNN_STATUS_SUCCESS) throw std::runtime_error("[conv] cudnnCreate failed.");
    return x;
  }();
  static cudaStream_t last = nullptr;
  bind_stream(last, [&](cudaStream_t s) { cudnnSetStream(h, s); });
  return h;
}

enum class CudnnOp { fprop, dgrad, wgrad };

// One cuDNN convolution: tensors in cuDNN's (N, C, spatial...) order with their strides.
// a: X (fprop, wgrad) or DY (dgrad); b: W (fprop, dgrad) or DY (wgrad); c: the output.
struct CudnnConv {
  CudnnOp op;
  Dtype dtype;
  Vec a_dim, a_str, b_dim, b_str, c_dim, c_str;
  Vec pre, post, stride, dil;
  bool conv_mode = false;  // CONVOLUTION (flipped kernel) instead of CROSS_CORRELATION

  std::string key() const {
    std::ostringstream s;
    auto put = [&](const Vec& v) {
      for (auto x : v) s << x << ',';
      s << ';';
    };
    s << int(op) << ':' << int(dtype) << ':' << conv_mode << ':' << tf32_enabled() << ':';
    for (auto* v : {&a_dim, &a_str, &b_dim, &b_str, &c_dim, &c_str, &pre, &post, &stride, &dil}) put(*v);
    return s.str();
  }
};

// MLX_CUDNN_AUTOTUNE=1 times several cuDNN plans at a graph's first execution instead of taking
// the first heuristic choice. Off by default: on the measured H100 convolution it changed nothing,
// and tuning synchronizes the device once per new graph.
bool conv_autotune() {
  static const bool on = env_flag("MLX_CUDNN_AUTOTUNE");
  return on;
}
constexpr int64_t kTunedPlans = 8;

struct CudnnPlan {
  bool ok = false;
  bool tune = false;  // time the built candidates at the first execution
  std::shared_ptr<fe::graph::Graph> graph;
  int64_t workspace = 0;
};

const char* op_name(CudnnOp op) {
  return op == CudnnOp::fprop ? "fprop" : op == CudnnOp::dgrad ? "dgrad" : "wgrad";
}

std::shared_ptr<CudnnPlan> build_plan(const CudnnConv& c) {
  auto plan = std::make_shared<CudnnPlan>();
  fe::DataType_t io = c.dtype == float16    ? fe::DataType_t::HALF
                      : c.dtype == bfloat16 ? fe::DataType_t::BFLOAT16
                                            : fe::DataType_t::FLOAT;
  auto g = std::make_shared<fe::graph::Graph>();
  g->set_io_data_type(io).set_intermediate_data_type(fe::DataType_t::FLOAT).set_compute_data_type(
      fe::DataType_t::FLOAT);
  auto tensor = [&](const char* name, int64_t uid, const Vec& dim, const Vec& str) {
    return g->tensor(
        fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(dim).set_stride(str).set_data_type(io));
  };
  auto mode = c.conv_mode ? fe::ConvolutionMode_t::CONVOLUTION : fe::ConvolutionMode_t::CROSS_CORRELATION;
  // The geometry is the same for the three operations' attribute types.
  auto attrs = [&](auto a) {
    a.set_pre_padding(c.pre)
        .set_post_padding(c.post)
        .set_stride(c.stride)
        .set_dilation(c.dil)
        .set_convolution_mode(mode)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    return a;
  };
  auto A = tensor(c.op == CudnnOp::dgrad ? "dy" : "x", 1, c.a_dim, c.a_str);
  auto B = tensor(c.op == CudnnOp::wgrad ? "dy" : "w", 2, c.b_dim, c.b_str);
  std::shared_ptr<fe::graph::Tensor_attributes> out;
  if (c.op == CudnnOp::fprop) out = g->conv_fprop(A, B, attrs(fe::graph::Conv_fprop_attributes()));
  else if (c.op == CudnnOp::dgrad) out = g->conv_dgrad(A, B, attrs(fe::graph::Conv_dgrad_attributes()));
  else out = g->conv_wgrad(B, A, attrs(fe::graph::Conv_wgrad_attributes()));
  out->set_output(true).set_uid(3).set_dim(c.c_dim).set_stride(c.c_str).set_data_type(io);

  cudnnHandle_t h = conv_cudnn_handle();
  auto fail = [&](const char* stage, fe::error_t e) {
    if (conv_log())
      std::fprintf(stderr, "[conv] cuDNN %s not used (%s): %s\n", op_name(c.op), stage, e.get_message().c_str());
    return plan;
  };
  fe::error_t e = g->validate();
  if (e.is_bad()) return fail("validate", e);
  e = g->build_operation_graph(h);
  if (e.is_bad()) return fail("build_operation_graph", e);
  e = g->create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK});
  if (e.is_bad()) return fail("create_execution_plans", e);
  if (c.dtype == float32 && !tf32_enabled()) {
    // Tensor-core engines on float32 data compute in TF32 (or convert the inputs down).
    g->deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE, fe::NumericalNote_t::DOWN_CONVERT_INPUTS});
  }
  g->deselect_workspace_greater_than(int64_t(1) << 30);
  e = g->check_support(h);
  if (e.is_bad()) return fail("check_support", e);
  e = g->build_plans(h, fe::BuildPlanPolicy_t::HEURISTICS_CHOICE);
  if (e.is_bad()) return fail("build_plans", e);
  if (conv_autotune()) {
    // Also build the next few heuristic candidates; the first execution times them all and
    // keeps the fastest (a failed build just leaves that candidate out).
    int64_t n = std::min<int64_t>(g->get_execution_plan_count(), kTunedPlans);
    for (int64_t i = 0; i < n; ++i) (void)g->build_plan_at_index(h, i);
    plan->tune = true;
  }
  int64_t ws = 0;
  e = g->get_workspace_size(ws);
  if (e.is_bad()) return fail("get_workspace_size", e);
  plan->ok = true;
  plan->graph = g;
  plan->workspace = ws;
  if (conv_log()) std::fprintf(stderr, "[conv] cuDNN %s plan built (workspace %lld bytes)\n", op_name(c.op),
                               static_cast<long long>(ws));
  return plan;
}

std::shared_ptr<CudnnPlan> get_plan(const CudnnConv& c) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<CudnnPlan>> cache;
  std::string k = c.key();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(k);
    if (it != cache.end()) return it->second;
  }
  std::shared_ptr<CudnnPlan> plan;
  graph_break();  // building (and timing) plans cannot be captured
  try {
    plan = build_plan(c);
  } catch (const std::exception& ex) {
    if (conv_log()) std::fprintf(stderr, "[conv] cuDNN %s not used: %s\n", op_name(c.op), ex.what());
    plan = std::make_shared<CudnnPlan>();
  }
  std::lock_guard<std::mutex> lock(mu);
  cache[k] = plan;
  return plan;
}

bool execute(const CudnnConv& c, const void* a, const void* b, void* out) {
  auto plan = get_plan(c);
  if (!plan->ok) return false;
  std::unordered_map<int64_t, void*> pack{
      {1, const_cast<void*>(a)}, {2, const_cast<void*>(b)}, {3, out}};
  if (plan->tune) {
    // Runs each candidate on these operands (writing `out`, which the chosen plan then
    // overwrites) and reorders the plans fastest first. On failure the heuristic choice stays.
    plan->tune = false;
    if (plan->graph->get_execution_plan_count() > 1) {
      Scratch tws(static_cast<size_t>(plan->graph->get_autotune_workspace_size()));
      fe::error_t te = plan->graph->autotune(conv_cudnn_handle(), pack, tws.p);
      int64_t ws = 0;
      if (te.is_good() && plan->graph->get_workspace_size(ws).is_good()) plan->workspace = ws;
      if (conv_log())
        std::fprintf(stderr, "[conv] cuDNN %s autotune: %s (workspace %lld bytes)\n", op_name(c.op),
                     te.is_good() ? "ok" : te.get_message().c_str(), static_cast<long long>(plan->workspace));
    }
  }
  Scratch ws(static_cast<size_t>(plan->workspace));
  fe::error_t e = plan->graph->execute(conv_cudnn_handle(), pack, ws.p);
  if (e.is_bad()) {
    if (conv_log()) std::fprintf(stderr, "[conv] cuDNN %s execute failed: %s\n", op_name(c.op), e.get_message().c_str());
    return false;
  }
  return true;
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// cuDNN (N, C, spatial...) dims and strides of a packed channels-last buffer whose memory order
// is (n, spatial..., c); 1-D gets a unit height.
void nhwc(int64_t n, int64_t c, const Vec& sp, Vec& dim, Vec& str) {
  Vec s = sp;
  if (s.size() == 1) s.insert(s.begin(), 1);
  Vec mem = cat({{n}, s, {c}});
  Vec rs = row_strides(mem);
  dim = cat({{n, c}, s});
  str = {rs[0], 1};
  for (size_t i = 0; i < s.size(); ++i) str.push_back(rs[1 + i]);
}

// Per-dim parameters, with a unit first dim for 1-D.
Vec params(const Vec& v, int64_t unit) {
  Vec r = v;
  if (r.size() == 1) r.insert(r.begin(), unit);
  return r;
}

// Input trimming for fprop/wgrad (input_dilation 1): the data the convolution reads along dim d
// starts at `start` (negative padding sliced off) and spans `len`, with `pre`/`post` padding
// around it such that the output size comes out exactly O.
struct Trim {
  Vec start, len, pre, post;
};
bool make_trim(const Vec& S, const Vec& K, const Vec& O, const Vec& stride, const Vec& kdil, const Vec& lo,
               Trim& t) {
  size_t D = S.size();
  t = Trim{Vec(D), Vec(D), Vec(D), Vec(D)};
  for (size_t d = 0; d < D; ++d) {
    int64_t extent = stride[d] * (O[d] - 1) + kdil[d] * (K[d] - 1) + 1;  // padded positions read
    int64_t pre = std::max<int64_t>(lo[d], 0);
    int64_t start = std::max<int64_t>(-lo[d], 0);
    int64_t len = std::min<int64_t>(S[d] - start, extent - pre);
    if (len <= 0) return false;
    t.start[d] = start;
    t.len[d] = len;
    t.pre[d] = pre;
    t.post[d] = extent - pre - len;
  }
  return true;
}

// Computes the convolution into y (out's row-contiguous device memory); false if cuDNN does not
// take it.
bool try_cudnn(const Convolution& p, const array& x, const array& w, const array& out, void* y) {
  int D = static_cast<int>(x.ndim()) - 2;
  if (D < 1 || D > 3) return false;
  Dtype t = out.dtype();
  int64_t N = x.shape(0), c_in = x.shape(-1), c_out = w.shape(0), G = p.groups_;
  int64_t cig = c_in / G, cog = c_out / G;
  Vec S = spatial_shape(x), K = spatial_shape(w), O = spatial_shape(out);
  Vec stride(p.stride_.begin(), p.stride_.end()), lo(p.padding_lo_.begin(), p.padding_lo_.end()),
      hi(p.padding_hi_.begin(), p.padding_hi_.end()), kdil(p.kernel_dilation_.begin(), p.kernel_dilation_.end()),
      idil(p.input_dilation_.begin(), p.input_dilation_.end());
  int64_t k_total = prod(K), o_total = prod(O);
  bool has_idil = false, has_stride = false;
  for (int d = 0; d < D; ++d) {
    has_idil |= idil[d] != 1;
    has_stride |= stride[d] != 1;
  }
  size_t es = out.itemsize();
  CudnnConv c;
  c.dtype = t;
  Scratch ta, tb, tc;

  if (has_idil) {
    // Transposed convolution: dgrad of the convolution from the output space (stride idil).
    if (has_stride) return false;
    Vec pre(D), post(D);
    for (int d = 0; d < D; ++d) {
      pre[d] = (K[d] - 1) * kdil[d] - lo[d];
      post[d] = (K[d] - 1) * kdil[d] - hi[d];
      if (pre[d] < 0 || post[d] < 0) return false;
    }
    const char* dy = packed(x, cat({{N}, S, {c_in}}), cat({{x.strides(0)}, spatial_strides(x), {x.strides(-1)}}), 0,
                            ta, true);
    // Weights as (G, cig, K..., cog) = (C_in, K..., C_out/G).
    const char* wt = packed(w, cat({{G, cig}, K, {cog}}),
                            cat({{cog * w.strides(0), w.strides(-1)}, spatial_strides(w), {w.strides(0)}}), 0, tb, true);
    c.op = CudnnOp::dgrad;
    nhwc(N, c_in, S, c.a_dim, c.a_str);
    nhwc(c_in, cog, K, c.b_dim, c.b_str);
    nhwc(N, c_out, O, c.c_dim, c.c_str);
    c.pre = params(pre, 0);
    c.post = params(post, 0);
    c.stride = params(idil, 1);
    c.dil = params(kdil, 1);
    c.conv_mode = !p.flip_;
    return execute(c, dy, wt, y);
  }

  Trim tr;
  if (!make_trim(S, K, O, stride, kdil, lo, tr)) return false;
  int64_t xoff = 0;
  for (int d = 0; d < D; ++d) xoff += tr.start[d] * x.strides(1 + d);

  if (G == 1 && !p.flip_ && k_total > o_total) {
    // Weight-gradient shape (the kernel is the cotangent): wgrad with the batch as channels and
    // the channels as batch. X: (N_w=C_in, C_w=N, S), DY: (C_in, C_out, K), DW: (C_out, N, O).
    const char* xa = packed(x, cat({{c_in}, tr.len, {N}}), cat({{x.strides(-1)}, spatial_strides(x), {x.strides(0)}}),
                            xoff, ta, true);
    const char* dy = packed(w, cat({{c_in}, K, {c_out}}), cat({{w.strides(-1)}, spatial_strides(w), {w.strides(0)}}),
                            0, tb, true);
    c.op = CudnnOp::wgrad;
    nhwc(c_in, N, tr.len, c.a_dim, c.a_str);
    nhwc(c_in, c_out, K, c.b_dim, c.b_str);
    nhwc(c_out, N, O, c.c_dim, c.c_str);
    c.pre = params(tr.pre, 0);
    c.post = params(tr.post, 0);
    c.stride = params(kdil, 1);
    c.dil = params(stride, 1);
    c.conv_mode = false;
    size_t n = static_cast<size_t>(out.size()) * es;
    tc.alloc(n);  // (C_out, O..., N)
    if (execute(c, xa, dy, tc.p)) {
      // out (N, O..., C_out) from (C_out, O..., N).
      Vec ts = row_strides(cat({{c_out}, O, {N}}));
      Vec src_str = cat({{1}, Vec(ts.begin() + 1, ts.end() - 1), {ts[0]}});
      Vec shape = cat({{N}, O, {c_out}});
      conv_gather(static_cast<int>(es), tc.p, y, static_cast<int>(shape.size()), shape.data(), src_str.data(),
                  stream());
      return true;
    }
    // Fall through to fprop.
  }

  const char* xa = packed(x, cat({{N}, tr.len, {c_in}}), cat({{x.strides(0)}, spatial_strides(x), {x.strides(-1)}}),
                          xoff, ta, true);
  const char* wa =
      packed(w, cat({{c_out}, K, {cig}}), cat({{w.strides(0)}, spatial_strides(w), {w.strides(-1)}}), 0, tb, true);
  c.op = CudnnOp::fprop;
  nhwc(N, c_in, tr.len, c.a_dim, c.a_str);
  nhwc(c_out, cig, K, c.b_dim, c.b_str);
  nhwc(N, c_out, O, c.c_dim, c.c_str);
  c.pre = params(tr.pre, 0);
  c.post = params(tr.post, 0);
  c.stride = params(stride, 1);
  c.dil = params(kdil, 1);
  c.conv_mode = p.flip_;
  return execute(c, xa, wa, y);
}
#endif  // MLX_CUDA_HAS_CUDNN

bool eval_conv(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<Convolution&>(prim);
  const array& x = inputs[0];
  const array& w = inputs[1];
  array& out = outputs[0];
  Dtype t = out.dtype();
  if (t != float32 && t != float16 && t != bfloat16) return false;
  if (x.dtype() != t || w.dtype() != t) return false;
  int D = static_cast<int>(x.ndim()) - 2;
  if (D < 1 || D + 2 > kConvMaxDims) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  if (x.shape(-1) == 0 || x.size() == 0) {
    MLX_CUDA_CHECK(cudaMemsetAsync(alloc_out(out), 0, out.nbytes(), stream()));
    return true;
  }
  ConvGeom g = make_geom(p, x, w, out);
  if (!gemm_fits(g)) return false;
  char* y = static_cast<char*>(alloc_out(out));
  if (g.kc == 0) {
    MLX_CUDA_CHECK(cudaMemsetAsync(y, 0, out.nbytes(), stream()));
    return true;
  }
#ifdef MLX_CUDA_HAS_CUDNN
  if (aligned(y)) {
    try {
      if (try_cudnn(p, x, w, out, y)) {
        if (conv_log()) std::fprintf(stderr, "[conv] cuDNN\n");
        return true;
      }
    } catch (const std::exception& ex) {
      if (conv_log()) std::fprintf(stderr, "[conv] cuDNN path failed: %s\n", ex.what());
    }
  }
#endif
  if (conv_log()) std::fprintf(stderr, "[conv] im2col + cuBLAS\n");
  Scratch tx, tw;
  const char* xp = packed(x, cat({{x.shape(0)}, spatial_shape(x), {x.shape(-1)}}),
                          cat({{x.strides(0)}, spatial_strides(x), {x.strides(-1)}}), 0, tx);
  const char* wp = packed(w, cat({{w.shape(0)}, spatial_shape(w), {w.shape(-1)}}),
                          cat({{w.strides(0)}, spatial_strides(w), {w.strides(-1)}}), 0, tw);
  run_gemm_path(p, g, xp, wp, y, t);
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(Convolution, eval_conv);

}  // namespace mlx::core::cu

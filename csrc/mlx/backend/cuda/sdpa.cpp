// Scaled dot-product attention on the GPU through cuDNN's fused attention (cuDNN frontend
// graph API). Cases cuDNN does not take run the primitive's composite definition, whose nodes
// have GPU kernels (eval_fast_composite); nothing here raises for an unsupported case.
//
// The graphs (one per kind, shapes, strides, dtype, mask kind and scale; built once, cached):
//
//   forward   O[, Stats] = sdpa(Q, K, V; attn_scale, mask, [Bias], generate_stats)
//   backward  dQ, dK, dV = sdpa_backward(Q, K, V, O, dO, Stats; attn_scale, mask, [Bias])
//
//   Q  {B, Hq, Lq, D}     K {B, Hk, Lk, D}    V {B, Hk, Lk, Dv}    (f16/bf16; the strides of
//                         the mlx arrays, e.g. those of a (B, L, H, D) array transposed, as long
//                         as the last one is 1 and the others are multiples of 16 bytes; else a
//                         row-contiguous copy is made first)
//   O, dO {B, Hq, Lq, Dv} row-contiguous; dQ/dK/dV row-contiguous like Q/K/V
//   Stats {B, Hq, Lq, 1}  float32, natural-log log-sum-exp of each score row (training forward)
//   Bias {b, h, Lq, Lk}   the additive mask (b in {1, B}, h in {1, Hq}: the broadcast dims of
//                         the mask have extent 1); a bool mask becomes 0 / the dtype's lowest
//                         value first; rows are padded to a multiple of 8 elements if needed
//   mask: "causal" with Lq == Lk is cuDNN's top-left causal mask; with Lq < Lk the bottom-right
//         one (query i sees keys j <= i + Lk - Lq, MLX's convention); Lq > Lk is left to the
//         composite (its first rows see no key, which MLX defines as a uniform average)
//   GQA: Hq a multiple of Hk (cuDNN reduces dK/dV over the query heads of a group)
//   io type f16/bf16, intermediate and compute type float32.
//
// The gradient primitive runs the training forward (O and Stats into scratch memory), then the
// backward graph; gradients not asked for (argnums) go to scratch memory too. Gradients of the
// mask or sinks, and sinks at all, use the composite.
//
// MLX_CUDNN_SDPA=0 in the environment turns the cuDNN path off; with MLX_CUDA_LOG_FALLBACK=1
// the reason cuDNN refused a configuration is printed once per configuration.
#include "mlx/backend/cuda/cuda.h"
#include "mlx/backend/cuda/fast_composite.h"
#include "mlx/primitives/fast.h"

#ifdef MLX_CUDA_HAS_CUDNN
#include <cudnn.h>
#include <cudnn_frontend.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlx/ops.h"
#include "mlx/transforms.h"
#endif

namespace mlx::core::cu {

using namespace mlx::core::fast;

// sdpa_mask.cu
bool mask_is_causal(const void* p, Dtype t, int64_t s_q, int64_t s_k, int64_t Lq, int64_t Lk);

#ifdef MLX_CUDA_HAS_CUDNN

namespace {

namespace fe = cudnn_frontend;
using TensorPtr = std::shared_ptr<fe::graph::Tensor_attributes>;

enum Uid : int64_t { kQ = 1, kK, kV, kO, kStats, kBias, kdO, kdQ, kdK, kdV };
enum class Kind : int64_t { Inference, Training, Backward };
enum class MaskKind : int64_t { None, CausalTopLeft, CausalBottomRight, Bias };

// A 4-d operand as cuDNN sees it: dims {B, H, S, D} and strides in elements.
struct T4 {
  int64_t dim[4] = {0, 0, 0, 0};
  int64_t stride[4] = {0, 0, 0, 0};
  std::vector<int64_t> dims() const { return {dim[0], dim[1], dim[2], dim[3]}; }
  std::vector<int64_t> strides() const { return {stride[0], stride[1], stride[2], stride[3]}; }
};

int64_t round8(int64_t n) { return (n + 7) / 8 * 8; }

// Row-contiguous layout of dims d.
T4 dense(int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  T4 t;
  int64_t d[4] = {d0, d1, d2, d3};
  int64_t s = 1;
  for (int i = 3; i >= 0; --i) {
    t.dim[i] = d[i];
    t.stride[i] = s;
    s *= d[i];
  }
  return t;
}

// x's strides over dims `d` (d[i] is x.shape(i) or 1). A dim of extent 1 never addresses
// memory: it gets a dense-looking stride rounded to 8 elements so that no check trips on it.
T4 describe(const array& x, const int64_t d[4]) {
  T4 t;
  for (int i = 3; i >= 0; --i) {
    t.dim[i] = d[i];
    if (d[i] != 1) t.stride[i] = x.strides(i);
    else t.stride[i] = i == 3 ? 1 : round8(t.stride[i + 1] * t.dim[i + 1]);
  }
  return t;
}

T4 describe(const array& x) {
  int64_t d[4] = {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
  return describe(x, d);
}

// cuDNN's attention kernels move rows with 16-byte vectors (TMA): the last stride 1, the
// others positive multiples of 16 bytes (8 f16/bf16 elements), the start 16-byte aligned.
bool aligned(const T4& t, const array& x) {
  if (x.offset() % 16 != 0 || t.stride[3] != 1) return false;
  for (int i = 0; i < 3; ++i)
    if (t.dim[i] > 1 && (t.stride[i] <= 0 || t.stride[i] % 8 != 0)) return false;
  return true;
}

// x itself when cuDNN can read it, else a row-contiguous copy (false if that fails).
bool prep_operand(const array& x, array& use, T4& t) {
  use = x;
  t = describe(x);
  if (aligned(t, x)) return true;
  array c(x.shape(), x.dtype(), nullptr, {});
  if (!copy_to_row_contiguous(x, c)) return false;
  use = c;
  t = describe(c);
  return aligned(t, c);
}

// True when x (4-d) is laid out row-contiguously (dims of extent 1 ignored).
bool is_dense(const array& x) {
  int64_t s = 1;
  for (int i = 3; i >= 0; --i) {
    if (x.shape(i) != 1 && x.strides(i) != s) return false;
    s *= x.shape(i);
  }
  return x.offset() % 16 == 0;
}

// The mask (B, Hq, Lq, Lk), possibly a broadcast view, as cuDNN's additive bias: dims
// {b, h, Lq, Lk} with b/h 1 where the mask is broadcast, rows readable with 16-byte vectors.
// A bool mask becomes 0 where true and the dtype's lowest value where false; rows whose length
// is not a multiple of 8 are padded (the padding is never read: the dims say Lk).
bool prep_bias(const array& m, Dtype t, Stream s, array& use, T4& desc) {
  int64_t B = m.shape(0), H = m.shape(1), Lq = m.shape(2), Lk = m.shape(3);
  int64_t eb = (B > 1 && m.strides(0) != 0) ? B : 1;
  int64_t eh = (H > 1 && m.strides(1) != 0) ? H : 1;
  int64_t d[4] = {eb, eh, Lq, Lk};
  if (m.dtype() == t) {
    desc = describe(m, d);
    if (aligned(desc, m)) {
      use = m;
      return true;
    }
  } else if (m.dtype() != bool_) {
    return false;
  }
  Shape zero{0, 0, 0, 0}, ones{1, 1, 1, 1};
  Shape ext{static_cast<int>(eb), static_cast<int>(eh), static_cast<int>(Lq), static_cast<int>(Lk)};
  array e = slice(m, zero, ext, ones, s);
  bool copied = false;
  if (m.dtype() == bool_) {
    float lowest = t == float16 ? -65504.0f : -3.3895313892515355e38f;
    e = where(e, array(0.0f, t), array(lowest, t), s);
    copied = true;
  }
  int64_t Lkp = round8(Lk);
  if (Lkp != Lk) {
    e = pad(e, {{0, 0}, {0, 0}, {0, 0}, {0, static_cast<int>(Lkp - Lk)}}, array(0.0f, t), "constant", s);
    e = slice(e, zero, ext, ones, s);
  } else if (!copied) {
    e = contiguous(e, false, s);
  }
  mlx::core::eval({e});
  if (e.dtype() != t || e.ndim() != 4) return false;
  desc = describe(e, d);
  if (!aligned(desc, e)) return false;
  use = e;
  return true;
}

fe::DataType_t io_type(Dtype t) { return t == float16 ? fe::DataType_t::HALF : fe::DataType_t::BFLOAT16; }

// Everything a graph depends on.
struct Desc {
  Dtype dtype = float16;
  int64_t B = 0, Hq = 0, Hk = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
  T4 q, k, v, bias;
  MaskKind mask = MaskKind::None;
  float scale = 1.0f;

  std::vector<int64_t> key(Kind kind) const {
    uint32_t sb;
    std::memcpy(&sb, &scale, sizeof(sb));
    std::vector<int64_t> r{static_cast<int64_t>(kind), static_cast<int64_t>(dtype), B, Hq, Hk, Lq, Lk, D, Dv,
                           static_cast<int64_t>(mask), static_cast<int64_t>(sb)};
    for (const T4* t : {&q, &k, &v, &bias})
      for (int i = 0; i < 4; ++i) {
        r.push_back(t->dim[i]);
        r.push_back(t->stride[i]);
      }
    return r;
  }
};

bool enabled() {
  static const bool on = !env_off("MLX_CUDNN_SDPA");
  return on;
}

// One cuDNN handle, on the backend's stream; null if cuDNN cannot start.
cudnnHandle_t handle() {
  static cudnnHandle_t h = []() -> cudnnHandle_t {
    cudnnHandle_t x = nullptr;
    if (cudnnCreate(&x) != CUDNN_STATUS_SUCCESS) {
      if (log_fallbacks()) std::fprintf(stderr, "[sdpa] cudnnCreate failed; attention uses its composite.\n");
      return nullptr;
    }
    return x;
  }();
  static cudaStream_t last = nullptr;
  if (h) bind_stream(last, [&](cudaStream_t s) { cudnnSetStream(h, s); });
  return h;
}

struct Plan {
  std::shared_ptr<fe::graph::Graph> graph;  // null: cuDNN does not take this configuration
  int64_t workspace = 0;
};

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::vector<int64_t>, Plan>& cache() {
  static std::map<std::vector<int64_t>, Plan> c;
  return c;
}

bool good(fe::error_t e, std::string& why) {
  if (e.is_good()) return true;
  why = e.get_message();
  return false;
}

TensorPtr input(fe::graph::Graph& g, const char* name, int64_t uid, const T4& t, fe::DataType_t dt) {
  fe::graph::Tensor_attributes a;
  a.set_name(name).set_uid(uid).set_dim(t.dims()).set_stride(t.strides()).set_data_type(dt);
  return g.tensor(a);
}

void output(const TensorPtr& x, int64_t uid, const T4& t, fe::DataType_t dt) {
  x->set_output(true).set_uid(uid).set_dim(t.dims()).set_stride(t.strides()).set_data_type(dt);
}

template <typename Attrs>
void set_mask(Attrs& a, MaskKind m) {
  if (m == MaskKind::CausalTopLeft) a.set_causal_mask(true);
  else if (m == MaskKind::CausalBottomRight) a.set_causal_mask_bottom_right(true);
}

Plan build(const Desc& d, Kind kind, std::string& why) {
  try {
    auto g = std::make_shared<fe::graph::Graph>();
    fe::DataType_t io = io_type(d.dtype);
    g->set_io_data_type(io);
    g->set_intermediate_data_type(fe::DataType_t::FLOAT);
    g->set_compute_data_type(fe::DataType_t::FLOAT);
    TensorPtr Q = input(*g, "Q", kQ, d.q, io);
    TensorPtr K = input(*g, "K", kK, d.k, io);
    TensorPtr V = input(*g, "V", kV, d.v, io);
    TensorPtr Bias = d.mask == MaskKind::Bias ? input(*g, "Bias", kBias, d.bias, io) : nullptr;
    T4 o = dense(d.B, d.Hq, d.Lq, d.Dv);
    T4 stats = dense(d.B, d.Hq, d.Lq, 1);
    if (kind != Kind::Backward) {
      fe::graph::SDPA_attributes a;
      a.set_name("sdpa");
      a.set_generate_stats(kind == Kind::Training);
      a.set_attn_scale(d.scale);
      set_mask(a, d.mask);
      if (Bias) a.set_bias(Bias);
      auto r = g->sdpa(Q, K, V, a);
      output(r[0], kO, o, io);
      if (kind == Kind::Training) output(r[1], kStats, stats, fe::DataType_t::FLOAT);
    } else {
      TensorPtr O = input(*g, "O", kO, o, io);
      TensorPtr dO = input(*g, "dO", kdO, o, io);
      TensorPtr S = input(*g, "Stats", kStats, stats, fe::DataType_t::FLOAT);
      fe::graph::SDPA_backward_attributes a;
      a.set_name("sdpa_backward");
      a.set_attn_scale(d.scale);
      set_mask(a, d.mask);
      if (Bias) a.set_bias(Bias);
      auto r = g->sdpa_backward(Q, K, V, O, dO, S, a);
      output(r[0], kdQ, dense(d.B, d.Hq, d.Lq, d.D), io);
      output(r[1], kdK, dense(d.B, d.Hk, d.Lk, d.D), io);
      output(r[2], kdV, dense(d.B, d.Hk, d.Lk, d.Dv), io);
    }
    cudnnHandle_t h = handle();
    if (!good(g->validate(), why) || !good(g->build_operation_graph(h), why) ||
        !good(g->create_execution_plans({fe::HeurMode_t::A}), why) || !good(g->check_support(), why) ||
        !good(g->build_plans(fe::BuildPlanPolicy_t::HEURISTICS_CHOICE), why))
      return {};
    int64_t ws = 0;
    if (!good(g->get_workspace_size(ws), why)) return {};
    return {g, ws < 0 ? 0 : ws};
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  return {};
}

void log_refusal(const Desc& d, Kind kind, const std::string& why) {
  if (!log_fallbacks()) return;
  static const char* kinds[] = {"forward", "training forward", "backward"};
  static const char* masks[] = {"none", "causal (top-left)", "causal (bottom-right)", "bias"};
  std::fprintf(stderr,
               "[sdpa] cuDNN %s not available for B=%lld Hq=%lld Hk=%lld Lq=%lld Lk=%lld D=%lld Dv=%lld mask=%s: "
               "%s; using the composite.\n",
               kinds[static_cast<int>(kind)], static_cast<long long>(d.B), static_cast<long long>(d.Hq),
               static_cast<long long>(d.Hk), static_cast<long long>(d.Lq), static_cast<long long>(d.Lk),
               static_cast<long long>(d.D), static_cast<long long>(d.Dv), masks[static_cast<int>(d.mask)],
               why.c_str());
}

// The cached plan for (d, kind), building it on first use; false if cuDNN refuses.
bool plan_for(const Desc& d, Kind kind, Plan& plan) {
  auto key = d.key(kind);
  std::lock_guard<std::mutex> lk(cache_mutex());
  auto it = cache().find(key);
  if (it == cache().end()) {
    graph_break();  // building a plan cannot be captured
    std::string why;
    Plan p = build(d, kind, why);
    if (!p.graph) log_refusal(d, kind, why);
    it = cache().emplace(std::move(key), std::move(p)).first;
  }
  plan = it->second;
  return plan.graph != nullptr;
}

// Queues the plan on the stream; on failure the configuration is remembered as refused.
bool execute(const Desc& d, Kind kind, const Plan& plan, std::unordered_map<int64_t, void*>& pack) {
  Scratch ws(plan.workspace > 0 ? static_cast<size_t>(plan.workspace) : 0);
  std::string why;
  bool ok;
  try {
    std::lock_guard<std::mutex> lk(cache_mutex());
    ok = good(plan.graph->execute(handle(), pack, ws.p), why);
  } catch (const std::exception& e) {
    ok = false;
    why = e.what();
  }
  if (!ok) {
    log_refusal(d, kind, "execute: " + why);
    std::lock_guard<std::mutex> lk(cache_mutex());
    cache()[d.key(kind)] = Plan{};
  }
  return ok;
}

// Whether a mask array is the causal mask itself (bool: true where query i sees key j, i.e.
// j <= i + Lk - Lq; additive: 0 there and the dtype's lowest value or -inf elsewhere), the
// same for every batch and head. Then cuDNN's causal attention gives the result of adding it:
// every row keeps key 0, and exp of a score pushed down to the lowest value is 0. Answering
// reads the mask on the device and waits for it, so the answer is remembered for the last few
// mask buffers; a remembered buffer is held (a held buffer is never donated, so it cannot
// change while remembered).
bool is_causal_mask(const array& m) {
  if (m.shape(0) > 1 && m.strides(0) != 0) return false;
  if (m.shape(1) > 1 && m.strides(1) != 0) return false;
  Dtype t = m.dtype();
  if (t != bool_ && t != float16 && t != bfloat16 && t != float32) return false;
  struct Seen {
    std::shared_ptr<Data> data;
    size_t offset;
    int64_t sq, sk, Lq, Lk;
    Dtype t;
    bool causal;
  };
  static std::mutex mu;
  static auto& seen = *new std::vector<Seen>;  // most recent last; never destroyed (exit order)
  int64_t sq = m.strides(2), sk = m.strides(3), Lq = m.shape(2), Lk = m.shape(3);
  std::lock_guard<std::mutex> lk(mu);
  for (auto& e : seen) {
    if (e.data == m.data_shared_ptr() && e.offset == m.offset() && e.sq == sq && e.sk == sk && e.Lq == Lq &&
        e.Lk == Lk && e.t == t)
      return e.causal;
  }
  graph_break();  // the answer is read back on the host
  bool causal = mask_is_causal(in_ptr(m), t, sq, sk, Lq, Lk);
  if (seen.size() >= 4) seen.erase(seen.begin());
  seen.push_back({m.data_shared_ptr(), m.offset(), sq, sk, Lq, Lk, t, causal});
  return causal;
}

// The operands of a cuDNN attention, or false when this configuration is not one cuDNN takes.
struct Prepared {
  Desc d;
  array q, k, v, bias;
};

bool prepare(float scale, MaskMode mode, bool has_sinks, const std::vector<array>& in, Stream s, Prepared& p) {
  if (has_sinks || !enabled()) return false;
  const array& q = in[0];
  const array& k = in[1];
  const array& v = in[2];
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) return false;
  Dtype t = q.dtype();
  if ((t != float16 && t != bfloat16) || k.dtype() != t || v.dtype() != t) return false;
  Desc& d = p.d;
  d.dtype = t;
  d.B = q.shape(0);
  d.Hq = q.shape(1);
  d.Lq = q.shape(2);
  d.D = q.shape(3);
  d.Hk = k.shape(1);
  d.Lk = k.shape(2);
  d.Dv = v.shape(3);
  d.scale = scale;
  if (d.B == 0 || d.Hq == 0 || d.Lq == 0 || d.Lk == 0 || d.Hk == 0 || d.Hq % d.Hk != 0) return false;
  // Head dims 64 and 128 only: the ones measured on the lent H200. A test with D = 80 (causal)
  // passed in one run and hung in the next, so other sizes keep the composite until checked.
  auto measured = [](int64_t v) { return v == 64 || v == 128; };
  if (!measured(d.D) || !measured(d.Dv)) return false;
  if (mode == MaskMode::Causal) {
    if (d.Lq > d.Lk) return false;
    d.mask = d.Lq == d.Lk ? MaskKind::CausalTopLeft : MaskKind::CausalBottomRight;
  } else if (mode == MaskMode::Array) {
    if (in.size() < 4 || in[3].ndim() != 4) return false;
    d.mask = MaskKind::Bias;
    if (d.Lq <= d.Lk && is_causal_mask(in[3]))
      d.mask = d.Lq == d.Lk ? MaskKind::CausalTopLeft : MaskKind::CausalBottomRight;
  }
  if (!handle()) return false;
  if (!prep_operand(q, p.q, d.q) || !prep_operand(k, p.k, d.k) || !prep_operand(v, p.v, d.v)) return false;
  if (d.mask == MaskKind::Bias && !prep_bias(in[3], t, s, p.bias, d.bias)) return false;
  return true;
}

void* ptr(const array& a) { return const_cast<void*>(in_ptr(a)); }

bool eval_sdpa(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& op = static_cast<ScaledDotProductAttention&>(prim);
  Prepared p;
  Plan plan;
  if (prepare(op.scale_, op.mode_, op.has_sinks_, inputs, prim.stream(), p) &&
      plan_for(p.d, Kind::Inference, plan)) {
    std::unordered_map<int64_t, void*> pack{{kQ, ptr(p.q)}, {kK, ptr(p.k)}, {kV, ptr(p.v)}};
    if (p.d.mask == MaskKind::Bias) pack[kBias] = ptr(p.bias);
    pack[kO] = alloc_out(outputs[0]);
    if (execute(p.d, Kind::Inference, plan, pack)) return true;
  }
  return eval_fast_composite(prim, inputs, outputs);
}

bool sdpa_vjp_cudnn(ScaledDotProductAttentionVJP& op, const std::vector<array>& inputs,
                    std::vector<array>& outputs) {
  for (int a : op.argnums_)
    if (a < 0 || a > 2) return false;  // mask or sinks gradient
  Prepared p;
  if (!prepare(op.scale_, op.mode_, op.has_sinks_, inputs, op.stream(), p)) return false;
  const Desc& d = p.d;
  // The cotangent of O, row-contiguous like O.
  array dO = inputs.back();
  if (dO.ndim() != 4 || dO.dtype() != d.dtype || dO.shape(0) != d.B || dO.shape(1) != d.Hq ||
      dO.shape(2) != d.Lq || dO.shape(3) != d.Dv)
    return false;
  if (!is_dense(dO)) {
    array c(dO.shape(), dO.dtype(), nullptr, {});
    if (!copy_to_row_contiguous(dO, c)) return false;
    dO = c;
    if (!is_dense(dO)) return false;
  }
  Plan fwd, bwd;
  if (!plan_for(d, Kind::Training, fwd) || !plan_for(d, Kind::Backward, bwd)) return false;
  size_t isz = size_of(d.dtype);
  Scratch o(static_cast<size_t>(d.B * d.Hq * d.Lq * d.Dv) * isz);
  Scratch stats(static_cast<size_t>(d.B * d.Hq * d.Lq) * sizeof(float));
  std::unordered_map<int64_t, void*> pack{{kQ, ptr(p.q)}, {kK, ptr(p.k)}, {kV, ptr(p.v)}};
  if (d.mask == MaskKind::Bias) pack[kBias] = ptr(p.bias);
  pack[kO] = o.p;
  pack[kStats] = stats.p;
  if (!execute(d, Kind::Training, fwd, pack)) return false;
  // Gradients asked for go to the outputs, the others to scratch.
  const int64_t sizes[3] = {d.B * d.Hq * d.Lq * d.D, d.B * d.Hk * d.Lk * d.D, d.B * d.Hk * d.Lk * d.Dv};
  const int64_t uids[3] = {kdQ, kdK, kdV};
  std::unique_ptr<Scratch> spare[3];
  for (int i = 0; i < 3; ++i) {
    void* dst = nullptr;
    for (size_t j = 0; j < op.argnums_.size(); ++j)
      if (op.argnums_[j] == i && !dst) dst = alloc_out(outputs[j]);
    if (!dst) {
      spare[i] = std::make_unique<Scratch>(static_cast<size_t>(sizes[i]) * isz);
      dst = spare[i]->p;
    }
    pack[uids[i]] = dst;
  }
  pack[kdO] = ptr(dO);
  return execute(d, Kind::Backward, bwd, pack);
}

bool eval_sdpa_vjp(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& op = static_cast<ScaledDotProductAttentionVJP&>(prim);
  if (sdpa_vjp_cudnn(op, inputs, outputs)) return true;
  return eval_fast_composite(prim, inputs, outputs);
}

}  // namespace

MLX_CUDA_KERNEL(ScaledDotProductAttention, eval_sdpa);
MLX_CUDA_KERNEL(ScaledDotProductAttentionVJP, eval_sdpa_vjp);

#else  // no cuDNN: the composite definitions

MLX_CUDA_KERNEL(ScaledDotProductAttention, eval_fast_composite);
MLX_CUDA_KERNEL(ScaledDotProductAttentionVJP, eval_fast_composite);

#endif

}  // namespace mlx::core::cu

// Function export and import (format: docs/dev/export.md).
//
// Export traces the function the way compile() does (tracer copies of the inputs, then the tape
// of nodes that depend on them), turns every node into (primitive name, parameters, input
// references, output shapes/dtypes) and stores the captured constants as raw bytes. Import reads
// the graph back and rebuilds it on the caller's arrays with the same primitives, so the results
// are ordinary lazy arrays that grad/vjp/jvp/vmap/compile can transform.
#include "mlx/export.h"

#include "mlx/export_impl.h"
#include "mlx/transforms.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <functional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "mlx/ops.h"
#include "mlx/ops/fast.h"
#include "mlx/primitives/compiled.h"
#include "mlx/primitives/conv.h"
#include "mlx/primitives/custom.h"
#include "mlx/primitives/fast.h"
#include "mlx/primitives/fft.h"
#include "mlx/primitives/linalg.h"
#include "mlx/primitives/number_of_elements.h"
#include "mlx/primitives/primitives.h"
#include "mlx/primitives/quantized.h"
#include "mlx/primitives/random.h"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core {

using namespace export_detail;

namespace export_detail {
void corrupt(const std::string& what) {
  throw std::runtime_error("[import_function] the file is corrupt or not a function file: " + what + ".");
}
}  // namespace export_detail

namespace {

constexpr char kMagic[8] = {'\x89', 'M', 'L', 'X', 'F', 'N', '\r', '\n'};
constexpr uint32_t kVersion = 1;
constexpr const char* kProducer = "mlx (this project) export v1";

// ---------------------------------------------------------------- dtype codes (stable)

const Dtype kDtypeCodes[] = {bool_, uint8, uint16, uint32, uint64, int8, int16,
                             int32, int64, float16, float32, float64, bfloat16, complex64};
constexpr int kNumDtypeCodes = sizeof(kDtypeCodes) / sizeof(kDtypeCodes[0]);

uint8_t dtype_code(Dtype t) {
  for (int i = 0; i < kNumDtypeCodes; ++i)
    if (kDtypeCodes[i] == t) return static_cast<uint8_t>(i);
  throw ValueError(msg("[export_function] unsupported dtype; got ", t, "."));
}

// ---------------------------------------------------------------- parameters

using Params = std::vector<ExportParam>;
ExportParam P(int64_t x) { return ExportParam(std::in_place_type<int64_t>, x); }
ExportParam P(int x) { return P(static_cast<int64_t>(x)); }
ExportParam PF(double x) { return ExportParam(std::in_place_type<double>, x); }
ExportParam PB(bool x) { return ExportParam(std::in_place_type<bool>, x); }
ExportParam PS(std::string x) { return ExportParam(std::in_place_type<std::string>, std::move(x)); }
ExportParam PT(Dtype x) { return ExportParam(std::in_place_type<Dtype>, x); }
template <typename V>
ExportParam PV(const V& v) {
  return ExportParam(std::in_place_type<std::vector<int64_t>>, std::vector<int64_t>(v.begin(), v.end()));
}

// Typed access to a node's parameters; a wrong type or count means a corrupt file.
// Fills the node's name and parameters from the primitive. Returns false when the primitive
// has no encoding (the caller then expands it or reports it).
bool encode(const Primitive& p, ExportNode& n) {
  n.name = p.name();
  Params& q = n.params;
#define IS(Cls) auto* x = dynamic_cast<const Cls*>(&p)
  if (dynamic_cast<const Unary*>(&p) || dynamic_cast<const Binary*>(&p) || dynamic_cast<const DivMod*>(&p) ||
      dynamic_cast<const Select*>(&p) || dynamic_cast<const Matmul*>(&p) || dynamic_cast<const QRF*>(&p) ||
      dynamic_cast<const LUF*>(&p) || dynamic_cast<const Solve*>(&p) || dynamic_cast<const SegmentedMM*>(&p) ||
      dynamic_cast<const ToFP8*>(&p) || dynamic_cast<const RandomMap*>(&p))
    return true;
  if (IS(AsType)) { q = {PT(x->dtype_)}; return true; }
  if (IS(Arange)) { q = {PF(x->start_), PF(x->stop_), PF(x->step_)}; return true; }
  if (IS(Reduce)) { q = {PS(enum_name(x->type_, reduce_type_names)), PV(x->axes_)}; return true; }
  if (IS(NumberOfElements)) { q = {PV(x->axes_), PB(x->inverted_), P(x->ddof_), PT(x->dtype_)}; return true; }
  if (IS(ArgReduce)) { q = {PS(enum_name(x->type_, argreduce_names)), P(x->axis_)}; return true; }
  if (IS(Reshape)) { q = {PV(x->shape_)}; return true; }
  if (IS(Transpose)) { q = {PV(x->perm_)}; return true; }
  if (IS(Broadcast)) { q = {PV(x->shape_)}; return true; }
  if (IS(Slice)) { q = {PV(x->start_), PV(x->stop_), PV(x->strides_)}; return true; }
  if (IS(SliceUpdate)) { q = {PV(x->start_), PV(x->stop_), PV(x->strides_)}; return true; }
  if (IS(AsStrided)) { q = {PV(x->shape_), PV(x->strides_), P(static_cast<int64_t>(x->offset_))}; return true; }
  if (IS(Concatenate)) { q = {P(x->axis_)}; return true; }
  if (IS(Gather)) { q = {P(x->axis_)}; return true; }
  if (IS(GatherAxis)) { q = {P(x->axis_)}; return true; }
  if (IS(Scatter)) { q = {P(x->axis_), PS(enum_name(x->mode_, scatter_mode_names))}; return true; }
  if (IS(ScatterAxis)) { q = {P(x->axis_), PS(enum_name(x->mode_, scatter_mode_names))}; return true; }
  if (IS(Softmax)) { q = {PB(x->precise_)}; return true; }
  if (IS(Convolution)) {
    q = {PV(x->stride_), PV(x->padding_lo_), PV(x->padding_hi_), PV(x->kernel_dilation_), PV(x->input_dilation_),
         P(x->groups_), PB(x->flip_)};
    return true;
  }
  if (IS(Inverse)) { q = {PB(x->tri_), PB(x->upper_)}; return true; }
  if (IS(Cholesky)) { q = {PB(x->upper_)}; return true; }
  if (IS(SVD)) { q = {PB(x->compute_uv_)}; return true; }
  if (IS(Eig)) { q = {PB(x->compute_vectors_)}; return true; }
  if (IS(Eigh)) { q = {PB(x->upper_), PB(x->compute_vectors_)}; return true; }
  if (IS(SolveTriangular)) { q = {PB(x->upper_)}; return true; }
  if (IS(Scan)) {
    q = {PS(enum_name(x->type_, scan_type_names)), P(x->axis_), PB(x->reverse_), PB(x->inclusive_)};
    return true;
  }
  if (IS(Sort)) { q = {P(x->axis_)}; return true; }
  if (IS(ArgSort)) { q = {P(x->axis_)}; return true; }
  if (IS(Partition)) { q = {P(x->kth_), P(x->axis_)}; return true; }
  if (IS(ArgPartition)) { q = {P(x->kth_), P(x->axis_)}; return true; }
  if (IS(SearchSorted)) { q = {PB(x->right_)}; return true; }
  if (IS(Hadamard)) { q = {PF(x->scale_), PB(x->transpose_)}; return true; }
  if (IS(GatherMM)) { q = {PB(x->sorted_)}; return true; }
  if (IS(Depends)) { q = {P(x->n_)}; return true; }
  if (IS(FFT)) { q = {PV(x->axes_), PB(x->inverse_), PB(x->real_), PF(x->scale_), P(x->real_n_)}; return true; }
  if (IS(RandomBits)) { q = {PV(x->shape_), P(x->width_)}; return true; }
  if (IS(Quantize)) { q = {P(x->group_size_), P(x->bits_), PS(enum_name(x->mode_, quant_mode_names))}; return true; }
  if (IS(Dequantize)) { q = {P(x->group_size_), P(x->bits_), PS(enum_name(x->mode_, quant_mode_names))}; return true; }
  if (IS(QuantizedMatmul)) {
    q = {P(x->group_size_), P(x->bits_), PS(enum_name(x->mode_, quant_mode_names)), PB(x->transpose_)};
    return true;
  }
  if (IS(GatherQMM)) {
    q = {P(x->group_size_), P(x->bits_), PS(enum_name(x->mode_, quant_mode_names)), PB(x->transpose_),
         PB(x->sorted_)};
    return true;
  }
  if (IS(FromFP8)) { q = {PT(x->dtype_)}; return true; }
  if (IS(fast::RMSNorm)) { q = {PF(x->eps_), PB(x->has_weight_)}; return true; }
  if (IS(fast::LayerNorm)) { q = {PF(x->eps_), PB(x->has_weight_), PB(x->has_bias_)}; return true; }
  if (IS(fast::RoPE)) {
    q = {P(x->dims_), PB(x->traditional_), PF(x->base_), PF(x->scale_), PB(x->has_freqs_)};
    return true;
  }
  if (IS(fast::ScaledDotProductAttention)) {
    q = {PF(x->scale_), PS(enum_name(x->mode_, mask_mode_names)), PB(x->has_sinks_)};
    return true;
  }
#undef IS
  n.name.clear();
  q.clear();
  return false;
}

// ---------------------------------------------------------------- tracing

uint8_t placement(const Primitive& p) {
  if (p.device().type == default_device().type) return 0;
  return p.device().type == Device::cpu ? 1 : 2;
}

struct GraphBuilder {
  ExportTrace& t;
  std::unordered_map<uintptr_t, ExportRef> ref;  // arrays already in the graph
  std::unordered_map<uintptr_t, int> const_index;
  std::vector<array> keep;  // keeps every mapped array alive so that ids stay unique

  explicit GraphBuilder(ExportTrace& tr) : t(tr) {}

  void map(const array& a, ExportRef r) {
    ref[a.id()] = r;
    keep.push_back(a);
  }

  ExportRef constant(const array& a) {
    auto it = const_index.find(a.id());
    if (it != const_index.end()) return {ExportRef::Constant, it->second, 0};
    int k = static_cast<int>(t.constants.size());
    t.constants.push_back(a);
    const_index[a.id()] = k;
    keep.push_back(a);
    return {ExportRef::Constant, k, 0};
  }

  // An array that does not depend on the inputs. A pending broadcast of a constant stays a
  // node (the constant is stored at its own size, and shapeless replay can re-broadcast it).
  ExportRef leaf(const array& a) {
    if (a.has_primitive() && !a.is_available() && dynamic_cast<const Broadcast*>(&a.primitive())) {
      ExportNode n;
      encode(a.primitive(), n);
      n.device = placement(a.primitive());
      n.inputs.push_back(constant(a.inputs()[0]));
      n.shapes.push_back(a.shape());
      n.dtypes.push_back(a.dtype());
      t.nodes.push_back(std::move(n));
      ExportRef r{ExportRef::Node, static_cast<int>(t.nodes.size()) - 1, 0};
      map(a, r);
      return r;
    }
    return constant(a);
  }

  ExportRef get(const array& a) {
    auto it = ref.find(a.id());
    if (it != ref.end()) return it->second;
    return leaf(a);
  }

  // Adds the nodes between the arrays already mapped and `outs`.
  void run(const std::vector<array>& outs) {
    std::unordered_set<uintptr_t> ids;
    for (auto& [id, r] : ref) ids.insert(id);
    for (auto& a : detail::depending_tape(outs, ids)) process(a);
  }

  // Maps a node's outputs to replacement arrays (its expansion), adding their nodes first.
  void replace(const std::vector<array>& outs, const std::vector<array>& repl, const char* name) {
    if (repl.size() != outs.size())
      throw ValueError(msg("[export_function] the expansion of a primitive has the wrong number of outputs; got ",
                           name, "."));
    run(repl);
    for (size_t k = 0; k < outs.size(); ++k) {
      ExportRef r = get(repl[k]);
      map(outs[k], r);
    }
  }

  void process(const array& a) {
    Primitive& p = a.primitive();
    auto outs = a.outputs();
    if (auto* c = dynamic_cast<Compiled*>(&p)) {
      replace(outs, c->expand(a.inputs()), p.name());
      return;
    }
    if (dynamic_cast<CustomTransforms*>(&p)) {
      // Inputs are the primals followed by the inner function's outputs, which the outputs alias:
      // the forward graph is kept and the custom rules are dropped.
      auto& ins = a.inputs();
      std::vector<array> repl(ins.end() - outs.size(), ins.end());
      replace(outs, repl, p.name());
      return;
    }
    ExportNode n;
    if (!encode(p, n)) {
      if (auto* fp = dynamic_cast<fast::FastPrimitive*>(&p)) {
        replace(outs, fp->fallback()(a.inputs()), p.name());
        return;
      }
      throw ValueError(msg("[export_function] this primitive can't be exported; got ", p.name(), "."));
    }
    n.device = placement(p);
    for (auto& in : a.inputs()) n.inputs.push_back(get(in));
    for (auto& o : outs) {
      n.shapes.push_back(o.shape());
      n.dtypes.push_back(o.dtype());
    }
    t.nodes.push_back(std::move(n));
    int idx = static_cast<int>(t.nodes.size()) - 1;
    for (size_t k = 0; k < outs.size(); ++k) map(outs[k], {ExportRef::Node, idx, static_cast<int>(k)});
  }
};

}  // namespace

ExportTrace trace_for_export(const KwargsFn& fun, const std::vector<array>& args, const Kwargs& kwargs) {
  detail::wait_async();  // the trace reads the state of the constants it captures
  ExportTrace t;
  t.num_args = static_cast<int>(args.size());
  std::vector<array> inputs = args;
  for (auto& [k, v] : kwargs) {
    t.kwarg_names.push_back(k);
    inputs.push_back(v);
  }
  for (auto& a : inputs) {
    dtype_code(a.dtype());
    t.input_shapes.push_back(a.shape());
    t.input_dtypes.push_back(a.dtype());
  }
  {
    detail::TraceGuard guard;
    GraphBuilder g(t);
    std::vector<array> tracers;
    for (size_t i = 0; i < inputs.size(); ++i) {
      array c = copy(inputs[i]);
      c.set_tracer(true);
      tracers.push_back(c);
      g.map(c, {ExportRef::Input, static_cast<int>(i), 0});
    }
    std::vector<array> targs(tracers.begin(), tracers.begin() + args.size());
    Kwargs tkw;
    size_t i = args.size();
    for (auto& [k, v] : kwargs) tkw.emplace(k, tracers[i++]);
    std::vector<array> outs;
    detail::compile_trace_depth()++;  // eval() of a traced value raises, as in compile
    try {
      outs = fun(targs, tkw);
    } catch (...) {
      detail::compile_trace_depth()--;
      throw;
    }
    detail::compile_trace_depth()--;
    g.run(outs);
    for (auto& o : outs) t.outputs.push_back(g.get(o));
  }
  for (auto& c : t.constants) dtype_code(c.dtype());
  eval(t.constants);
  return t;
}

namespace {

// ---------------------------------------------------------------- bytes

// FNV-1a (64-bit) over the payload's 8-byte little-endian words, then over its 0-7 tail bytes.
uint64_t fnv1a(const char* p, size_t n) {
  const uint64_t prime = 1099511628211ull;
  uint64_t h = 1469598103934665603ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * prime;
  }
  for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * prime;
  return h;
}

struct Out {
  std::string b;
  template <typename T>
  void pod(T v) {
    char tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.append(tmp, sizeof(T));
  }
  void u8(uint8_t v) { pod(v); }
  void u32(uint32_t v) { pod(v); }
  void u64(uint64_t v) { pod(v); }
  void i32(int32_t v) { pod(v); }
  void i64(int64_t v) { pod(v); }
  void f64(double v) { pod(v); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    b.append(s);
  }
  void shape(const Shape& s) {
    u32(static_cast<uint32_t>(s.size()));
    for (auto d : s) i32(d);
  }
  void dtype(Dtype t) { u8(dtype_code(t)); }
  void ref(const ExportRef& r) {
    u8(r.kind);
    u32(static_cast<uint32_t>(r.index));
    u32(static_cast<uint32_t>(r.out));
  }
  void param(const ExportParam& p) {
    std::visit(
        [&](auto&& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            u8('i');
            i64(v);
          } else if constexpr (std::is_same_v<T, double>) {
            u8('f');
            f64(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            u8('b');
            u8(v ? 1 : 0);
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            u8('v');
            u32(static_cast<uint32_t>(v.size()));
            for (auto e : v) i64(e);
          } else if constexpr (std::is_same_v<T, std::string>) {
            u8('s');
            str(v);
          } else {
            u8('t');
            dtype(v);
          }
        },
        p);
  }
};


struct In {
  const char* p;
  size_t n, pos = 0;
  In(const char* data, size_t size) : p(data), n(size) {}
  size_t left() const { return n - pos; }
  void need(size_t k) {
    if (k > left()) corrupt("a record ends early");
  }
  template <typename T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  uint8_t u8() { return pod<uint8_t>(); }
  uint32_t u32() { return pod<uint32_t>(); }
  uint64_t u64() { return pod<uint64_t>(); }
  int32_t i32() { return pod<int32_t>(); }
  int64_t i64() { return pod<int64_t>(); }
  double f64() { return pod<double>(); }
  // A count of items of at least `min_size` bytes each (bounded by what is left).
  uint32_t count(size_t min_size) {
    uint32_t c = u32();
    if (min_size > 0 && static_cast<uint64_t>(c) * min_size > left()) corrupt("a count exceeds the record");
    return c;
  }
  std::string str() {
    uint32_t k = count(1);
    std::string s(p + pos, k);
    pos += k;
    return s;
  }
  Shape shape() {
    uint32_t nd = count(4);
    Shape s(nd);
    for (auto& d : s) {
      d = i32();
      if (d < 0) corrupt("a negative dimension");
    }
    return s;
  }
  Dtype dtype() {
    uint8_t c = u8();
    if (c >= kNumDtypeCodes) corrupt("an unknown dtype code");
    return kDtypeCodes[c];
  }
  ExportRef ref() {
    ExportRef r;
    uint8_t k = u8();
    if (k > 2) corrupt("an unknown reference kind");
    r.kind = static_cast<ExportRef::Kind>(k);
    uint32_t i = u32(), o = u32();
    if (i > INT32_MAX || o > INT32_MAX) corrupt("a reference out of range");
    r.index = static_cast<int>(i);
    r.out = static_cast<int>(o);
    return r;
  }
  ExportParam param() {
    switch (u8()) {
      case 'i': return P(i64());
      case 'f': return PF(f64());
      case 'b': return PB(u8() != 0);
      case 'v': {
        uint32_t k = count(8);
        std::vector<int64_t> v(k);
        for (auto& e : v) e = i64();
        return ExportParam(std::in_place_type<std::vector<int64_t>>, std::move(v));
      }
      case 's': return PS(str());
      case 't': return PT(dtype());
      default: corrupt("an unknown parameter type");
    }
  }
};

// Row-major bytes of an evaluated array (any strides).
void append_array_bytes(std::string& out, const array& a) {
  size_t isz = a.itemsize(), n = a.size();
  if (n == 0) return;
  const char* base = a.data<char>();
  if (a.flags().row_contiguous) {
    out.append(base, n * isz);
    return;
  }
  size_t nd = a.ndim();
  std::vector<int> idx(nd, 0);
  size_t start = out.size();
  out.resize(start + n * isz);
  char* dst = out.data() + start;
  for (size_t e = 0; e < n; ++e) {
    int64_t off = 0;
    for (size_t d = 0; d < nd; ++d) off += static_cast<int64_t>(idx[d]) * a.strides()[d];
    std::memcpy(dst + e * isz, base + off * static_cast<int64_t>(isz), isz);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < a.shape(static_cast<int>(d))) break;
      idx[d] = 0;
    }
  }
}

array array_from_bytes(const Shape& shape, Dtype dtype, const char* src, size_t nbytes) {
  size_t n = shape_size(shape);
  Buffer b = allocator::malloc(std::max<size_t>(nbytes, 1));
  if (nbytes) std::memcpy(b.ptr, src, nbytes);
  Flags flags;
  int big = 0;
  for (auto s : shape) big += (s > 1);
  flags.contiguous = true;
  flags.row_contiguous = true;
  flags.col_contiguous = big <= 1;
  return array(shape, dtype, std::make_shared<Data>(b), row_strides(shape), 0, flags, n);
}

void write_record(std::ostream& f, char tag, const std::string& payload) {
  Out h;
  h.u8(static_cast<uint8_t>(tag));
  h.u64(payload.size());
  f.write(h.b.data(), h.b.size());
  f.write(payload.data(), payload.size());
  Out c;
  c.u64(fnv1a(payload.data(), payload.size()));
  f.write(c.b.data(), c.b.size());
}

// Trace payload; constants are written as indices into the file's constant table.
std::string trace_payload(const ExportTrace& t, const std::vector<int>& const_ids) {
  Out o;
  o.u32(t.num_args);
  o.u32(static_cast<uint32_t>(t.kwarg_names.size()));
  for (auto& k : t.kwarg_names) o.str(k);
  o.u32(static_cast<uint32_t>(t.input_shapes.size()));
  for (size_t i = 0; i < t.input_shapes.size(); ++i) {
    o.dtype(t.input_dtypes[i]);
    o.shape(t.input_shapes[i]);
  }
  o.u32(static_cast<uint32_t>(const_ids.size()));
  for (int c : const_ids) o.u32(c);
  o.u32(static_cast<uint32_t>(t.nodes.size()));
  for (auto& n : t.nodes) {
    o.str(n.name);
    o.u8(n.device);
    o.u32(static_cast<uint32_t>(n.params.size()));
    for (auto& p : n.params) o.param(p);
    o.u32(static_cast<uint32_t>(n.inputs.size()));
    for (auto& r : n.inputs) o.ref(r);
    o.u32(static_cast<uint32_t>(n.shapes.size()));
    for (size_t k = 0; k < n.shapes.size(); ++k) {
      o.dtype(n.dtypes[k]);
      o.shape(n.shapes[k]);
    }
  }
  o.u32(static_cast<uint32_t>(t.outputs.size()));
  for (auto& r : t.outputs) o.ref(r);
  return o.b;
}

// The signature a call is matched on.
std::string signature_string(int num_args, const std::vector<std::string>& kw, const std::vector<Shape>& shapes,
                             const std::vector<Dtype>& dtypes, bool shapeless) {
  std::ostringstream os;
  os << num_args << "|";
  for (auto& k : kw) os << k << ",";
  os << "|";
  for (size_t i = 0; i < shapes.size(); ++i) {
    os << dtype_name(dtypes[i]) << ":";
    if (shapeless) {
      os << shapes[i].size();
    } else {
      for (auto d : shapes[i]) os << d << "x";
    }
    os << ";";
  }
  return os.str();
}

}  // namespace

// ---------------------------------------------------------------- FunctionExporter

struct FunctionExporter::Impl {
  std::string path;
  KwargsFn fun;
  bool shapeless;
  std::ofstream f;
  bool closed = false;
  std::unordered_map<uintptr_t, int> const_ids;
  std::vector<array> held;  // constants already written (kept so their ids stay unique)
  std::unordered_set<std::string> signatures;
  uint32_t num_traces = 0;

  void check_stream() {
    if (!f) throw std::runtime_error(msg("[export_function] failed to write to ", path, "."));
  }

  void add(const std::vector<array>& args, const Kwargs& kwargs) {
    if (closed) throw std::runtime_error("[export_function] Attempting to write after exporting is closed.");
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    std::vector<std::string> names;
    for (auto& a : args) {
      shapes.push_back(a.shape());
      dtypes.push_back(a.dtype());
    }
    for (auto& [k, v] : kwargs) {
      names.push_back(k);
      shapes.push_back(v.shape());
      dtypes.push_back(v.dtype());
    }
    std::string sig = signature_string(static_cast<int>(args.size()), names, shapes, dtypes, shapeless);
    if (signatures.count(sig))
      throw std::runtime_error(
          "[export_function] Attempting to export a function twice with the same signature is not allowed.");
    ExportTrace t = trace_for_export(fun, args, kwargs);
    std::vector<int> ids;
    for (auto& c : t.constants) {
      auto it = const_ids.find(c.id());
      if (it != const_ids.end()) {
        ids.push_back(it->second);
        continue;
      }
      int k = static_cast<int>(held.size());
      Out o;
      o.u32(k);
      o.dtype(c.dtype());
      o.shape(c.shape());
      o.u64(c.nbytes());
      append_array_bytes(o.b, c);
      write_record(f, 'C', o.b);
      held.push_back(c);
      const_ids[c.id()] = k;
      ids.push_back(k);
    }
    write_record(f, 'T', trace_payload(t, ids));
    f.flush();
    check_stream();
    signatures.insert(sig);
    num_traces++;
  }

  void finish() {
    if (closed) return;
    closed = true;
    Out o;
    o.u32(static_cast<uint32_t>(held.size()));
    o.u32(num_traces);
    write_record(f, 'E', o.b);
    f.close();
    held.clear();
    const_ids.clear();
  }
};

FunctionExporter::FunctionExporter(const std::string& path, KwargsFn fun, bool shapeless, const std::string& metadata)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->fun = std::move(fun);
  impl_->shapeless = shapeless;
  impl_->f.open(path, std::ios::binary | std::ios::trunc);
  if (!impl_->f) throw std::runtime_error(msg("[export_function] Failed to open ", path, " for writing."));
  impl_->f.write(kMagic, sizeof(kMagic));
  Out v;
  v.u32(kVersion);
  impl_->f.write(v.b.data(), v.b.size());
  Out h;
  h.u32(shapeless ? 1u : 0u);
  h.str(kProducer);
  h.str(metadata);
  write_record(impl_->f, 'H', h.b);
  impl_->check_stream();
}

FunctionExporter::FunctionExporter(const std::string& path, const VecFn& fun, bool shapeless)
    : FunctionExporter(
          path, [fun](const std::vector<array>& a, const Kwargs&) { return fun(a); }, shapeless, "") {}

FunctionExporter::~FunctionExporter() {
  if (impl_) {
    try {
      impl_->finish();
    } catch (...) {
    }
  }
}
FunctionExporter::FunctionExporter(FunctionExporter&&) noexcept = default;
FunctionExporter& FunctionExporter::operator=(FunctionExporter&&) noexcept = default;

void FunctionExporter::operator()(const std::vector<array>& args, const Kwargs& kwargs) {
  if (!impl_) throw std::runtime_error("[export_function] Attempting to write after exporting is closed.");
  impl_->add(args, kwargs);
}

void FunctionExporter::close() {
  if (impl_) impl_->finish();
}

bool FunctionExporter::closed() const { return !impl_ || impl_->closed; }

FunctionExporter exporter(const std::string& path, const KwargsFn& fun, bool shapeless, const std::string& metadata) {
  return FunctionExporter(path, fun, shapeless, metadata);
}

void export_function(const std::string& path, const KwargsFn& fun, const std::vector<array>& args,
                     const Kwargs& kwargs, bool shapeless, const std::string& metadata) {
  FunctionExporter e(path, fun, shapeless, metadata);
  try {
    e(args, kwargs);
  } catch (...) {
    e.close();
    std::remove(path.c_str());  // leave no half-written file behind
    throw;
  }
  e.close();
}

void export_function(const std::string& path, const VecFn& fun, const std::vector<array>& args, bool shapeless) {
  export_function(
      path, [fun](const std::vector<array>& a, const Kwargs&) { return fun(a); }, args, {}, shapeless, "");
}

// ---------------------------------------------------------------- import: reading

struct ImportedFunction::Impl {
  std::string metadata;
  bool shapeless = false;
  std::vector<ExportTrace> traces;
};

namespace {

void check_trace(const ExportTrace& t) {
  size_t n_in = t.input_shapes.size();
  auto check_ref = [&](const ExportRef& r, size_t node_limit) {
    switch (r.kind) {
      case ExportRef::Input:
        if (static_cast<size_t>(r.index) >= n_in || r.out != 0) corrupt("an input reference out of range");
        break;
      case ExportRef::Constant:
        if (static_cast<size_t>(r.index) >= t.constants.size() || r.out != 0)
          corrupt("a constant reference out of range");
        break;
      case ExportRef::Node:
        if (static_cast<size_t>(r.index) >= node_limit ||
            static_cast<size_t>(r.out) >= t.nodes[r.index].shapes.size())
          corrupt("a node reference out of range");
        break;
    }
  };
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    if (t.nodes[i].shapes.empty()) corrupt("a node without outputs");
    for (auto& r : t.nodes[i].inputs) check_ref(r, i);
  }
  for (auto& r : t.outputs) check_ref(r, t.nodes.size());
}

ExportTrace read_trace(In& in, const std::vector<array>& constants) {
  ExportTrace t;
  t.num_args = static_cast<int>(in.u32());
  uint32_t nk = in.count(4);
  for (uint32_t i = 0; i < nk; ++i) t.kwarg_names.push_back(in.str());
  uint32_t ni = in.count(5);
  if (static_cast<size_t>(t.num_args) + nk != ni) corrupt("the input counts disagree");
  for (uint32_t i = 0; i < ni; ++i) {
    t.input_dtypes.push_back(in.dtype());
    t.input_shapes.push_back(in.shape());
  }
  uint32_t nc = in.count(4);
  for (uint32_t i = 0; i < nc; ++i) {
    uint32_t c = in.u32();
    if (c >= constants.size()) corrupt("a constant index out of range");
    t.constants.push_back(constants[c]);
  }
  uint32_t nn = in.count(17);
  t.nodes.resize(nn);
  for (auto& n : t.nodes) {
    n.name = in.str();
    n.device = in.u8();
    if (n.device > 2) corrupt("an unknown device");
    uint32_t np = in.count(2);
    for (uint32_t k = 0; k < np; ++k) n.params.push_back(in.param());
    uint32_t nin = in.count(9);
    for (uint32_t k = 0; k < nin; ++k) n.inputs.push_back(in.ref());
    uint32_t no = in.count(5);
    for (uint32_t k = 0; k < no; ++k) {
      n.dtypes.push_back(in.dtype());
      n.shapes.push_back(in.shape());
    }
  }
  uint32_t nout = in.count(9);
  for (uint32_t k = 0; k < nout; ++k) t.outputs.push_back(in.ref());
  if (in.left() != 0) corrupt("a trace record has trailing bytes");
  check_trace(t);
  // Rebuild the graph once on placeholders (lazy, nothing is computed) to check that every
  // node fits its inputs before any kernel can see it.
  std::vector<array> placeholders;
  for (size_t i = 0; i < t.input_shapes.size(); ++i) placeholders.push_back(zeros(t.input_shapes[i], t.input_dtypes[i]));
  try {
    replay(t, placeholders, false, true);
  } catch (const std::invalid_argument& e) {
    corrupt(e.what());
  } catch (const std::out_of_range& e) {
    corrupt(e.what());
  }
  return t;
}

}  // namespace

ImportedFunction import_function(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(msg("[import_function] Failed to open ", path, "."));
  f.seekg(0, std::ios::end);
  uint64_t remaining = static_cast<uint64_t>(std::max<std::streamoff>(f.tellg(), 0));
  f.seekg(0, std::ios::beg);
  // Reads the next n bytes (n already checked against what is left in the file).
  auto read = [&](char* dst, size_t n) {
    if (n > remaining || !f.read(dst, static_cast<std::streamsize>(n)))
      corrupt("the file is truncated");
    remaining -= n;
  };
  char head[sizeof(kMagic) + 4];
  if (remaining < sizeof(head))
    throw std::runtime_error(msg("[import_function] ", path, " is not a function file (too short)."));
  read(head, sizeof(head));
  if (std::memcmp(head, kMagic, sizeof(kMagic)) != 0) {
    // Apple MLX's .mlxfn files begin with a length-prefixed version string ("0.x.y").
    bool apple = head[8] == '0' && head[9] == '.';
    throw std::runtime_error(msg("[import_function] ", path, " is not a function file (wrong magic bytes)",
                                 apple ? "; it looks like a file written by Apple's MLX, whose format this build "
                                         "doesn't read."
                                       : "."));
  }
  uint32_t version;
  std::memcpy(&version, head + sizeof(kMagic), 4);
  if (version != kVersion)
    throw std::runtime_error(msg("[import_function] unsupported function file version; got ", version,
                                 " (this build reads version ", kVersion, ")."));
  auto impl = std::make_shared<ImportedFunction::Impl>();
  std::vector<array> constants;
  bool have_header = false, ended = false;
  std::string payload;
  while (!ended) {
    if (remaining == 0) corrupt("the file is truncated (no end record)");
    char rh[9];
    read(rh, 9);
    char tag = rh[0];
    uint64_t len, sum;
    std::memcpy(&len, rh + 1, 8);
    if (len > remaining || remaining - len < 8) corrupt("the file is truncated");
    payload.resize(static_cast<size_t>(len));
    read(payload.data(), payload.size());
    read(reinterpret_cast<char*>(&sum), 8);
    In rec(payload.data(), payload.size());
    if (sum != fnv1a(rec.p, rec.n)) corrupt("a checksum does not match");
    if (!have_header && tag != 'H') corrupt("the header record is missing");
    switch (tag) {
      case 'H': {
        if (have_header) corrupt("two header records");
        have_header = true;
        uint32_t flags = rec.u32();
        impl->shapeless = flags & 1u;
        rec.str();  // producer
        impl->metadata = rec.str();
        break;
      }
      case 'C': {
        uint32_t k = rec.u32();
        if (k != constants.size()) corrupt("constants out of order");
        Dtype t = rec.dtype();
        Shape s = rec.shape();
        uint64_t nb = rec.u64();
        uint64_t want = size_of(t);
        for (auto d : s) {
          if (d != 0 && want > rec.left() / static_cast<uint64_t>(d)) corrupt("a constant is larger than its record");
          want *= static_cast<uint64_t>(d);
        }
        if (nb != want || nb != rec.left()) corrupt("a constant has the wrong number of bytes");
        constants.push_back(array_from_bytes(s, t, rec.p + rec.pos, static_cast<size_t>(nb)));
        break;
      }
      case 'T':
        impl->traces.push_back(read_trace(rec, constants));
        break;
      case 'E': {
        uint32_t nc = rec.u32(), nt = rec.u32();
        if (nc != constants.size() || nt != impl->traces.size()) corrupt("the end record's counts disagree");
        ended = true;
        break;
      }
      default:
        corrupt("an unknown record");
    }
  }
  return ImportedFunction(impl);
}

namespace {

std::string describe_inputs(int num_args, const std::vector<std::string>& names, const std::vector<Shape>& shapes,
                            const std::vector<Dtype>& dtypes) {
  std::ostringstream os;
  os << "function with " << num_args << " positional inputs and " << names.size() << " keyword inputs:\n";
  for (size_t i = 0; i < shapes.size(); ++i) {
    os << "   ";
    if (static_cast<int>(i) < num_args) os << (i + 1);
    else os << "\"" << names[i - num_args] << "\"";
    os << ": " << shape_str(shapes[i]) << " " << dtype_name(dtypes[i]) << "\n";
  }
  return os.str();
}

}  // namespace

std::vector<array> ImportedFunction::operator()(const std::vector<array>& args) const { return (*this)(args, {}); }

std::vector<array> ImportedFunction::operator()(const std::vector<array>& args, const Kwargs& kwargs) const {
  std::vector<array> inputs = args;
  std::vector<std::string> names;
  for (auto& [k, v] : kwargs) {
    names.push_back(k);
    inputs.push_back(v);
  }
  for (auto& t : impl_->traces) {
    if (t.num_args != static_cast<int>(args.size()) || t.kwarg_names != names) continue;
    bool match = true, same = true;
    for (size_t i = 0; i < inputs.size() && match; ++i) {
      match = inputs[i].dtype() == t.input_dtypes[i] && inputs[i].ndim() == t.input_shapes[i].size();
      same = same && inputs[i].shape() == t.input_shapes[i];
    }
    if (!match || (!same && !impl_->shapeless)) continue;
    return replay(t, inputs, !same);
  }
  std::ostringstream os;
  os << "[import_function::call] No imported function found which matches the given positional and keyword arguments. "
        "Possible functions include:\n";
  for (size_t i = 0; i < impl_->traces.size(); ++i) {
    auto& t = impl_->traces[i];
    os << " " << (i + 1) << ". A " << describe_inputs(t.num_args, t.kwarg_names, t.input_shapes, t.input_dtypes);
  }
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& a : inputs) {
    shapes.push_back(a.shape());
    dtypes.push_back(a.dtype());
  }
  os << "\nCalled with a " << describe_inputs(static_cast<int>(args.size()), names, shapes, dtypes);
  throw ValueError(os.str());
}

const std::string& ImportedFunction::metadata() const { return impl_->metadata; }
bool ImportedFunction::shapeless() const { return impl_->shapeless; }
size_t ImportedFunction::num_traces() const { return impl_->traces.size(); }
const ExportTrace& ImportedFunction::trace(size_t i) const { return impl_->traces.at(i); }

}  // namespace mlx::core

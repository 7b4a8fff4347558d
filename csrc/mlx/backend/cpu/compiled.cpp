// The fused elementwise kernel: an interpreter over typed scratch buffers.
//
// The program (one instruction per step) is resolved once per call: every step gets its
// span kernel (a function pointer from elementwise_kernels.h), operands become "external
// input read in place", "one value" or "scratch slot", and slots are reused once their
// value is dead. The output is then computed tile by tile: each step runs as one tight
// loop over the tile, so intermediates stay in L1 and every input is read once. Steps
// whose operands are all single values (scalars) run once, before the tiles.
// Programs with a step the span kernels do not cover (other dtypes, complex) run each
// step's own eval_cpu on whole arrays instead.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>

#include "mlx/backend/cpu/elementwise_kernels.h"
#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/compiled.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

constexpr size_t kTile = 2048;        // elements per tile: a float32 slot is 8 KB
constexpr size_t kPieces = 8;         // pieces of the first step of a pipelined tile
constexpr size_t kSlotItem = 4;       // bytes per element of a slot (widest covered dtype)
constexpr int kMaxDims = 32;          // collapsed dims a gathered input may have
constexpr size_t kTransRows = 16;     // rows per tile when gathering a transposed input
constexpr size_t kMaxTransTile = 16384;
constexpr size_t kMinTransTile = 1024;

bool covered(Dtype t) { return t == bool_ || t == int32 || t == float16 || t == bfloat16 || t == float32; }

// ---- cast and select spans (no math: cast_to and a choice) ----
using CastSpanFn = void (*)(const void*, void*, size_t);
using SelectSpanFn = void (*)(const void*, const void*, const void*, void*, size_t);

template <typename In, typename Out>
void cast_span_impl(const void* in, void* out, size_t n) {
  const In* x = static_cast<const In*>(in);
  Out* d = static_cast<Out*>(out);
  for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(x[i]);
}

template <typename F>
bool with_type(Dtype t, F&& f) {
  switch (t) {
    case bool_: f(bool{}); return true;
    case int32: f(int32_t{}); return true;
    case float16: f(float16_t{}); return true;
    case bfloat16: f(bfloat16_t{}); return true;
    case float32: f(float{}); return true;
    default: return false;
  }
}

CastSpanFn cast_span(Dtype in, Dtype out) {
  CastSpanFn fn = nullptr;
  with_type(in, [&](auto a) {
    with_type(out, [&](auto b) { fn = &cast_span_impl<decltype(a), decltype(b)>; });
  });
  return fn;
}

// The mask is read as bytes and both values are loaded: the loop then compiles to blends (on
// bool loads it branched on every element, and a random mask, ReLU's backward for one,
// mispredicts half of them: 10x slower).
template <typename T, bool CS, bool XS, bool YS>
void select_span_impl(const void* c, const void* x, const void* y, void* out, size_t n) {
  const uint8_t* pc = static_cast<const uint8_t*>(c);
  const T* px = static_cast<const T*>(x);
  const T* py = static_cast<const T*>(y);
  T* d = static_cast<T*>(out);
  for (size_t i = 0; i < n; ++i) {
    T a = px[XS ? 0 : i], b = py[YS ? 0 : i];
    d[i] = pc[CS ? 0 : i] ? a : b;
  }
}

template <typename T>
SelectSpanFn select_span_t(int m) {
  switch (m) {
    case 0: return &select_span_impl<T, false, false, false>;
    case 1: return &select_span_impl<T, true, false, false>;
    case 2: return &select_span_impl<T, false, true, false>;
    case 3: return &select_span_impl<T, true, true, false>;
    case 4: return &select_span_impl<T, false, false, true>;
    case 5: return &select_span_impl<T, true, false, true>;
    case 6: return &select_span_impl<T, false, true, true>;
    default: return &select_span_impl<T, true, true, true>;
  }
}

// ---- gathers of strided inputs into a slot ----

// Elements [b, b + len) (row-major order of the collapsed shape) of a strided view.
template <typename U>
void gather_rows(const U* src, const Shape& sh, const Strides& st, size_t b, size_t len, U* dst) {
  int nd = static_cast<int>(sh.size());
  int64_t idx[kMaxDims];
  int64_t off = 0;
  size_t r = b;
  for (int i = nd - 1; i >= 0; --i) {
    idx[i] = static_cast<int64_t>(r % sh[i]);
    r /= sh[i];
    off += idx[i] * st[i];
  }
  const int64_t inner = sh[nd - 1], si = st[nd - 1];
  while (len > 0) {
    size_t run = std::min<size_t>(len, static_cast<size_t>(inner - idx[nd - 1]));
    const U* s = src + off;
    if (si == 0) {
      std::fill(dst, dst + run, *s);
    } else if (si == 1) {
      std::memcpy(dst, s, run * sizeof(U));
    } else {
      for (size_t k = 0; k < run; ++k) dst[k] = s[static_cast<int64_t>(k) * si];
    }
    dst += run;
    len -= run;
    off += static_cast<int64_t>(run) * si;
    idx[nd - 1] += static_cast<int64_t>(run);
    for (int i = nd - 1; i > 0 && idx[i] == sh[i]; --i) {
      off -= sh[i] * st[i];
      idx[i] = 0;
      idx[i - 1]++;
      off += st[i - 1];
    }
  }
}

// Rows [r0, r0 + rows) of a 2-D view with strides (1, S), C columns: each source cache
// line (consecutive rows of one column) is read once.
template <typename U>
void gather_transposed(const U* src, int64_t C, int64_t S, size_t r0, size_t rows, U* dst) {
  for (int64_t j = 0; j < C; ++j) {
    const U* s = src + r0 + j * S;
    for (size_t i = 0; i < rows; ++i) dst[i * C + j] = s[i];
  }
}

enum class Loc : uint8_t { Input, Const, Slot };
struct Opnd {
  Loc loc;
  int idx;  // input index, const-area offset in bytes, or slot
};

// Pair: a unary step and the binary step that is its only user (cpu::unary_binary_span; ops[0]
// is the unary step's operand, ops[1] the binary step's other), or a binary step and the unary
// step that is its only user (cpu::binary_unary_span; ops are the binary step's), as one kernel.
enum class Kind : uint8_t { Unary, Binary, Cast, Select, Pair };

struct Instr {
  Kind kind;
  cpu::UnarySpanFn un = nullptr;
  cpu::BinarySpanFn bin = nullptr;
  CastSpanFn cast = nullptr;
  SelectSpanFn sel = nullptr;
  cpu::UnaryBinarySpanFn pair = nullptr;  // same signature as cpu::BinaryUnarySpanFn
  UnaryOp uop{};
  BinaryOp bop{};
  bool f32 = false;  // float32 operands and result
  int step = -1;
  Opnd ops[3] = {{Loc::Const, 0}, {Loc::Const, 0}, {Loc::Const, 0}};  // unused ones: harmless
  bool scalar = false;  // all operands are single values: runs once
  int out = -1;         // slot (tile steps) or const-area offset (scalar steps)
  uint8_t opsz[3] = {0, 0, 0};  // bytes per element of each operand (0: one value)
  uint8_t outsz = 0;
};

struct GatherIn {
  int input;
  int slot;
  Shape shape;
  Strides strides;
  bool transposed = false;
};

struct Program {
  std::vector<Instr> instrs;
  std::vector<GatherIn> gathers;
  size_t const_bytes = 0;
  int nslots = 0;
};

// Runs the steps one by one on whole arrays, each with its own kernel; output k is step
// outs[k].
void eval_generic(const std::vector<FusedStep>& steps, const std::vector<int>& outs, const std::vector<array>& inputs,
                  std::vector<array>& outputs) {
  std::vector<array> vals;
  for (auto& st : steps) {
    std::vector<array> ops;
    for (int o : st.operands) ops.push_back(o < 0 ? vals[-1 - o] : inputs[o]);
    std::vector<array> res{array(outputs[0].shape(), st.dtype, nullptr, {})};
    st.prim->eval_cpu(ops, res);
    vals.push_back(std::move(res[0]));
  }
  for (size_t k = 0; k < outputs.size(); ++k) outputs[k].copy_shared_buffer(vals[outs[k]]);
}

}  // namespace

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (outputs.size() > 1) {
    // Several outputs (fused for a GPU stream, run here as a host fallback): step by step.
    eval_generic(steps_, outs_, inputs, outputs);
    return;
  }
  auto& out = outputs[0];
  const size_t n = out.size();
  if (n == 0) {
    cpu::alloc_out(out);
    return;
  }
  const size_t ni = inputs.size();

  // ---- input layouts ----
  std::vector<char> is_scalar(ni, 0);
  int first_vec = -1;
  for (size_t i = 0; i < ni; ++i) {
    is_scalar[i] = inputs[i].data_size() == 1;
    if (!is_scalar[i] && first_vec < 0) first_vec = static_cast<int>(i);
  }
  // Linear mode: every vector input is dense with one common (non row-major) layout; the
  // program then runs in memory order and the output takes that layout.
  bool linear = false;
  if (first_vec >= 0) {
    const array& f = inputs[first_vec];
    linear = f.flags().contiguous && !f.flags().row_contiguous && f.data_size() == n;
    for (size_t i = 0; i < ni && linear; ++i)
      if (!is_scalar[i])
        linear = inputs[i].flags().contiguous && inputs[i].data_size() == n && inputs[i].strides() == f.strides();
  }
  std::vector<char> direct(ni, 0);
  for (size_t i = 0; i < ni; ++i)
    direct[i] = !is_scalar[i] && (linear || (inputs[i].flags().row_contiguous && inputs[i].data_size() == n));

  // ---- the program ----
  Program prog;
  bool ok = true;
  for (size_t i = 0; i < ni && ok; ++i) ok = covered(inputs[i].dtype());
  const int nsteps = static_cast<int>(steps_.size());
  std::vector<char> step_scalar(nsteps, 0);
  std::vector<int> last_use(nsteps, -1), uses(nsteps, 0);
  for (int s = 0; s < nsteps && ok; ++s) {
    auto& st = steps_[s];
    ok = covered(st.dtype);
    bool all_scalar = true;
    for (int o : st.operands) {
      all_scalar = all_scalar && (o < 0 ? step_scalar[-1 - o] : is_scalar[o]);
      if (o < 0) {
        last_use[-1 - o] = s;
        uses[-1 - o]++;
      }
    }
    step_scalar[s] = all_scalar;
  }
  auto dtype_of = [&](int o) { return o < 0 ? steps_[-1 - o].dtype : inputs[o].dtype(); };
  auto scalar_of = [&](int o) -> bool { return o < 0 ? step_scalar[-1 - o] : is_scalar[o]; };

  // Gathers for strided vector inputs that some tile step reads.
  std::vector<int> gather_slot(ni, -1);
  size_t tile = kTile;
  if (ok) {
    for (size_t i = 0; i < ni; ++i) {
      if (is_scalar[i] || direct[i]) continue;
      GatherIn g;
      g.input = static_cast<int>(i);
      g.shape = inputs[i].shape();
      std::array<Strides, 1> st{inputs[i].strides()};
      cpu::collapse<1>(g.shape, st);
      g.strides = st[0];
      if (g.shape.size() > static_cast<size_t>(kMaxDims)) {
        ok = false;
        break;
      }
      if (g.shape.size() == 2 && g.strides[0] == 1 && g.strides[1] > 1 &&
          kTransRows * static_cast<size_t>(g.shape[1]) <= kMaxTransTile &&
          kTransRows * static_cast<size_t>(g.shape[1]) >= kMinTransTile) {
        size_t t = kTransRows * static_cast<size_t>(g.shape[1]);
        if (tile == kTile || tile == t) {
          tile = t;
          g.transposed = true;
        }
      }
      g.slot = prog.nslots++;
      gather_slot[i] = g.slot;
      prog.gathers.push_back(std::move(g));
    }
  }

  // Instructions, with slot reuse (a result never shares a slot with its operands).
  std::vector<int> step_loc(nsteps, -1);  // slot or const offset
  std::vector<int> free_slots;
  for (int s = 0; s < nsteps && ok; ++s) {
    auto& st = steps_[s];
    Instr ins;
    ins.scalar = step_scalar[s];
    ins.step = s;
    size_t nops = st.operands.size();
    for (size_t k = 0; k < nops && k < 3; ++k) {
      int o = st.operands[k];
      if (o < 0) {
        ins.ops[k] = {step_scalar[-1 - o] ? Loc::Const : Loc::Slot, step_loc[-1 - o]};
      } else if (is_scalar[o]) {
        ins.ops[k] = {Loc::Const, -1 - o};  // read in place from the input
      } else if (direct[o]) {
        ins.ops[k] = {Loc::Input, o};
      } else {
        ins.ops[k] = {Loc::Slot, gather_slot[o]};
      }
    }
    for (size_t k = 0; k < nops && k < 3; ++k)
      ins.opsz[k] = ins.ops[k].loc == Loc::Const ? 0 : static_cast<uint8_t>(size_of(dtype_of(st.operands[k])));
    ins.outsz = static_cast<uint8_t>(size_of(st.dtype));
    Dtype rt = st.dtype;
    if (auto* u = dynamic_cast<const Unary*>(st.prim.get()); u && nops == 1) {
      ins.kind = Kind::Unary;
      ins.uop = u->op();
      ins.f32 = dtype_of(st.operands[0]) == float32 && st.dtype == float32;
      ins.un = cpu::unary_span(u->op(), dtype_of(st.operands[0]), &rt);
      ok = ins.un != nullptr;
    } else if (auto* bp = dynamic_cast<const Binary*>(st.prim.get()); bp && nops == 2) {
      ins.kind = Kind::Binary;
      ins.bop = bp->op();
      Dtype ta = dtype_of(st.operands[0]);
      ins.f32 = ta == float32 && st.dtype == float32;
      ok = ta == dtype_of(st.operands[1]);
      bool sa = scalar_of(st.operands[0]), sb = scalar_of(st.operands[1]);
      cpu::SpanMode m = ins.scalar || (!sa && !sb) ? cpu::SpanMode::VV : sa ? cpu::SpanMode::SV : cpu::SpanMode::VS;
      if (ok) ins.bin = cpu::binary_span(bp->op(), ta, m, &rt);
      ok = ok && ins.bin != nullptr;
    } else if (dynamic_cast<const AsType*>(st.prim.get()) && nops == 1) {
      ins.kind = Kind::Cast;
      ins.cast = cast_span(dtype_of(st.operands[0]), st.dtype);
      ok = ins.cast != nullptr;
    } else if (dynamic_cast<const Select*>(st.prim.get()) && nops == 3) {
      ins.kind = Kind::Select;
      ok = dtype_of(st.operands[0]) == bool_ && dtype_of(st.operands[1]) == st.dtype &&
           dtype_of(st.operands[2]) == st.dtype;
      int m = ins.scalar ? 0
                         : (scalar_of(st.operands[0]) ? 1 : 0) | (scalar_of(st.operands[1]) ? 2 : 0) |
                               (scalar_of(st.operands[2]) ? 4 : 0);
      if (ok) with_type(st.dtype, [&](auto t) { ins.sel = select_span_t<decltype(t)>(m); });
      ok = ok && ins.sel != nullptr;
    } else {
      ok = false;
    }
    ok = ok && rt == st.dtype;
    if (!ok) break;
    if (ins.scalar) {
      ins.out = static_cast<int>(prog.const_bytes);
      prog.const_bytes += 8;
    } else if (!free_slots.empty()) {
      ins.out = free_slots.back();
      free_slots.pop_back();
    } else {
      ins.out = prog.nslots++;
    }
    step_loc[s] = ins.out;
    for (int o : st.operands) {
      if (o < 0 && !step_scalar[-1 - o] && last_use[-1 - o] == s) {
        free_slots.push_back(step_loc[-1 - o]);
        last_use[-1 - o] = -1;  // an operand used twice is freed once
      }
    }
    prog.instrs.push_back(ins);
  }
  if (!ok) {
    eval_generic(steps_, outs_, inputs, outputs);
    return;
  }

  // A float32 unary tile step whose only user is the next tile step, a binary one, runs
  // inside it: its values stay in registers instead of a slot. Then likewise a binary step
  // whose only user is the next tile step, a unary one. The pair's result may take the slot
  // of one of its operands (each 8 values are read before they are written), except for sin
  // and cos, whose kernels read their operands again where some value is past the fast range.
  auto rereads = [](UnaryOp op) { return op == UnaryOp::Sin || op == UnaryOp::Cos; };
  auto next_tile_step = [&](size_t k) {
    size_t j = k + 1;
    while (j < prog.instrs.size() && prog.instrs[j].scalar) ++j;
    return j;
  };
  for (size_t k = 0; k < prog.instrs.size(); ++k) {
    Instr& u = prog.instrs[k];
    if (u.kind != Kind::Unary || u.scalar || !u.f32 || uses[u.step] != 1) continue;
    size_t j = next_tile_step(k);
    if (j == prog.instrs.size()) continue;
    Instr& b = prog.instrs[j];
    if (b.kind != Kind::Binary || !b.f32) continue;
    if (rereads(u.uop) && u.ops[0].loc == Loc::Slot && u.ops[0].idx == b.out) continue;
    int side = b.ops[0].loc == Loc::Slot && b.ops[0].idx == u.out ? 0
               : b.ops[1].loc == Loc::Slot && b.ops[1].idx == u.out ? 1 : -1;
    if (side < 0) continue;
    const Opnd other = b.ops[1 - side];
    const uint8_t other_sz = b.opsz[1 - side];
    auto fn = cpu::unary_binary_span(u.uop, b.bop, side == 0, other.loc == Loc::Const);
    if (!fn) continue;
    b.kind = Kind::Pair;
    b.pair = fn;
    b.ops[0] = u.ops[0];
    b.opsz[0] = u.opsz[0];
    b.ops[1] = other;
    b.opsz[1] = other_sz;
    prog.instrs.erase(prog.instrs.begin() + static_cast<std::ptrdiff_t>(k));
  }
  for (size_t k = 0; k < prog.instrs.size(); ++k) {
    Instr& b = prog.instrs[k];
    if (b.kind != Kind::Binary || b.scalar || !b.f32 || uses[b.step] != 1) continue;
    size_t j = next_tile_step(k);
    if (j == prog.instrs.size()) continue;
    Instr& u = prog.instrs[j];
    if (u.kind != Kind::Unary || !u.f32 || u.ops[0].loc != Loc::Slot || u.ops[0].idx != b.out) continue;
    bool clash = false;
    for (int q = 0; q < 2; ++q) clash = clash || (b.ops[q].loc == Loc::Slot && b.ops[q].idx == u.out);
    if (clash && rereads(u.uop)) continue;
    cpu::SpanMode mode = b.ops[0].loc == Loc::Const ? cpu::SpanMode::SV
                         : b.ops[1].loc == Loc::Const ? cpu::SpanMode::VS : cpu::SpanMode::VV;
    auto fn = cpu::binary_unary_span(b.bop, u.uop, mode);
    if (!fn) continue;
    u.kind = Kind::Pair;
    u.pair = fn;
    for (int q = 0; q < 2; ++q) {
      u.ops[q] = b.ops[q];
      u.opsz[q] = b.opsz[q];
    }
    prog.instrs.erase(prog.instrs.begin() + static_cast<std::ptrdiff_t>(k));
  }

  // ---- single values: scalar inputs in place, scalar steps once ----
  alignas(64) char const_small[256];
  std::unique_ptr<char[]> const_big;
  char* consts = const_small;
  if (prog.const_bytes > sizeof(const_small)) {
    const_big.reset(new char[prog.const_bytes]);
    consts = const_big.get();
  }
  std::vector<const char*> in_ptr(ni);
  std::vector<size_t> in_isz(ni);
  for (size_t i = 0; i < ni; ++i) {
    in_ptr[i] = static_cast<const char*>(const_cast<array&>(inputs[i]).raw_ptr());
    in_isz[i] = inputs[i].itemsize();
  }
  auto const_ptr = [&](int idx) -> const char* { return idx < 0 ? in_ptr[-1 - idx] : consts + idx; };

  auto run_instr = [](const Instr& ins, const void* a, const void* b, const void* c, void* o, size_t len) {
    switch (ins.kind) {
      case Kind::Unary: ins.un(a, o, len); break;
      case Kind::Binary: ins.bin(a, b, o, len); break;
      case Kind::Cast: ins.cast(a, o, len); break;
      case Kind::Select: ins.sel(a, b, c, o, len); break;
      case Kind::Pair: ins.pair(a, b, o, len); break;
    }
  };
  for (auto& ins : prog.instrs) {
    if (!ins.scalar) continue;
    run_instr(ins, const_ptr(ins.ops[0].idx), const_ptr(ins.ops[1].idx), const_ptr(ins.ops[2].idx),
              consts + ins.out, 1);
  }
  const Instr& last = prog.instrs.back();
  const size_t osz = out.itemsize();
  if (last.scalar) {
    // Every input is a single value: so is the output, broadcast as the inputs are.
    auto buf = allocator::malloc(std::max<size_t>(osz, 1));
    out.set_data(std::make_shared<Data>(buf), 1, inputs[0].strides(), inputs[0].flags());
    std::memcpy(out.raw_ptr(), consts + last.out, osz);
    return;
  }

  // ---- the output: donate a dead input of the same layout and item size, else allocate ----
  int donated = -1;
  for (size_t i = 0; i < ni && !linear; ++i) {
    if (direct[i] && inputs[i].itemsize() == osz && inputs[i].is_donatable()) {
      out.copy_shared_buffer(inputs[i]);
      donated = static_cast<int>(i);
      break;
    }
  }
  if (donated < 0) {
    if (linear) {
      const array& f = inputs[first_vec];
      auto buf = allocator::malloc(std::max<size_t>(n * osz, 1));
      out.set_data(std::make_shared<Data>(buf), n, f.strides(), f.flags());
    } else {
      cpu::alloc_out(out);
    }
  }
  char* dst = static_cast<char*>(out.raw_ptr());


  // ---- the tiles ----
  const bool stream = n * osz >= cpu::kStreamBytes;
  const bool direct_out = !stream && donated < 0;
  // Slots lie 320 bytes apart modulo 4 KB: a loop reading one slot and writing another then
  // never has its loads falsely wait on its stores (4K aliasing).
  const size_t slot_bytes = tile * kSlotItem + 320;
  const size_t ntiles = (n + tile - 1) / tile;
  const size_t grain = std::max<size_t>(1, cpu::kElemGrain / tile);
  const int nslots = prog.nslots;

  // Large outputs of programs without unary steps (memory bound: a few arithmetic ops per
  // element) are software-pipelined. The first tile step runs in pieces; between pieces go
  // the streaming stores of the previous tile's result and prefetches of this tile's inputs
  // that the first step doesn't read, so that memory traffic is spread over the tile (about
  // 5% faster for a*b+a). Programs with unary steps (exp, sin, ...) stream each tile's result
  // out after it instead: interleaving the stores with their math measured 3-10% slower
  // (exp*y+sin, tanh*y, silu, GELU; alternating in one process on the 2-core VM). (Spreading
  // the pieces over every unary step measured slower still.)
  bool has_math = false;
  for (auto& ins : prog.instrs) has_math = has_math || (!ins.scalar && (ins.kind == Kind::Unary || ins.kind == Kind::Pair));
  const bool pipelined = stream && !has_math;
  std::vector<int> split(prog.instrs.size(), -1);  // instruction -> its first piece number
  size_t npieces = 0;
  struct Prefetch {
    int input;
    size_t end;  // pieces before the input's first use
  };
  std::vector<Prefetch> pf;
  if (pipelined) {
    int first = -1;
    for (size_t k = 0; k < prog.instrs.size(); ++k) {
      auto& ins = prog.instrs[k];
      if (ins.scalar) continue;
      if (first < 0) first = static_cast<int>(k);
      if (static_cast<int>(k) == first) {
        split[k] = static_cast<int>(npieces);
        npieces += kPieces;
      }
      for (auto& op : ins.ops) {
        if (op.loc != Loc::Input || static_cast<int>(k) == first) continue;
        bool seen = false;
        for (auto& q : pf) seen = seen || q.input == op.idx;
        bool read_first = false;
        for (auto& fo : prog.instrs[first].ops) read_first = read_first || (fo.loc == Loc::Input && fo.idx == op.idx);
        if (!seen && !read_first) pf.push_back({op.idx, npieces});
      }
    }
  }
  // Threads take blocks of tiles from a shared counter rather than fixed halves: where a
  // core is also busy with other work, the other one takes more of the blocks.
  const size_t nthreads = static_cast<size_t>(std::max(1, cpu::num_threads()));
  const size_t block = std::max(grain, std::min<size_t>(64, ntiles / (8 * nthreads)));
  const size_t nblocks = (ntiles + block - 1) / block;
  const size_t workers = ntiles >= 2 * grain ? std::min(nthreads, nblocks) : 1;
  std::atomic<size_t> next_block{0};
  cpu::parallel_for(workers, 1, [&](size_t, size_t) {
    size_t bytes = static_cast<size_t>(nslots + (pipelined ? 2 : 0) + 1) * slot_bytes;
    std::unique_ptr<char, void (*)(char*)> scratch(
        static_cast<char*>(::operator new(bytes, std::align_val_t(64))),
        [](char* p) { ::operator delete(p, std::align_val_t(64)); });
    char* sb = scratch.get();
    auto slot = [&](int k) { return sb + static_cast<size_t>(k) * slot_bytes; };
    auto ptr = [&](const Opnd& op, size_t b) -> const void* {
      switch (op.loc) {
        case Loc::Input: return in_ptr[op.idx] + b * in_isz[op.idx];
        case Loc::Const: return const_ptr(op.idx);
        default: return slot(op.idx);
      }
    };
    // The previous tile's result, being streamed out.
    const char* psrc = nullptr;
    char* pdst = nullptr;
    size_t pbytes = 0, pdone = 0;
    auto store_upto = [&](size_t upto) {
      if (upto > pdone) {
        cpu::stream_store(pdst + pdone, psrc + pdone, upto - pdone);
        pdone = upto;
      }
    };
    for (size_t blk; (blk = next_block.fetch_add(1)) < nblocks;)
    for (size_t t = blk * block, t1 = std::min(ntiles, t + block); t < t1; ++t) {
      const size_t b = t * tile, len = std::min(tile, n - b);
      for (auto& g : prog.gathers) {
        const array& in = inputs[g.input];
        char* d = slot(g.slot);
        auto go = [&](auto u) {
          using U = decltype(u);
          const U* s = reinterpret_cast<const U*>(in_ptr[g.input]);
          if (g.transposed) {
            gather_transposed(s, g.shape[1], g.strides[1], b / g.shape[1], len / g.shape[1], reinterpret_cast<U*>(d));
          } else {
            gather_rows(s, g.shape, g.strides, b, len, reinterpret_cast<U*>(d));
          }
        };
        switch (in.itemsize()) {
          case 1: go(uint8_t{}); break;
          case 2: go(uint16_t{}); break;
          default: go(uint32_t{}); break;
        }
      }
      char* res = pipelined ? slot(nslots + static_cast<int>(t & 1)) : nullptr;
      for (size_t k = 0; k < prog.instrs.size(); ++k) {
        const Instr& ins = prog.instrs[k];
        if (ins.scalar) continue;
        const bool is_last = k + 1 == prog.instrs.size();
        char* o = is_last && direct_out ? dst + b * osz : is_last && res ? res : slot(ins.out);
        const void* a0 = ptr(ins.ops[0], b);
        const void* a1 = ptr(ins.ops[1], b);
        const void* a2 = ptr(ins.ops[2], b);
        if (split[k] < 0) {
          run_instr(ins, a0, a1, a2, o, len);
          continue;
        }
        for (size_t p = 0; p < kPieces; ++p) {
          size_t lo = (len * p / kPieces) & ~size_t(15), hi = p + 1 == kPieces ? len : (len * (p + 1) / kPieces) & ~size_t(15);
          if (hi > lo)
            run_instr(ins, static_cast<const char*>(a0) + lo * ins.opsz[0], static_cast<const char*>(a1) + lo * ins.opsz[1],
                      static_cast<const char*>(a2) + lo * ins.opsz[2], o + lo * ins.outsz, hi - lo);
          const size_t g = static_cast<size_t>(split[k]) + p + 1;  // pieces done in this tile
          if (psrc) store_upto(g == npieces ? pbytes : (pbytes * g / npieces) & ~size_t(63));
          for (auto& q : pf) {
            if (g > q.end) continue;
            const size_t tot = len * in_isz[q.input];
            const char* base = in_ptr[q.input] + b * in_isz[q.input];
            size_t plo = (tot * (g - 1) / q.end) & ~size_t(63), phi = tot * g / q.end;
            for (size_t off = plo; off < phi; off += 64) __builtin_prefetch(base + off, 0, 3);
          }
        }
      }
      if (psrc) store_upto(pbytes);
      if (pipelined) {
        psrc = res;
        pdst = dst + b * osz;
        pbytes = len * osz;
        pdone = 0;
      } else if (!direct_out) {
        const char* r = slot(last.out);
        if (stream) cpu::stream_store(dst + b * osz, r, len * osz);
        else std::memcpy(dst + b * osz, r, len * osz);
      }
    }
    if (psrc) store_upto(pbytes);
    if (stream) cpu::stream_fence();
  });
}

}  // namespace mlx::core

// The CUDA runtime side of the backend: device, stream, memory pool, host/device copies of an
// array's data, and the per-node dispatch between GPU kernels and the CPU.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "mlx/backend/cuda/cuda.h"
#include "mlx/backend/gpu/gpu.h"
#include "mlx/transforms.h"

namespace mlx::core {

namespace cu {

void throw_error(cudaError_t e, const char* what) {
  throw std::runtime_error(std::string("[cuda] ") + what + " failed: " + cudaGetErrorName(e) +
                           " (" + cudaGetErrorString(e) + ").");
}

void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_error(e, kernel);
}

bool env_flag(const char* name) {
  const char* e = std::getenv(name);
  return e && *e && std::string(e) != "0";
}
bool env_off(const char* name) {
  const char* e = std::getenv(name);
  return e && std::string(e) == "0";
}
bool tf32_enabled() {
  static const bool on = env_flag("MLX_ENABLE_TF32");
  return on;
}

namespace {

int probe_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

// The device and its CUDA streams. Slot 0 is the default GPU stream's CUDA stream; slots
// 1.. are made on first use by other GPU streams of mlx (beyond kMaxSlots they share).
struct Runtime {
  cudaDeviceProp props{};
  cudaStream_t slots[kMaxSlots] = {};
  cudaEvent_t marks[kMaxSlots] = {};  // per slot, re-recorded for each cross-stream wait
  std::atomic<int> nslots{1};
  std::mutex mu;
  std::unordered_map<int, int> slot_of;  // mlx stream index -> slot
  int primary = -1;                      // the mlx index of slot 0
  Runtime() {
    MLX_CUDA_CHECK(cudaSetDevice(0));
    MLX_CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
    MLX_CUDA_CHECK(cudaStreamCreateWithFlags(&slots[0], cudaStreamNonBlocking));
    MLX_CUDA_CHECK(cudaEventCreateWithFlags(&marks[0], cudaEventDisableTiming));
  }
  bool multi() const { return nslots.load(std::memory_order_relaxed) > 1; }
  int slot_for(int index) {
    std::lock_guard lk(mu);
    if (primary < 0) primary = default_stream(Device(Device::gpu)).index;
    if (index == primary) return 0;
    auto it = slot_of.find(index);
    if (it != slot_of.end()) return it->second;
    int n = nslots.load();
    int slot;
    if (n < kMaxSlots) {
      MLX_CUDA_CHECK(cudaStreamCreateWithFlags(&slots[n], cudaStreamNonBlocking));
      MLX_CUDA_CHECK(cudaEventCreateWithFlags(&marks[n], cudaEventDisableTiming));
      // Blocks freed before this stream existed carry no events for it: start it after
      // everything queued so far on the default stream, which is all that could use them.
      MLX_CUDA_CHECK(cudaEventRecord(marks[0], slots[0]));
      MLX_CUDA_CHECK(cudaStreamWaitEvent(slots[n], marks[0], 0));
      nslots.store(n + 1);
      slot = n;
    } else {
      slot = 1 + static_cast<int>(slot_of.size() % (kMaxSlots - 1));
    }
    slot_of[index] = slot;
    return slot;
  }
  // Work queued on `dst` from now on runs after the work queued so far on `src`.
  void order(int src, int dst) {
    MLX_CUDA_CHECK(cudaEventRecord(marks[src], slots[src]));
    MLX_CUDA_CHECK(cudaStreamWaitEvent(slots[dst], marks[src], 0));
  }
};
Runtime& rt() {
  static Runtime* r = new Runtime();  // never destroyed: arrays may outlive static destruction
  return *r;
}
thread_local int t_slot = 0;  // slot of the node being evaluated on this thread

// CUDA graphs (gpu::begin_tape). The capture is thread-local and relaxed: only this thread's
// work on the default stream is recorded, and graph_break ends it before any call a capture
// cannot hold. Executable graphs are kept per node-sequence key and updated in place with the
// new capture (new buffers, same kernels); when the update is refused a new one is made. The
// key only chooses which executable to update: the graph launched is always this capture.
struct GraphCache {
  struct Entry {
    cudaGraphExec_t exec = nullptr;
    bool seen = false;  // the sequence ran before
    uint64_t used = 0;
  };
  std::mutex mu;
  std::unordered_map<uint64_t, Entry> m;
  uint64_t clock = 0;
  size_t launched = 0, instantiated = 0, updated = 0, early_ends = 0;
  static constexpr size_t kMax = 128;
};
GraphCache& graph_cache() {
  static GraphCache* g = new GraphCache;  // never destroyed: graphs may be in flight at exit
  return *g;
}
struct Capture {
  bool on = false;
  uint64_t key = 0;
};
thread_local Capture t_cap;
std::atomic<bool> graphs_off{false};
bool graphs_enabled() {
  static const bool on = !env_off("MLX_CUDA_GRAPHS");
  return on && !graphs_off.load(std::memory_order_relaxed);
}
// Below this many nodes an evaluation is queued node by node: the capture, update and graph
// launch cost more host time than they save.
constexpr size_t kMinGraphNodes = 16;

// Device pool: freed blocks are cached by rounded size. With one CUDA stream, a block freed on
// the host after its last kernel was queued may be handed to the next kernel (stream order).
// With several, the free records an event on each stream, and the stream that gets the block
// next waits for them first: no kernel of any stream queued before the free can still be
// using it when the new owner writes.
class DevicePool {
 public:
  struct Block {
    void* p;
    std::vector<cudaEvent_t> evs;
  };
  static size_t round(size_t n) {
    if (n <= 256) return 256;
    size_t p = 256;
    while (p < n) p <<= 1;
    if (p <= 4096) return p;
    size_t step = p / 8;
    return (n + step - 1) / step * step;
  }
  void* malloc(size_t n) {
    if (n == 0) return nullptr;
    size_t sz = round(n);
    std::unique_lock lk(mu);
    auto it = cache.find(sz);
    if (it != cache.end()) {
      void* p = it->second.p;
      for (auto ev : it->second.evs) {
        MLX_CUDA_CHECK(cudaStreamWaitEvent(stream(), ev, 0));
        events.push_back(ev);
      }
      cache.erase(it);
      cache_bytes -= sz;
      add_active(sz);
      return p;
    }
    if (limit == 0) {
      size_t fr = 0, tot = 0;
      cudaMemGetInfo(&fr, &tot);
      limit = tot / 100 * 95;
    }
    if (active + sz > limit) {
      free_cache(0);
      if (active + sz > limit) {
        throw std::runtime_error("[malloc] device allocation of " + std::to_string(n) +
                                 " bytes exceeds the memory limit; got active memory " +
                                 std::to_string(active) + " and limit " + std::to_string(limit) + ".");
      }
    }
    void* p = nullptr;
    graph_break();
    if (cudaMalloc(&p, sz) != cudaSuccess) {
      cudaGetLastError();
      free_cache(0);
      cudaError_t e = cudaMalloc(&p, sz);
      if (e != cudaSuccess) {
        cudaGetLastError();
        throw std::runtime_error("[malloc] out of device memory allocating " + std::to_string(n) +
                                 " bytes; got " + std::to_string(active) + " bytes in use.");
      }
    }
    add_active(sz);
    return p;
  }
  void free(void* p, size_t n) {
    if (!p) return;
    size_t sz = round(n);
    std::lock_guard lk(mu);
    active -= sz;
    Block b{p, {}};
    auto& r = rt();
    if (r.multi()) {
      int n = r.nslots.load();
      for (int k = 0; k < n; ++k) {
        cudaEvent_t ev;
        if (!events.empty()) {
          ev = events.back();
          events.pop_back();
        } else if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) != cudaSuccess) {
          cudaGetLastError();
          cudaStreamSynchronize(r.slots[k]);  // no event: make the block safe the slow way
          continue;
        }
        cudaEventRecord(ev, r.slots[k]);
        b.evs.push_back(ev);
      }
    }
    cache.emplace(sz, std::move(b));
    cache_bytes += sz;
    if (cache_bytes > cache_limit) free_cache(cache_limit);
  }
  void free_cache(size_t keep) {  // with mu held
    if (cache_bytes > keep && !cache.empty()) graph_break();
    while (cache_bytes > keep && !cache.empty()) {
      auto it = std::prev(cache.end());
      cache_bytes -= it->first;
      cudaFree(it->second.p);  // waits for the device, so the block's events are done
      events.insert(events.end(), it->second.evs.begin(), it->second.evs.end());
      cache.erase(it);
    }
  }
  void add_active(size_t sz) {
    active += sz;
    peak = std::max(peak, active);
  }
  std::mutex mu;
  std::multimap<size_t, Block> cache;
  std::vector<cudaEvent_t> events;  // unused events
  size_t active = 0, peak = 0, cache_bytes = 0, limit = 0, cache_limit = SIZE_MAX;
};
DevicePool& pool() {
  static DevicePool* p = new DevicePool();
  return *p;
}

std::mutex& copy_mutex() {
  static std::mutex m;
  return m;
}

std::unordered_map<std::type_index, Kernel>& registry() {
  static std::unordered_map<std::type_index, Kernel> r;
  return r;
}

void to_device(Data& d) {
  if (d.where & Data::kDevice) return;
  std::lock_guard lk(copy_mutex());
  if (d.where & Data::kDevice) return;
  if (!d.device && d.buffer.size) d.device = pool().malloc(d.buffer.size);
  if (d.buffer.size) {
    graph_break();  // a copy from pageable host memory cannot be captured
    MLX_CUDA_CHECK(cudaMemcpyAsync(d.device, d.buffer.ptr, d.buffer.size, cudaMemcpyHostToDevice,
                                   stream()));
  }
  d.where |= Data::kDevice;
  d.gpu_slot = static_cast<int8_t>(t_slot);
}

}  // namespace

cudaStream_t stream() { return rt().slots[t_slot]; }
bool on_primary_stream() { return t_slot == 0; }
const cudaDeviceProp& props() { return rt().props; }
void* dev_malloc(size_t n) { return pool().malloc(n); }
void dev_free(void* p, size_t n) { pool().free(p, n); }

// Ends this thread's capture, if any, and launches it; `early` when a node that cannot be
// captured ends it before the evaluation's end (counted in graph_stats).
static void end_capture(bool early) {
  if (!t_cap.on) return;
  t_cap.on = false;
  if (early) {
    std::lock_guard lk(graph_cache().mu);
    ++graph_cache().early_ends;
  }
  cudaGraph_t g = nullptr;
  cudaError_t e = cudaStreamEndCapture(rt().slots[0], &g);
  if (e != cudaSuccess || !g) {
    // Something outside the backend's knowledge broke the capture: its work is lost.
    cudaGetLastError();
    graphs_off = true;
    throw std::runtime_error(std::string("[eval] a CUDA graph capture failed (") + cudaGetErrorString(e) +
                             "); CUDA graphs are now off in this process (MLX_CUDA_GRAPHS=0 turns them off).");
  }
  struct GraphGuard {
    cudaGraph_t g;
    ~GraphGuard() { cudaGraphDestroy(g); }
  } guard{g};
  size_t nodes = 0;
  cudaGraphGetNodes(g, nullptr, &nodes);
  if (nodes == 0) return;
  auto& gc = graph_cache();
  std::lock_guard lk(gc.mu);
  auto& en = gc.m[t_cap.key];
  en.used = ++gc.clock;
  if (en.exec) {
    cudaGraphExecUpdateResultInfo info;
    if (cudaGraphExecUpdate(en.exec, g, &info) != cudaSuccess) {
      cudaGetLastError();
      cudaGraphExecDestroy(en.exec);  // freed once its launches in flight finish
      en.exec = nullptr;
    } else {
      ++gc.updated;
    }
  }
  if (!en.exec) {
    MLX_CUDA_CHECK(cudaGraphInstantiate(&en.exec, g, 0));
    ++gc.instantiated;
    size_t execs = 0;
    for (auto& [k, v] : gc.m) execs += v.exec != nullptr;
    if (execs > GraphCache::kMax) {  // drop the least recently used executable
      GraphCache::Entry* old = nullptr;
      for (auto& [k, v] : gc.m)
        if (v.exec && &v != &en && (!old || v.used < old->used)) old = &v;
      if (old) {
        cudaGraphExecDestroy(old->exec);
        old->exec = nullptr;
      }
    }
  }
  MLX_CUDA_CHECK(cudaGraphLaunch(en.exec, rt().slots[0]));
  ++gc.launched;
}

void graph_break() { end_capture(true); }

const void* in_ptr(const array& a) {
  Data& d = *a.data_shared_ptr();
  to_device(d);
  return static_cast<const char*>(d.device) + a.offset();
}

void* alloc_out(array& out) {
  out.set_data(Buffer{nullptr, out.nbytes()});
  Data& d = *out.data_shared_ptr();
  d.device = pool().malloc(out.nbytes());
  d.where = Data::kDevice;
  return d.device;
}

void* alloc_like(array& out, const array& like) {
  size_t n = like.data_size() * out.itemsize();
  auto data = std::make_shared<Data>(Buffer{nullptr, n});
  data->device = pool().malloc(n);
  data->where = Data::kDevice;
  void* p = data->device;
  out.set_data(std::move(data), like.data_size(), like.strides(), like.flags());
  return p;
}

int register_kernel(std::type_index t, Kernel k) {
  registry()[t] = k;
  return 0;
}

void eval_composite(const std::vector<array>& graph_outputs, std::vector<array>& outputs) {
  mlx::core::eval(graph_outputs);
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(graph_outputs[i]);
}

bool collapse(const Shape& shape, const std::vector<const array*>& arrays, Strided& out) {
  int nd = static_cast<int>(shape.size());
  size_t na = arrays.size();
  // Per operand strides broadcast to `shape` (0 where the operand has size 1 or lacks the dim).
  std::vector<std::vector<int64_t>> st(na, std::vector<int64_t>(nd, 0));
  for (size_t k = 0; k < na; ++k) {
    const array& a = *arrays[k];
    int off = nd - static_cast<int>(a.ndim());
    for (int i = 0; i < static_cast<int>(a.ndim()); ++i)
      st[k][i + off] = a.shape(i) == 1 ? 0 : a.strides()[i];
  }
  std::vector<int64_t> sh;
  std::vector<std::vector<int64_t>> cs(na);
  for (int i = 0; i < nd; ++i) {
    if (shape[i] == 1) continue;
    bool merge = !sh.empty();
    for (size_t k = 0; merge && k < na; ++k) merge = cs[k].back() == st[k][i] * shape[i];
    if (merge) {
      sh.back() *= shape[i];
      for (size_t k = 0; k < na; ++k) cs[k].back() = st[k][i];
    } else {
      sh.push_back(shape[i]);
      for (size_t k = 0; k < na; ++k) cs[k].push_back(st[k][i]);
    }
  }
  if (sh.size() > static_cast<size_t>(kMaxDims)) return false;
  out.ndim = static_cast<int>(sh.size());
  for (int i = 0; i < out.ndim; ++i) {
    out.shape[i] = sh[i];
    for (size_t k = 0; k < na; ++k) out.strides[k][i] = cs[k][i];
  }
  return true;
}

namespace {
// Counts the nodes of GPU streams that ran on the host, per primitive and first input dtype
// (gpu::host_fallbacks; with MLX_CUDA_LOG_FALLBACK=1 the table is printed at exit).
struct FallbackLog {
  std::mutex mu;
  std::map<std::string, size_t> counts;
  void print() {
    std::lock_guard lk(mu);
    if (counts.empty()) return;
    std::fprintf(stderr, "[mlx cuda] nodes run on the host instead of the GPU:\n");
    for (auto& [k, n] : counts) std::fprintf(stderr, "  %8zu  %s\n", n, k.c_str());
  }
};
FallbackLog& fallback_log() {
  static FallbackLog* log = new FallbackLog;  // printed by an atexit hook, never destroyed
  return *log;
}
}  // namespace

bool log_fallbacks() {
  static const bool on = [] {
    if (!env_flag("MLX_CUDA_LOG_FALLBACK")) return false;
    std::atexit([] { fallback_log().print(); });
    return true;
  }();
  return on;
}

void note_fallback(Primitive& p, const std::vector<array>& inputs) {
  log_fallbacks();
  std::string key = p.name();
  if (!inputs.empty()) {
    std::ostringstream os;
    os << inputs[0].dtype();
    key += " (" + os.str() + ")";
  }
  auto& log = fallback_log();
  std::lock_guard lk(log.mu);
  ++log.counts[key];
}

}  // namespace cu

namespace cu {
namespace {
// MLX_CUDA_PROFILE=1: every node on a GPU stream is bracketed by two CUDA events and timed on
// the host; at exit a table per "primitive dtype shapes" gives the count, the GPU time between
// the events and the host time spent queuing (or, for host fallbacks, running) the node.
struct Profile {
  struct Rec {
    std::string key;
    cudaEvent_t a, b;
    double host_us;
  };
  struct Total {
    size_t n = 0;
    double gpu_ms = 0, host_ms = 0;
  };
  std::mutex mu;
  std::vector<Rec> pending;
  std::map<std::string, Total> totals;
  void drain() {
    for (auto& r : pending) {
      float ms = 0;
      cudaEventSynchronize(r.b);
      cudaEventElapsedTime(&ms, r.a, r.b);
      auto& t = totals[r.key];
      ++t.n;
      t.gpu_ms += ms;
      t.host_ms += r.host_us * 1e-3;
      cudaEventDestroy(r.a);
      cudaEventDestroy(r.b);
    }
    pending.clear();
  }
  void print() {
    std::lock_guard lk(mu);
    drain();
    std::vector<std::pair<std::string, Total>> v(totals.begin(), totals.end());
    std::sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.second.gpu_ms > y.second.gpu_ms; });
    double g = 0, h = 0;
    size_t n = 0;
    for (auto& [k, t] : v) g += t.gpu_ms, h += t.host_ms, n += t.n;
    std::fprintf(stderr, "[mlx cuda profile] %zu nodes, GPU %.3f ms, host %.3f ms\n", n, g, h);
    std::fprintf(stderr, "  %8s %10s %10s  %s\n", "count", "gpu ms", "host ms", "node");
    for (size_t i = 0; i < v.size() && i < 60; ++i)
      std::fprintf(stderr, "  %8zu %10.3f %10.3f  %s\n", v[i].second.n, v[i].second.gpu_ms,
                   v[i].second.host_ms, v[i].first.c_str());
  }
};
Profile* profile() {
  static Profile* p = [] () -> Profile* {
    if (!env_flag("MLX_CUDA_PROFILE")) return nullptr;
    auto* q = new Profile;
    std::atexit([] { profile()->print(); });
    return q;
  }();
  return p;
}
}  // namespace
}  // namespace cu

namespace gpu {

void eval_node(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);
void eval_on_slot(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);

bool is_available() {
  static bool a = cu::probe_device_count() > 0;
  return a;
}
int device_count() {
  static int n = cu::probe_device_count();
  return n;
}

bool begin_tape(const std::vector<array>& tape) {
  using namespace cu;
  if (t_cap.on || tape.size() < kMinGraphNodes || !graphs_enabled() || profile()) return false;
  auto& r = rt();
  if (r.multi() || r.primary < 0) return false;
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  mix(tape.size());
  for (auto& a : tape) {
    if (!a.has_primitive()) return false;
    Primitive& p = a.primitive();
    if (p.device().type != Device::gpu || p.stream().index != r.primary) return false;
    mix(typeid(p).hash_code());
    mix(static_cast<uint64_t>(a.dtype()));
    for (auto d : a.shape()) mix(static_cast<uint64_t>(d));
    for (auto& in : a.inputs()) {
      mix(static_cast<uint64_t>(in.dtype()) + 0x100);
      for (auto d : in.shape()) mix(static_cast<uint64_t>(d));
    }
  }
  {
    auto& gc = graph_cache();
    std::lock_guard lk(gc.mu);
    // Sequences that never got an executable are forgotten now and then, so that a program
    // of ever-changing shapes does not grow the table.
    if (gc.m.size() > 8 * GraphCache::kMax) {
      for (auto it = gc.m.begin(); it != gc.m.end();) it = it->second.exec ? std::next(it) : gc.m.erase(it);
    }
    auto& en = gc.m[h];
    en.used = ++gc.clock;
    // The first run of a sequence goes node by node: it compiles kernels and builds plans,
    // which a capture cannot hold.
    bool seen = std::exchange(en.seen, true);
    if (!seen) return false;
  }
  // Inputs that live only on the host are copied now, before the capture.
  for (auto& a : tape) {
    for (auto& in : a.inputs()) {
      if (!in.is_available()) continue;
      Data& d = *in.data_shared_ptr();
      if (!(d.where & Data::kDevice) && d.buffer.size) cu::in_ptr(in);
    }
  }
  if (cudaStreamBeginCapture(r.slots[0], cudaStreamCaptureModeRelaxed) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  t_cap.on = true;
  t_cap.key = h;
  return true;
}

void end_tape(bool started) {
  if (started) cu::end_capture(false);
}

std::map<std::string, size_t> graph_stats() {
  auto& gc = cu::graph_cache();
  std::lock_guard lk(gc.mu);
  return {{"launched", gc.launched}, {"instantiated", gc.instantiated}, {"updated", gc.updated},
          {"early_ends", gc.early_ends}};
}

void eval(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (auto& o : outputs) {
    if (o.dtype() == Dtype::float64) {
      throw ValueError(std::string("[") + p.name() +
                       "] float64 is not supported on the GPU; got a float64 output on a gpu stream. "
                       "Use stream=mx.cpu.");
    }
  }
  // The node's CUDA stream, and waits for inputs last written on other ones.
  auto& r = cu::rt();
  int slot = r.multi() || p.stream().index != r.primary ? r.slot_for(p.stream().index) : 0;
  struct SlotGuard {
    int old;
    explicit SlotGuard(int s) : old(cu::t_slot) { cu::t_slot = s; }
    ~SlotGuard() { cu::t_slot = old; }
  } guard(slot);
  const bool multi = r.multi();
  if (multi) {
    uint32_t waited = 0;
    for (auto& in : inputs) {
      if (!in.is_available()) continue;
      const Data& d = *in.data_shared_ptr();
      int src = d.gpu_slot < 0 ? 0 : d.gpu_slot;
      if (!(d.where & Data::kDevice) || src == slot || (waited >> src & 1u)) continue;
      waited |= 1u << src;
      r.order(src, slot);
    }
  }
  eval_on_slot(p, inputs, outputs);
  if (multi || slot != 0) {
    for (auto& o : outputs)
      if (o.is_available()) o.data_shared_ptr()->gpu_slot = static_cast<int8_t>(slot);
  }
}

void eval_on_slot(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (auto* prof = cu::profile()) {
    cu::Profile::Rec r{detail::node_key(p, inputs, outputs), nullptr, nullptr, 0};
    MLX_CUDA_CHECK(cudaEventCreate(&r.a));
    MLX_CUDA_CHECK(cudaEventCreate(&r.b));
    MLX_CUDA_CHECK(cudaEventRecord(r.a, cu::stream()));
    auto t0 = std::chrono::steady_clock::now();
    eval_node(p, inputs, outputs);
    r.host_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    MLX_CUDA_CHECK(cudaEventRecord(r.b, cu::stream()));
    std::lock_guard lk(prof->mu);
    prof->pending.push_back(std::move(r));
    if (prof->pending.size() > 4096) prof->drain();
    return;
  }
  eval_node(p, inputs, outputs);
}

void eval_node(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& reg = cu::registry();
  auto it = reg.find(typeid(p));
  if (it != reg.end() && it->second(p, inputs, outputs)) return;
  // No GPU kernel for this node: run it on the CPU.
  cu::note_fallback(p, inputs);
  for (auto& in : inputs) {
    Data& d = *in.data_shared_ptr();
    if (!(d.where & Data::kHost)) to_host(d);
  }
  p.eval_cpu(inputs, outputs);
  after_cpu_eval(outputs);
}

void after_cpu_eval(std::vector<array>& outputs) {
  for (auto& o : outputs) {
    if (!o.is_available()) continue;
    Data& d = *o.data_shared_ptr();
    if (d.where & Data::kHost) d.where = Data::kHost;
  }
}

void to_host(Data& d) {
  std::lock_guard lk(cu::copy_mutex());
  if (d.where & Data::kHost) return;
  if (!d.buffer.ptr && d.buffer.size) {
    size_t n = d.buffer.size;
    d.buffer = allocator::malloc(n);
    if (!d.deleter) d.deleter = allocator::free;
  }
  if (d.buffer.size) {
    cu::graph_break();
    // On the stream that last wrote the data (the default one if none is recorded).
    cudaStream_t s = cu::rt().slots[d.gpu_slot < 0 ? 0 : d.gpu_slot];
    MLX_CUDA_CHECK(cudaMemcpyAsync(d.buffer.ptr, d.device, d.buffer.size, cudaMemcpyDeviceToHost, s));
    MLX_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  d.where |= Data::kHost;
}

void release(Data& d) {
  cu::pool().free(d.device, d.buffer.size);
  d.device = nullptr;
}

void synchronize() {
  if (!is_available()) return;
  auto& r = cu::rt();
  for (int k = 0, n = r.nslots.load(); k < n; ++k) MLX_CUDA_CHECK(cudaStreamSynchronize(r.slots[k]));
}

size_t active_memory() { return is_available() ? cu::pool().active : 0; }
size_t peak_memory() { return is_available() ? cu::pool().peak : 0; }
void reset_peak_memory() {
  if (!is_available()) return;
  std::lock_guard lk(cu::pool().mu);
  cu::pool().peak = cu::pool().active;
}
size_t cache_memory() { return is_available() ? cu::pool().cache_bytes : 0; }
void set_memory_limit(size_t limit) {
  if (!is_available()) return;
  std::lock_guard lk(cu::pool().mu);
  cu::pool().limit = limit;
}
void set_cache_limit(size_t limit) {
  if (!is_available()) return;
  std::lock_guard lk(cu::pool().mu);
  cu::pool().cache_limit = limit;
  cu::pool().free_cache(limit);
}
void clear_cache() {
  if (!is_available()) return;
  std::lock_guard lk(cu::pool().mu);
  cu::pool().free_cache(0);
}

void profile_reset() {
  if (auto* prof = cu::profile()) {
    std::lock_guard lk(prof->mu);
    prof->drain();
    prof->totals.clear();
  }
}

std::map<std::string, size_t> host_fallbacks() {
  auto& log = cu::fallback_log();
  std::lock_guard lk(log.mu);
  return log.counts;
}

std::map<std::string, std::variant<std::string, size_t>> device_info() {
  if (!is_available()) throw std::invalid_argument("[device_info] the device is not available.");
  auto& p = cu::props();
  std::map<std::string, std::variant<std::string, size_t>> info;
  info["device_name"] = std::string(p.name);
  info["architecture"] = "sm_" + std::to_string(p.major) + std::to_string(p.minor);
  info["memory_size"] = static_cast<size_t>(p.totalGlobalMem);
  info["multiprocessor_count"] = static_cast<size_t>(p.multiProcessorCount);
  info["l2_cache_size"] = static_cast<size_t>(p.l2CacheSize);
  return info;
}

}  // namespace gpu
}  // namespace mlx::core

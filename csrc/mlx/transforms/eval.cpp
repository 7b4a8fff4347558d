// Graph evaluation: order the nodes, run each primitive once, detach as we go.
// async_eval runs graphs of CPU nodes the same way on one background thread.

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "mlx/backend/gpu/gpu.h"
#include "mlx/primitive.h"
#include "mlx/primitives/custom.h"
#include "mlx/transforms.h"
#include "mlx/transforms/id_set.h"

namespace mlx::core {

namespace detail {
int& compile_trace_depth() {
  static thread_local int d = 0;
  return d;
}
int& trace_depth() {
  static thread_local int d = 0;
  return d;
}
}  // namespace detail

namespace {

bool needs_eval(const array& a) { return !a.is_available() && a.has_primitive(); }

bool gpu_used() {
  static const bool used = gpu::is_available();
  return used;
}

// Whether any output needs evaluating; throws for invalid handles and inside compile traces.
// When something does, waits for the background evaluation first: one evaluation runs at a
// time, and the walk may reach its nodes. Outputs that are already evaluated (item() of a
// constant) need no wait.
bool check_outputs(const std::vector<array>& outputs) {
  for (auto& o : outputs) {
    if (!o.is_valid()) throw ValueError("[eval] cannot evaluate an empty array handle.");
    detail::wait_async_for(o);
  }
  bool any = false;
  for (auto& o : outputs) any = any || needs_eval(o);
  if (!any) return false;
  if (detail::compile_trace_depth() > 0) {
    throw ValueError("[eval] attempting to eval an array during function transformations like "
                     "compile is not allowed; got a call to eval inside a compiled function.");
  }
  detail::wait_async();
  return true;
}

// Puts the nodes that `outputs` need evaluated on `tape`, inputs before the nodes that read
// them; `seen` gets their ids and their siblings'. With Check, returns whether the graph may
// run on the background thread: every node on a CPU stream and none a CustomTransforms
// (it holds the Python callables of mx.custom_function, which only the calling thread may
// release), and every input that is not evaluated here an evaluated, detached array with
// its data on the host (so the run calls nothing of the GPU backend, and drops no node that
// still has inputs, a primitive or siblings).
template <bool Check>
bool build_tape(const std::vector<array>& outputs, detail::IdSet& seen, std::vector<array>& tape) {
  bool ok = true;
  // The walk holds plain pointers: every node on the stack is kept alive by `outputs`
  // through the inputs lists, which nothing changes until the tape runs.
  std::vector<std::pair<const array*, size_t>> stack;
  // One complete depth-first walk per output, so an output that is an input of a later one
  // (eval([b, b.T])) is on the tape before it.
  for (auto& o : outputs) {
    if (!needs_eval(o) || !seen.insert(o.id())) continue;
    for (auto& s : o.siblings()) seen.insert(s.id());
    stack.emplace_back(&o, 0);
    while (!stack.empty()) {
      auto& [a, i] = stack.back();
      auto& ins = a->inputs();
      if (i < ins.size()) {
        const array& in = ins[i++];
        if (needs_eval(in)) {
          if (seen.insert(in.id())) {
            for (auto& s : in.siblings()) seen.insert(s.id());
            stack.emplace_back(&in, 0);
          }
        } else if (Check) {
          if (!in.is_available() || in.has_primitive() || !in.siblings().empty()) {
            ok = false;
          } else if (gpu_used()) {
            const Data& d = *in.data_shared_ptr();
            if (d.device || d.where != Data::kHost) ok = false;
          }
        }
      } else {
        if (Check) {
          const Primitive& p = a->primitive();
          if (p.device().type != Device::cpu || dynamic_cast<const CustomTransforms*>(&p)) ok = false;
        }
        tape.push_back(*a);
        stack.pop_back();
      }
    }
  }
  return ok;
}

// What a run on the background thread needs besides its tape.
struct Background {
  std::vector<array>& keep;  // handles for the calling thread to finish and drop
  const std::atomic<bool>& stop;
};

void set_pending(const array& a, bool p) {
  const_cast<array&>(a).set_pending(p);
  for (auto& s : a.siblings()) const_cast<array&>(s).set_pending(p);
}

// MLX_CPU_PROFILE=1: each CPU kernel is timed; at exit a table per "primitive dtype shapes"
// gives the count and the total time, largest first (a tool for finding where a step goes).
struct CpuProfile {
  std::mutex mu;
  std::map<std::string, std::pair<size_t, double>> totals;
  static CpuProfile* get() {
    static CpuProfile* p = []() -> CpuProfile* {
      const char* e = std::getenv("MLX_CPU_PROFILE");
      if (!e || !*e || std::string(e) == "0") return nullptr;
      auto* q = new CpuProfile;
      std::atexit([] { get()->print(); });
      return q;
    }();
    return p;
  }
  void add(Primitive& prim, const std::vector<array>& inputs, const std::vector<array>& outs, double ms) {
    std::string key = detail::node_key(prim, inputs, outs);
    std::lock_guard lk(mu);
    auto& t = totals[key];
    ++t.first;
    t.second += ms;
  }
  void print() {
    std::lock_guard lk(mu);
    std::vector<std::pair<std::string, std::pair<size_t, double>>> v(totals.begin(), totals.end());
    std::sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.second.second > y.second.second; });
    double tot = 0;
    size_t n = 0;
    for (auto& kv : v) tot += kv.second.second, n += kv.second.first;
    std::fprintf(stderr, "[mlx cpu profile] %zu nodes, %.3f ms (\"~\": not row-contiguous, then its strides)\n", n, tot);
    std::fprintf(stderr, "  %8s %10s  %s\n", "count", "ms", "node");
    for (size_t i = 0; i < v.size() && i < 80; ++i)
      std::fprintf(stderr, "  %8zu %10.3f  %s\n", v[i].second.first, v[i].second.second, v[i].first.c_str());
  }
};

void eval_cpu_node(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outs) {
  static CpuProfile* prof = CpuProfile::get();
  if (!prof) return prim.eval_cpu(inputs, outs);
  auto t0 = std::chrono::steady_clock::now();
  prim.eval_cpu(inputs, outs);
  prof->add(prim, inputs, outs, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

// Runs the tape's nodes in order and detaches each, so the graph frees as it goes.
// On the background thread (bg set), each node is marked pending (array::is_pending) until it
// is evaluated and detached. The calling thread may meanwhile drop handles to the outputs of
// a multi-output node, and ~array reads their sibling lists and breaks them when it drops the
// group's last handle. So the run leaves those lists alone (detach_keep_siblings) and puts
// one handle of each such node in bg->keep, which keeps the group referenced until the
// calling thread finishes it (finish_background); the nodes left when a kernel throws or the
// run stops at exit go there too, still marked pending.
void run_tape(std::vector<array>& tape, Background* bg) {
  std::vector<array> outs;
  for (size_t i = 0; i < tape.size(); ++i) {
    if (bg && bg->stop.load(std::memory_order_relaxed)) {
      bg->keep.insert(bg->keep.end(), std::make_move_iterator(tape.begin() + i),
                      std::make_move_iterator(tape.end()));
      return;
    }
    array a = std::move(tape[i]);
    bool group = !a.siblings().empty();
    if (!a.is_available()) {
      try {
        if (!group) outs.push_back(a);
        else outs = a.outputs();
        auto& prim = a.primitive();
        if (prim.device().type == Device::gpu) {
          gpu::eval(prim, a.inputs(), outs);
        } else {
          // A background run's data is host-only (see build_tape): it skips both GPU calls.
          if (gpu_used() && !bg) {  // bring inputs computed on the GPU back before the CPU kernel's threads read them
            for (auto& in : a.inputs()) detail::host_ptr(*in.data_shared_ptr());
          }
          eval_cpu_node(prim, a.inputs(), outs);
          if (gpu_used() && !bg) gpu::after_cpu_eval(outs);
        }
        outs.clear();  // before detach: a kernel further on may donate these buffers
      } catch (...) {
        outs.clear();
        if (bg) {
          bg->keep.push_back(std::move(a));
          bg->keep.insert(bg->keep.end(), std::make_move_iterator(tape.begin() + i + 1),
                          std::make_move_iterator(tape.end()));
        }
        throw;
      }
      if (!a.is_tracer()) {
        if (bg && group) a.detach_keep_siblings();
        else a.detach();
      }
    }
    if (bg) {
      set_pending(a, false);  // nothing below touches this node's state again
      if (group) bg->keep.push_back(std::move(a));
    }
  }
}

// Runs the tape on the calling thread. With a GPU, the backend sees the tape first and may
// capture its launches into a CUDA graph (gpu::TapeScope); a node that throws still gets the
// captured part launched.
void run_in_place(std::vector<array>& tape) {
  if (!gpu_used()) return run_tape(tape, nullptr);
  gpu::TapeScope scope(tape);
  run_tape(tape, nullptr);
  scope.end();
}

// On the calling thread, after a background run: unmarks the nodes it left, detaches the
// multi-output nodes it evaluated (their sibling lists, as detach does), drops the handles.
void finish_background(std::vector<array>& keep) {
  for (auto& a : keep) {
    set_pending(a, false);
    if (a.is_available() && !a.has_primitive() && !a.siblings().empty()) a.detach();
  }
  keep.clear();
}

// ---- the background thread ----

struct AsyncState {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  // Set from the hand-over of a run until the calling side has collected it, and while an
  // exception of a collected run waits to be rethrown. Written under `mu`.
  std::atomic<bool> pending{false};
  std::atomic<bool> stop{false};  // at exit: end the run after the current node
  bool started = false;           // the thread runs
  bool queued = false;            // `tape` waits for the thread
  bool running = false;           // from hand-over until the thread has put down the run
  bool closed = false;            // at exit: no more background runs
  std::vector<array> tape, keep;
  std::exception_ptr error;
};

// Never destroyed (arrays and the thread may outlive static destruction). A forked child
// gets a fresh one: the thread does not exist there.
AsyncState*& async_state() {
  static AsyncState* s = new AsyncState();
  return s;
}

thread_local bool t_background = false;

void background_main(AsyncState* s) {
  t_background = true;
  std::unique_lock lk(s->mu);
  while (true) {
    s->work_cv.wait(lk, [s] { return s->queued; });
    s->queued = false;
    std::vector<array> tape;
    tape.swap(s->tape);
    lk.unlock();
    std::vector<array> keep;
    std::exception_ptr err;
    try {
      Background bg{keep, s->stop};
      run_tape(tape, &bg);
    } catch (...) {
      err = std::current_exception();
    }
    tape.clear();  // moved-from handles only
    lk.lock();
    s->keep.swap(keep);
    s->error = err;
    s->running = false;
    lk.unlock();  // before notifying, so that a woken caller finds the lock free
    s->done_cv.notify_all();
    lk.lock();
  }
}

void after_fork_child() {
  AsyncState* old = async_state();
  auto* s = new AsyncState();
  s->error = old->error;
  s->closed = old->closed;
  s->pending.store(s->error != nullptr);
  async_state() = s;  // the parent's state (its mutex and condition variables) is left as it was
}

// Called with s->mu held. The thread starts with every signal blocked (they go to the
// interpreter's threads).
bool start_background(AsyncState* s) {
  static const bool hooks = [] {
    std::atexit([] { detail::async_shutdown(); });
    pthread_atfork([] { detail::wait_async(false); }, nullptr, after_fork_child);
    return true;
  }();
  (void)hooks;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool ok = true;
  try {
    std::thread(background_main, s).detach();
  } catch (...) {
    ok = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

// Hands the tape to the background thread; false when it can't take it (at exit, or the
// thread could not be started).
bool submit(std::vector<array>& tape) {
  AsyncState* s = async_state();
  {
    std::lock_guard lk(s->mu);
    if (s->closed) return false;
    if (!s->started) {
      if (!start_background(s)) return false;
      s->started = true;
    }
    for (auto& a : tape) set_pending(a, true);
    s->tape.swap(tape);
    s->queued = s->running = true;
    s->pending.store(true, std::memory_order_release);
  }
  s->work_cv.notify_one();  // after unlocking, so that the woken thread finds the lock free
  return true;
}

}  // namespace

namespace detail {

void wait_async(bool rethrow) {
  AsyncState* s = async_state();
  if (!s->pending.load(std::memory_order_acquire) || t_background) return;
  std::exception_ptr err;
  {
    std::unique_lock lk(s->mu);
    s->done_cv.wait(lk, [s] { return !s->running; });
    // Under the lock, so that no other caller sees the run done before this: the handles
    // dropped here belong to arrays, data and primitives only (none waits or calls Python).
    finish_background(s->keep);
    if (rethrow) err = std::exchange(s->error, nullptr);
    s->pending.store(s->error != nullptr, std::memory_order_release);
  }
  if (err) std::rethrow_exception(err);
}

std::string node_key(const Primitive& p, const std::vector<array>& inputs, const std::vector<array>& outputs) {
  std::ostringstream os;
  os << p.name();
  if (!outputs.empty()) os << " " << outputs[0].dtype();
  auto shape = [&](const array& a) {
    os << "[";
    for (size_t i = 0; i < a.shape().size(); ++i) os << (i ? "," : "") << a.shape()[i];
    if (!a.flags().row_contiguous) {
      os << "~";
      for (size_t i = 0; i < a.strides().size(); ++i) os << (i ? "," : "") << a.strides()[i];
    }
    os << "]";
  };
  os << " ";
  for (size_t i = 0; i < inputs.size() && i < 4; ++i) shape(inputs[i]);
  os << "->";
  if (!outputs.empty()) shape(outputs[0]);
  return os.str();
}

void wait_async_for(const array& a) {
  if (a.is_pending()) wait_async();
}

void async_shutdown() {
  AsyncState* s = async_state();
  {
    std::lock_guard lk(s->mu);
    s->closed = true;
    s->stop.store(true);
  }
  wait_async(false);
}

}  // namespace detail

void eval(std::vector<array> outputs) {
  if (!check_outputs(outputs)) return;
  detail::IdSet seen;
  std::vector<array> tape;
  build_tape<false>(outputs, seen, tape);
  run_in_place(tape);
}

// Graphs that can't run in the background are evaluated in place (GPU nodes are queued
// without waiting for them).
void async_eval(std::vector<array> outputs) {
  if (!check_outputs(outputs)) return;
  detail::IdSet seen;
  std::vector<array> tape;
  bool background = build_tape<true>(outputs, seen, tape) && detail::trace_depth() == 0;
  if (background && submit(tape)) return;
  run_in_place(tape);
}

}  // namespace mlx::core

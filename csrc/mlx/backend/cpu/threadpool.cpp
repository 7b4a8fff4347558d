#include "mlx/backend/cpu/threadpool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mlx::core::cpu {

namespace {

// Workers and the caller wait for each other by spinning a short while before they block:
// the kernels of one evaluation follow each other within microseconds, and waking a blocked
// thread costs tens of microseconds on a virtual machine (an elementwise op over a million
// floats ran slower on two threads than on one when every op woke its worker from a futex).
// Spinning stops after kSpin, so an idle process sleeps.
constexpr auto kSpin = std::chrono::microseconds(300);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota (a
// container limited to 2 CPUs on a 64-core host sees 64 in hardware_concurrency).
int available_cpus() {
  int n = static_cast<int>(std::thread::hardware_concurrency());
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long long period = 0;
  if (f >> quota >> period && quota != "max" && period > 0) {
    long long q = std::atoll(quota.c_str());
    if (q > 0) n = std::min<long long>(n, std::max<long long>(1, (q + period - 1) / period));
  }
#endif
  return std::max(1, n);
}

// Spins until pred() holds or `spin` passes; true if it holds.
template <typename P>
bool spin_until(P&& pred, std::chrono::microseconds spin) {
  if (spin.count() == 0) return pred();
  auto deadline = std::chrono::steady_clock::now() + spin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

class Pool {
 public:
  Pool() {
    int cpus = available_cpus();
    int n = cpus;
    if (const char* e = std::getenv("MLX_NUM_THREADS")) n = std::max(1, std::atoi(e));
    n = std::max(1, std::min(n, 64));
    nthreads_ = n;
    // More threads than CPUs: a spinning thread would hold a CPU that a working one needs.
    spin_ = n <= cpus ? kSpin : std::chrono::microseconds(0);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard lk(mu_);
      stop_.store(true);
      gen_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f) {
    size_t chunks = std::min<size_t>(nthreads_, std::max<size_t>(1, n / std::max<size_t>(grain, 1)));
    if (chunks <= 1 || busy_.exchange(true)) {
      // Nested or tiny work runs inline.
      f(0, n);
      return;
    }
    error_ = nullptr;
    fn_ = &f;
    n_ = n;
    nchunks_ = chunks;
    pending_.store(static_cast<int>(chunks) - 1);
    // Chunks are claimed from one word holding (job, chunk count, next chunk), so a worker
    // still looking for work from the last job can only claim a chunk of a job whose fields
    // were written before the word was.
    uint64_t job = ++job_;
    claim_.store((job << 16) | (uint64_t(chunks) << 8) | 1);
    {
      // The job is published by the generation; sleeping workers are woken under the lock
      // (notify_all does not enter the kernel when no one waits).
      std::lock_guard lk(mu_);
      gen_.fetch_add(1);
    }
    if (sleeping_.load() > 0) cv_.notify_all();
    do_chunk(0);
    // Help with remaining chunks, then wait for workers.
    for (size_t c; claim(c);) do_chunk_and_count(c);
    if (!spin_until([this] { return pending_.load() == 0; }, spin_)) {
      std::unique_lock lk(mu_);
      done_cv_.wait(lk, [this] { return pending_.load() == 0; });
    }
    fn_ = nullptr;
    std::exception_ptr err = error_;
    error_ = nullptr;
    busy_.store(false);
    // An exception in any chunk surfaces in the caller once every chunk has finished.
    if (err) std::rethrow_exception(err);
  }

  int nthreads_;

 private:
  std::chrono::microseconds spin_{0};
  // Takes the next unclaimed chunk of the current job.
  bool claim(size_t& c) {
    uint64_t v = claim_.load();
    while (true) {
      uint64_t idx = v & 0xff, count = (v >> 8) & 0xff;
      if (idx >= count) return false;
      if (claim_.compare_exchange_weak(v, v + 1)) {
        c = static_cast<size_t>(idx);
        return true;
      }
    }
  }
  void do_chunk(size_t c) {
    size_t b = n_ * c / nchunks_, e = n_ * (c + 1) / nchunks_;
    if (b >= e) return;
    try {
      (*fn_)(b, e);
    } catch (...) {
      std::lock_guard lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void do_chunk_and_count(size_t c) {
    do_chunk(c);
    if (pending_.fetch_sub(1) == 1) {
      // The caller may have stopped spinning: wake it under the lock so the wake is not lost.
      std::lock_guard lk(mu_);
      done_cv_.notify_all();
    }
  }
  void loop(int) {
    size_t seen = gen_.load();
    while (true) {
      if (!spin_until([&] { return gen_.load() != seen; }, spin_)) {
        std::unique_lock lk(mu_);
        sleeping_.fetch_add(1);
        cv_.wait(lk, [&] { return gen_.load() != seen; });
        sleeping_.fetch_sub(1);
      }
      seen = gen_.load();
      if (stop_.load()) return;
      // A worker that arrives after the job is done (or between jobs) finds no chunk left.
      for (size_t c; claim(c);) do_chunk_and_count(c);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0, nchunks_ = 0;
  std::atomic<size_t> gen_{0};
  uint64_t job_ = 0;
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> pending_{0}, sleeping_{0};
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};
};

Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

int g_threads = -1;
}  // namespace

int num_threads() { return g_threads > 0 ? g_threads : pool().nthreads_; }
void set_num_threads(int n) { g_threads = n; }

void parallel_for_pool(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f) {
  if (n == 0) return;
  if (num_threads() <= 1 || n < 2 * grain) {
    f(0, n);
    return;
  }
  pool().run(n, grain, f);
}

}  // namespace mlx::core::cpu

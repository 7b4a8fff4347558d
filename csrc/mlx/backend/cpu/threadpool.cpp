#include "mlx/backend/cpu/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mlx::core::cpu {

namespace {

class Pool {
 public:
  Pool() {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* e = std::getenv("MLX_NUM_THREADS")) n = std::max(1, std::atoi(e));
    n = std::max(1, std::min(n, 64));
    nthreads_ = n;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
      ++gen_;
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
    {
      std::lock_guard lk(mu_);
      fn_ = &f;
      n_ = n;
      nchunks_ = chunks;
      next_.store(1);
      pending_ = static_cast<int>(chunks) - 1;
      ++gen_;
    }
    cv_.notify_all();
    do_chunk(0);
    // Help with remaining chunks, then wait for workers.
    for (size_t c; (c = next_.fetch_add(1)) < nchunks_;) do_chunk_and_count(c);
    std::exception_ptr err;
    {
      std::unique_lock lk(mu_);
      done_cv_.wait(lk, [this] { return pending_ == 0; });
      fn_ = nullptr;
      err = error_;
      error_ = nullptr;
    }
    busy_.store(false);
    // An exception in any chunk surfaces in the caller once every chunk has finished.
    if (err) std::rethrow_exception(err);
  }

  int nthreads_;

 private:
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
    std::lock_guard lk(mu_);
    if (--pending_ == 0) done_cv_.notify_all();
  }
  void loop(int) {
    size_t seen = 0;
    while (true) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
        if (!fn_) continue;
      }
      for (size_t c; (c = next_.fetch_add(1)) < nchunks_;) do_chunk_and_count(c);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0, nchunks_ = 0, gen_ = 0;
  std::atomic<size_t> next_{0};
  int pending_ = 0;
  std::exception_ptr error_;
  bool stop_ = false;
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

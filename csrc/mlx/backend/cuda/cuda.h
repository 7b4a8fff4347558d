// Internals of the CUDA backend, shared by its kernel files.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <typeindex>
#include <vector>

#include "mlx/array.h"
#include "mlx/primitive.h"

namespace mlx::core::cu {

[[noreturn]] void throw_error(cudaError_t e, const char* what);
#define MLX_CUDA_CHECK(call)                                      \
  do {                                                            \
    cudaError_t _e = (call);                                      \
    if (_e != cudaSuccess) ::mlx::core::cu::throw_error(_e, #call); \
  } while (0)
// After a kernel launch: raises a launch error (bad configuration, no kernel image).
void check_launch(const char* kernel);

// The CUDA stream of the node being evaluated. The default GPU stream of mlx has one CUDA
// stream; each further GPU stream (mx.new_stream(mx.gpu)) gets its own (up to kMaxSlots - 1,
// then they share). A node reading data last written on another CUDA stream waits for it
// through an event; a device block freed while several CUDA streams are in use is handed out
// again only after the work queued on each of them at the time of the free (events too).
cudaStream_t stream();
constexpr int kMaxSlots = 32;
// Binds a library handle to the current stream when it changed since the handle's last call
// (`last` holds that stream); `set` does the library's SetStream.
template <typename F>
bool bind_stream(cudaStream_t& last, F set) {
  cudaStream_t s = stream();
  if (s == last) return false;
  set(s);
  last = s;
  return true;
}
// Environment switches, read once by their callers: env_flag is true when the variable is set,
// non-empty and not "0"; env_off is true when it is "0" (for what is on by default).
bool env_flag(const char* name);
bool env_off(const char* name);
// float32 products in TF32 (MLX_ENABLE_TF32=1): matmul, gather_mm and convolution.
bool tf32_enabled();

// Ends the CUDA graph being captured on this thread, if any, and launches what it holds; the
// rest of the evaluation is queued node by node. Called before anything a capture cannot hold:
// host waits and reads, copies from host memory, driver allocations, library plan building.
void graph_break();
// Whether the current stream is the default GPU stream's.
bool on_primary_stream();
const cudaDeviceProp& props();

// Device memory from the caching pool.
void* dev_malloc(size_t n);
void dev_free(void* p, size_t n);
// Scratch device memory from the pool, given back when it goes out of scope or is re-sized
// (safe once the work using it is queued: see the pool's rule for several streams).
struct Scratch {
  void* p = nullptr;
  size_t n = 0;
  Scratch() = default;
  explicit Scratch(size_t bytes) { alloc(bytes); }
  void alloc(size_t bytes) {
    release();
    n = bytes;
    p = bytes ? dev_malloc(bytes) : nullptr;
  }
  void release() {
    if (p) dev_free(p, n);
    p = nullptr;
    n = 0;
  }
  ~Scratch() { release(); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
};

// Makes the device copy of an input current and returns its address (offset applied).
const void* in_ptr(const array& a);
template <typename T>
const T* in_ptr(const array& a) { return static_cast<const T*>(in_ptr(a)); }
// Gives `out` fresh row-contiguous device memory and returns it.
void* alloc_out(array& out);
// Gives `out` device memory with the layout of `like` (same strides, flags, data_size).
void* alloc_like(array& out, const array& like);
template <typename T>
T* out_ptr(array& a) { return static_cast<T*>(alloc_out(a)); }
// Writes `in` (any layout) into `out` (same shape) as row-contiguous data of out's dtype; false
// for dtypes or layouts the GPU copy does not handle.
bool copy_to_row_contiguous(const array& in, array& out);
// `a` itself in `r` when it is dense and row-major, else a row-contiguous GPU copy of it; false
// for dtypes or layouts the GPU copy does not handle.
inline bool dense_rows(const array& a, array& r) {
  if (a.flags().row_contiguous && a.data_size() == a.size()) {
    r = a;
    return true;
  }
  array t(a.shape(), a.dtype(), nullptr, {});
  if (!copy_to_row_contiguous(a, t)) return false;
  r = t;
  return true;
}

// Runs `rows(in_rows, out_rows)` on a row-contiguous copy of `in` with `axis` moved last
// (`out_rows` is shaped alike, of out's dtype, and `rows` gives it data), then writes the result
// into `out` with the axes in their places. For kernels that work along the last axis (sort,
// scan) given another axis. False when `rows` or a copy returns false.
bool on_axis_last(const array& in, array& out, int axis,
                  const std::function<bool(const array& in_rows, array& out_rows)>& rows);

// A GPU kernel for one primitive class. Returns false, having touched nothing, when it does
// not handle these dtypes or this layout (the node then runs on the CPU).
using Kernel = bool (*)(Primitive&, const std::vector<array>&, std::vector<array>&);
int register_kernel(std::type_index t, Kernel k);
#define MLX_CUDA_KERNEL(Class, fn) \
  static int _mlx_reg_##Class = ::mlx::core::cu::register_kernel(typeid(Class), fn)

// Nodes that run on the host are counted per primitive (gpu::host_fallbacks); with
// MLX_CUDA_LOG_FALLBACK=1 in the environment the counts are printed at exit.
bool log_fallbacks();
void note_fallback(Primitive& p, const std::vector<array>& inputs);

// Compiles CUDA source with NVRTC for this device (cached by source) and returns the kernel
// `symbol` (an extern "C" __global__ function). Raises RuntimeError, with the compiler's log,
// when the source does not compile; `op` prefixes the message.
bool nvrtc_available();
cudaKernel_t nvrtc_kernel(const std::string& src, const std::string& symbol, const char* op,
                          const std::vector<std::string>& extra_options = {});

// Runs a graph built from `inputs` (for composite implementations: the kernels of its nodes
// run on the GPU) and moves its values into `outputs`.
void eval_composite(const std::vector<array>& graph_outputs, std::vector<array>& outputs);

// Up to this many dims after collapsing; more goes to the CPU.
constexpr int kMaxDims = 8;
struct Strided {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[3][kMaxDims];  // per operand, in elements
};
// Collapses the layout of `arrays` (broadcast to `shape`) into the fewest dims; false if more
// than kMaxDims remain.
bool collapse(const Shape& shape, const std::vector<const array*>& arrays, Strided& out);

inline int blocks_for(size_t n, int threads) { return static_cast<int>((n + threads - 1) / threads); }

}  // namespace mlx::core::cu

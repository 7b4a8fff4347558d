// The interface between the core and a GPU backend (CUDA today). The core calls only these;
// a build without a GPU backend links backend/gpu/no_gpu.cpp, where the GPU is unavailable.
#pragma once
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "mlx/array.h"

namespace mlx::core {
class Primitive;
}

namespace mlx::core::gpu {

bool is_available();
int device_count();

// Evaluates one node on a GPU stream: with a GPU kernel when the backend has one for this
// primitive and these dtypes/layouts, otherwise on the CPU (inputs are brought to the host,
// outputs stay there until a GPU kernel needs them).
void eval(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);

// CUDA graphs. An evaluation whose nodes all run on the default GPU stream, and whose node
// sequence was seen before, is captured into a graph and launched as one (the launch gaps of
// its kernels go away); a node that cannot be captured ends the graph early and the rest runs
// as usual. begin_tape returns whether it started a capture; end_tape(true) launches it.
// MLX_CUDA_GRAPHS=0 turns this off.
bool begin_tape(const std::vector<array>& tape);
void end_tape(bool started);
struct TapeScope {
  bool started;
  explicit TapeScope(const std::vector<array>& tape) : started(begin_tape(tape)) {}
  void end() {
    bool s = started;
    started = false;
    end_tape(s);
  }
  ~TapeScope() {
    try {
      end_tape(started);
    } catch (...) {
    }
  }
};

// Counters of the CUDA graphs so far: "launched" graphs, of which "instantiated" anew and
// "updated" in place, and "early_ends" (captures ended before the evaluation's end).
std::map<std::string, size_t> graph_stats();

// Called after a CPU kernel ran: outputs that share a buffer with a device copy (donated or
// viewed inputs) drop that copy, since the host copy is now the current one.
void after_cpu_eval(std::vector<array>& outputs);

// Makes the host copy current / frees the device copy of a Data.
void to_host(Data& d);
void release(Data& d);

// Waits for all queued GPU work; raises a pending device error as std::runtime_error.
void synchronize();

// Device memory counters (bytes), for the memory API.
size_t active_memory();
size_t peak_memory();
void reset_peak_memory();
size_t cache_memory();
void set_memory_limit(size_t limit);
void set_cache_limit(size_t limit);
void clear_cache();

std::map<std::string, std::variant<std::string, size_t>> device_info();

// How many nodes of GPU streams ran on the host since the start, per "Primitive (dtype)" of
// the first input: the tests use it to check that a GPU kernel ran.
std::map<std::string, size_t> host_fallbacks();

// With MLX_CUDA_PROFILE=1, forgets the node timings gathered so far (e.g. after warm-up steps).
void profile_reset();

}  // namespace mlx::core::gpu

// Run-time compilation of CUDA source with NVRTC, for fused compiled programs and
// mx.fast.cuda_kernel. NVRTC is opened with dlopen at first use, not linked: libnvrtc carries
// its own copy of the C++ standard library, and linking it made libmlx bind std:: symbols to
// that copy (crashes in std::ostream).
#include <dlfcn.h>
#include <nvrtc.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "mlx/backend/cuda/cuda.h"

namespace mlx::core::cu {

struct Nvrtc {
  decltype(&nvrtcCreateProgram) create = nullptr;
  decltype(&nvrtcCompileProgram) compile = nullptr;
  decltype(&nvrtcGetProgramLogSize) log_size = nullptr;
  decltype(&nvrtcGetProgramLog) log = nullptr;
  decltype(&nvrtcGetCUBINSize) cubin_size = nullptr;
  decltype(&nvrtcGetCUBIN) cubin = nullptr;
  decltype(&nvrtcDestroyProgram) destroy = nullptr;
  bool ok = false;
  Nvrtc() {
    void* h = nullptr;
    for (const char* name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}) {
      h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (h) break;
    }
    if (!h) return;
    create = reinterpret_cast<decltype(create)>(dlsym(h, "nvrtcCreateProgram"));
    compile = reinterpret_cast<decltype(compile)>(dlsym(h, "nvrtcCompileProgram"));
    log_size = reinterpret_cast<decltype(log_size)>(dlsym(h, "nvrtcGetProgramLogSize"));
    log = reinterpret_cast<decltype(log)>(dlsym(h, "nvrtcGetProgramLog"));
    cubin_size = reinterpret_cast<decltype(cubin_size)>(dlsym(h, "nvrtcGetCUBINSize"));
    cubin = reinterpret_cast<decltype(cubin)>(dlsym(h, "nvrtcGetCUBIN"));
    destroy = reinterpret_cast<decltype(destroy)>(dlsym(h, "nvrtcDestroyProgram"));
    ok = create && compile && log_size && log && cubin_size && cubin && destroy;
  }
};
const Nvrtc& nvrtc() {
  static Nvrtc n;
  return n;
}

namespace {

bool is_dir(const std::string& p) {
  struct stat sb;
  return !p.empty() && stat(p.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
}

}  // namespace

bool nvrtc_available() { return nvrtc().ok; }

const std::vector<std::string>& cuda_include_dirs() {
  static const std::vector<std::string> dirs = [] {
    std::vector<std::string> d;
    auto add = [&d](const std::string& p) {
      if (!is_dir(p)) return;
      for (auto& q : d)
        if (q == p) return;
      d.push_back(p);
    };
    for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
      if (const char* v = std::getenv(env)) add(std::string(v) + "/include");
#ifdef MLX_CUDA_TOOLKIT_INCLUDE_DIR
    add(MLX_CUDA_TOOLKIT_INCLUDE_DIR);
#endif
    add("/usr/local/cuda/include");
    return d;
  }();
  return dirs;
}

cudaKernel_t nvrtc_kernel(const std::string& src, const std::string& symbol, const char* op,
                          const std::vector<std::string>& extra_options) {
  static std::mutex mu;
  static std::unordered_map<std::string, cudaKernel_t> cache;
  std::string key = symbol + '\0' + src;
  for (auto& o : extra_options) key += '\0' + o;
  std::lock_guard lk(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto& nv = nvrtc();
  if (!nv.ok) throw std::runtime_error(std::string(op) + " NVRTC (libnvrtc.so) was not found; it compiles GPU kernels at run time.");
  nvrtcProgram prog;
  if (nv.create(&prog, src.c_str(), (symbol + ".cu").c_str(), 0, nullptr, nullptr) != NVRTC_SUCCESS)
    throw std::runtime_error(std::string(op) + " nvrtcCreateProgram failed.");
  std::vector<std::string> opts = {
      "--gpu-architecture=sm_" + std::to_string(props().major) + std::to_string(props().minor), "--std=c++17",
      "-default-device"};
  opts.insert(opts.end(), extra_options.begin(), extra_options.end());
  for (auto& d : cuda_include_dirs()) {
    opts.push_back("--include-path=" + d);
    if (is_dir(d + "/cccl")) opts.push_back("--include-path=" + d + "/cccl");
  }
  std::vector<const char*> copts;
  for (auto& o : opts) copts.push_back(o.c_str());
  nvrtcResult r = nv.compile(prog, static_cast<int>(copts.size()), copts.data());
  if (r != NVRTC_SUCCESS) {
    size_t n = 0;
    nv.log_size(prog, &n);
    std::string log(n, '\0');
    nv.log(prog, log.data());
    nv.destroy(&prog);
    throw std::runtime_error(std::string(op) + " NVRTC failed to compile the kernel '" + symbol + "':\n" + log);
  }
  size_t n = 0;
  nv.cubin_size(prog, &n);
  std::string cubin(n, '\0');
  nv.cubin(prog, cubin.data());
  nv.destroy(&prog);
  cudaLibrary_t lib;
  MLX_CUDA_CHECK(cudaLibraryLoadData(&lib, cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  cudaKernel_t k;
  MLX_CUDA_CHECK(cudaLibraryGetKernel(&k, lib, symbol.c_str()));
  cache.emplace(std::move(key), k);
  return k;
}

}  // namespace mlx::core::cu

// The cuDNN frontend headers call NVRTC by name (for engines of newer GPUs). These definitions
// satisfy the link and forward to the NVRTC opened above, so libmlx never links libnvrtc.
namespace {
const mlx::core::cu::Nvrtc* nvrtc_or_null() {
  auto& n = mlx::core::cu::nvrtc();
  return n.ok ? &n : nullptr;
}
}  // namespace

extern "C" {
nvrtcResult nvrtcCreateProgram(nvrtcProgram* prog, const char* src, const char* name, int num_headers,
                               const char* const* headers, const char* const* include_names) {
  auto* n = nvrtc_or_null();
  return n ? n->create(prog, src, name, num_headers, headers, include_names) : NVRTC_ERROR_INTERNAL_ERROR;
}
nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int num_options, const char* const* options) {
  auto* n = nvrtc_or_null();
  return n ? n->compile(prog, num_options, options) : NVRTC_ERROR_INTERNAL_ERROR;
}
nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t* size) {
  auto* n = nvrtc_or_null();
  return n ? n->log_size(prog, size) : NVRTC_ERROR_INTERNAL_ERROR;
}
nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char* log) {
  auto* n = nvrtc_or_null();
  return n ? n->log(prog, log) : NVRTC_ERROR_INTERNAL_ERROR;
}
nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t* size) {
  auto* n = nvrtc_or_null();
  return n ? n->cubin_size(prog, size) : NVRTC_ERROR_INTERNAL_ERROR;
}
nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char* cubin) {
  auto* n = nvrtc_or_null();
  return n ? n->cubin(prog, cubin) : NVRTC_ERROR_INTERNAL_ERROR;
}
nvrtcResult nvrtcDestroyProgram(nvrtcProgram* prog) {
  auto* n = nvrtc_or_null();
  return n ? n->destroy(prog) : NVRTC_ERROR_INTERNAL_ERROR;
}
}

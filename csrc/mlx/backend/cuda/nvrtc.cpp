// Run-time compilation of CUDA source with NVRTC, for fused compiled programs and
// mx.fast.cuda_kernel. NVRTC is opened with dlopen at first use, not linked: libnvrtc carries
// its own copy of the C++ standard library, and linking it made libmlx bind std:: symbols to
// that copy (crashes in std::ostream).
#include <dlfcn.h>
#include <nvrtc.h>
#include <sys/stat.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
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
  decltype(&nvrtcVersion) version = nullptr;
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
    version = reinterpret_cast<decltype(version)>(dlsym(h, "nvrtcVersion"));
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

// Compiled kernels are kept on disk, so a later process skips NVRTC (tens of ms a kernel):
// $MLX_CUDA_CACHE_DIR, else $XDG_CACHE_HOME/mlx/cuda, else ~/.cache/mlx/cuda; MLX_CUDA_CACHE=0
// turns it off. A file holds the whole key (source, options, GPU, NVRTC version) before the
// cubin, and is used only when that key matches: a hash collision or a stale file compiles anew.
std::string disk_cache_dir() {
  static const std::string dir = []() -> std::string {
    if (env_off("MLX_CUDA_CACHE")) return "";
    std::string d;
    if (const char* e = std::getenv("MLX_CUDA_CACHE_DIR"); e && *e) {
      d = e;
    } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
      d = std::string(x) + "/mlx/cuda";
    } else if (const char* h = std::getenv("HOME"); h && *h) {
      d = std::string(h) + "/.cache/mlx/cuda";
    } else {
      return "";
    }
    // mkdir -p, ignoring failures (the cache is then simply not used).
    for (size_t i = 1; i <= d.size(); ++i)
      if (i == d.size() || d[i] == '/') mkdir(d.substr(0, i).c_str(), 0755);
    return is_dir(d) ? d : "";
  }();
  return dir;
}

std::string disk_cache_path(const std::string& key) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  char name[40];
  std::snprintf(name, sizeof(name), "/%016llx.cubin", static_cast<unsigned long long>(h));
  return disk_cache_dir() + name;
}

bool disk_cache_load(const std::string& key, std::string& cubin) {
  if (disk_cache_dir().empty()) return false;
  std::ifstream f(disk_cache_path(key), std::ios::binary);
  if (!f) return false;
  uint64_t n = 0;
  if (!f.read(reinterpret_cast<char*>(&n), sizeof(n)) || n != key.size()) return false;
  std::string stored(n, '\0');
  if (!f.read(stored.data(), static_cast<std::streamsize>(n)) || stored != key) return false;
  std::ostringstream rest;
  rest << f.rdbuf();
  cubin = rest.str();
  return !cubin.empty();
}

void disk_cache_store(const std::string& key, const std::string& cubin) {
  if (disk_cache_dir().empty()) return;
  std::string path = disk_cache_path(key);
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return;
    uint64_t n = key.size();
    f.write(reinterpret_cast<const char*>(&n), sizeof(n));
    f.write(key.data(), static_cast<std::streamsize>(n));
    f.write(cubin.data(), static_cast<std::streamsize>(cubin.size()));
    if (!f) {
      f.close();
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
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
  std::vector<std::string> opts = {
      "--gpu-architecture=sm_" + std::to_string(props().major) + std::to_string(props().minor), "--std=c++17",
      "-default-device"};
  opts.insert(opts.end(), extra_options.begin(), extra_options.end());
  for (auto& d : cuda_include_dirs()) {
    opts.push_back("--include-path=" + d);
    if (is_dir(d + "/cccl")) opts.push_back("--include-path=" + d + "/cccl");
  }
  static const bool log = env_flag("MLX_CUDA_LOG_COMPILE");
  auto t0 = std::chrono::steady_clock::now();
  std::string disk_key = key + '\0' + props().name;
  for (auto& o : opts) disk_key += '\0' + o;
  if (nv.version) {
    int major = 0, minor = 0;
    nv.version(&major, &minor);
    disk_key += std::string(1, '\0') + "nvrtc " + std::to_string(major) + "." + std::to_string(minor);
  }
  graph_break();  // loading a module cannot be captured
  std::string cubin;
  bool from_disk = disk_cache_load(disk_key, cubin);
  if (!from_disk) {
    nvrtcProgram prog;
    if (nv.create(&prog, src.c_str(), (symbol + ".cu").c_str(), 0, nullptr, nullptr) != NVRTC_SUCCESS)
      throw std::runtime_error(std::string(op) + " nvrtcCreateProgram failed.");
    std::vector<const char*> copts;
    for (auto& o : opts) copts.push_back(o.c_str());
    nvrtcResult r = nv.compile(prog, static_cast<int>(copts.size()), copts.data());
    if (r != NVRTC_SUCCESS) {
      size_t n = 0;
      nv.log_size(prog, &n);
      std::string msg(n, '\0');
      nv.log(prog, msg.data());
      nv.destroy(&prog);
      throw std::runtime_error(std::string(op) + " NVRTC failed to compile the kernel '" + symbol + "':\n" + msg);
    }
    size_t n = 0;
    nv.cubin_size(prog, &n);
    cubin.assign(n, '\0');
    nv.cubin(prog, cubin.data());
    nv.destroy(&prog);
    disk_cache_store(disk_key, cubin);
  }
  if (log) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[cuda] %s kernel %s in %.1f ms\n", from_disk ? "loaded from the disk cache" : "compiled",
                 symbol.c_str(), ms);
  }
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

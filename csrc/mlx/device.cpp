#include "mlx/device.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>
#include <fstream>
#include <unistd.h>

#include "mlx/allocator.h"
#include "mlx/backend/gpu/gpu.h"
#include "mlx/transforms.h"

namespace mlx::core {

namespace {
Device& g_default_device_ref() {
  static Device d = gpu::is_available() ? Device(Device::gpu, 0) : Device(Device::cpu, 0);
  return d;
}

std::mutex g_mu;
std::vector<Stream>& all_streams() {
  static std::vector<Stream> s = [] {
    std::vector<Stream> v{Stream(0, Device(Device::cpu, 0))};
    if (gpu::is_available()) v.emplace_back(1, Device(Device::gpu, 0));
    return v;
  }();
  return s;
}
std::vector<int>& default_streams() {  // per device type
  static std::vector<int> d{0, gpu::is_available() ? 1 : -1};
  return d;
}
// The default stream of each device type, packed as (stream index << 32 | device index), or
// kNoStream: read without the lock by every op that builds a node (set under the lock).
constexpr uint64_t kNoStream = ~uint64_t(0);
std::atomic<uint64_t>* packed_defaults() {
  static std::atomic<uint64_t> d[2] = {{kNoStream}, {kNoStream}};
  return d;
}
uint64_t pack(const Stream& s) {
  return (uint64_t(uint32_t(s.index)) << 32) | uint32_t(s.device.index);
}
void refresh_packed_locked() {
  for (int t = 0; t < 2; ++t) {
    int idx = default_streams()[t];
    packed_defaults()[t].store(idx < 0 ? kNoStream : pack(all_streams()[idx]), std::memory_order_release);
  }
}
}  // namespace

const Device& default_device() { return g_default_device_ref(); }

bool is_available(const Device& d) {
  if (d.type == Device::cpu) return d.index == 0;
  return d.index >= 0 && d.index < gpu::device_count();
}

void set_default_device(const Device& d) {
  if (!is_available(d)) {
    throw std::invalid_argument(
        std::string("[set_default_device] the device is not available; got ") +
        (d.type == Device::gpu ? "gpu(" : "cpu(") + std::to_string(d.index) + ").");
  }
  g_default_device_ref() = d;
}

Stream default_stream(Device d) {
  uint64_t p = packed_defaults()[static_cast<int>(d.type)].load(std::memory_order_acquire);
  if (p != kNoStream) return Stream(int(uint32_t(p >> 32)), Device(d.type, int(uint32_t(p))));
  std::lock_guard lk(g_mu);
  refresh_packed_locked();
  int idx = default_streams()[static_cast<int>(d.type)];
  if (idx < 0) {
    throw std::invalid_argument("[default_stream] there is no stream for the gpu: it is not available.");
  }
  return all_streams()[idx];
}

void set_default_stream(Stream s) {
  std::lock_guard lk(g_mu);
  default_streams()[static_cast<int>(s.device.type)] = s.index;
  refresh_packed_locked();
}

Stream new_stream(Device d) {
  if (!is_available(d)) {
    throw std::invalid_argument("[new_stream] the gpu is not available.");
  }
  std::lock_guard lk(g_mu);
  Stream s(static_cast<int>(all_streams().size()), d);
  all_streams().push_back(s);
  return s;
}

// CPU work is done when eval returns, or here for async_eval's background evaluation; GPU work
// is queued and waited for here.
void synchronize() {
  detail::wait_async();
  gpu::synchronize();
}
void synchronize(Stream s) {
  detail::wait_async();
  if (s.device.type == Device::gpu) gpu::synchronize();
}

Stream to_stream(StreamOrDevice s) { return to_stream(s, default_device()); }
Stream to_stream(StreamOrDevice s, Device fallback) {
  if (std::holds_alternative<Stream>(s)) return std::get<Stream>(s);
  if (std::holds_alternative<Device>(s)) return default_stream(std::get<Device>(s));
  return default_stream(fallback);
}

std::map<std::string, std::variant<std::string, size_t>> device_info(const Device& d) {
  if (!is_available(d)) {
    throw std::invalid_argument("[device_info] the device is not available.");
  }
  if (d.type == Device::gpu) return gpu::device_info();
  std::map<std::string, std::variant<std::string, size_t>> info;
  std::string name = "cpu";
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) name = line.substr(p + 2);
      break;
    }
  }
  info["device_name"] = name;
  info["architecture"] = std::string("x86_64");
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  info["memory_size"] = size_t(pages) * size_t(page);
  info["num_cores"] = size_t(std::thread::hardware_concurrency());
  return info;
}

}  // namespace mlx::core

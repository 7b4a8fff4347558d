// Devices and streams. Every op runs on a stream; a stream belongs to a device.
#pragma once
#include <string>
#include <map>
#include <variant>

namespace mlx::core {

struct Device {
  enum class DeviceType { cpu = 0, gpu = 1 };
  static constexpr DeviceType cpu = DeviceType::cpu;
  static constexpr DeviceType gpu = DeviceType::gpu;
  DeviceType type;
  int index;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

struct Stream {
  int index;
  Device device;
  Stream(int i, Device d) : index(i), device(d) {}
  bool operator==(const Stream& o) const { return index == o.index; }
  bool operator!=(const Stream& o) const { return index != o.index; }
};

const Device& default_device();
void set_default_device(const Device& d);
bool is_available(const Device& d);
Stream default_stream(Device d);
void set_default_stream(Stream s);
Stream new_stream(Device d);
void synchronize();
void synchronize(Stream s);
std::map<std::string, std::variant<std::string, size_t>> device_info(const Device& d);

// An op's `stream=` argument: nothing (default), a Stream or a Device.
using StreamOrDevice = std::variant<std::monostate, Stream, Device>;
Stream to_stream(StreamOrDevice s);
Stream to_stream(StreamOrDevice s, Device fallback);

}  // namespace mlx::core

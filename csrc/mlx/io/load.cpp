// The Load primitive (lazy loading).
#include "mlx/io/load.h"

#include <stdexcept>

#include "mlx/io/utils.h"

namespace mlx::core::io {

namespace {

void byteswap(char* p, size_t nbytes, size_t width) {
  for (size_t o = 0; o + width <= nbytes; o += width)
    for (size_t a = 0, b = width - 1; a < b; ++a, --b) std::swap(p[o + a], p[o + b]);
}

}  // namespace

// ---- Load ----
void Load::eval_cpu(const std::vector<array>&, std::vector<array>& outputs) {
  std::vector<Buffer> bufs;
  try {
    std::vector<char*> ptrs;
    for (auto& o : outputs) {
      bufs.push_back(allocator::malloc(std::max<size_t>(o.nbytes(), 1)));
      ptrs.push_back(static_cast<char*>(bufs.back().ptr));
    }
    if (!decoder_) {
      if (nbytes_) reader_->read_at(ptrs[0], nbytes_, offset_);
      if (swap_width_ > 1) byteswap(ptrs[0], nbytes_, static_cast<size_t>(swap_width_));
    } else {
      Buffer raw = allocator::malloc(std::max<size_t>(nbytes_, 1));
      try {
        if (nbytes_) reader_->read_at(static_cast<char*>(raw.ptr), nbytes_, offset_);
        decoder_(static_cast<const char*>(raw.ptr), nbytes_, ptrs);
      } catch (...) {
        allocator::free(raw);
        throw;
      }
      allocator::free(raw);
    }
  } catch (...) {
    for (auto& b : bufs) allocator::free(b);
    throw;
  }
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].set_data(bufs[i]);
}

std::vector<array> load_region(const std::shared_ptr<Reader>& reader, std::vector<Shape> shapes,
                               const std::vector<Dtype>& dtypes, size_t offset, size_t nbytes, int swap_width,
                               Decoder decoder) {
  auto prim = std::make_shared<Load>(default_stream(Device(Device::cpu)), reader, offset, nbytes, swap_width,
                                     std::move(decoder));
  std::vector<array> outs = shapes.size() == 1
                                ? std::vector<array>{array(std::move(shapes[0]), dtypes[0], prim, {})}
                                : array::make_arrays(std::move(shapes), dtypes, prim, {});
  if (!reader->lazy()) {
    // Read now: the reader (a Python file object, bytes in memory) may not outlive this call.
    prim->eval_cpu({}, outs);
    outs[0].detach();
  }
  return outs;
}

array load_region(const std::shared_ptr<Reader>& reader, Shape shape, Dtype dtype, size_t offset, size_t nbytes,
                  int swap_width) {
  return load_region(reader, std::vector<Shape>{std::move(shape)}, {dtype}, offset, nbytes, swap_width)[0];
}

}  // namespace mlx::core::io

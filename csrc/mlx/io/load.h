// The Load primitive: a graph node whose outputs are read from a byte range of a file when
// they are evaluated (lazy loading; see the top of io.h).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "mlx/io/io.h"
#include "mlx/primitive.h"

namespace mlx::core::io {

// Turns the `nbytes` raw bytes of a tensor's file region into the data of the outputs (one
// row-contiguous buffer per output, sized for its shape and dtype).
using Decoder = std::function<void(const char* raw, size_t nbytes, const std::vector<char*>& outputs)>;

// No inputs; its outputs are constants (no gradient flows into a loaded array). It holds the
// reader (and so the open file) until every output is evaluated or gone. Runs on the CPU.
class Load : public Primitive {
 public:
  Load(Stream s, std::shared_ptr<Reader> reader, size_t offset, size_t nbytes, int swap_width,
       Decoder decoder)
      : Primitive(s),
        reader_(std::move(reader)),
        offset_(offset),
        nbytes_(nbytes),
        swap_width_(swap_width),
        decoder_(std::move(decoder)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return "Load"; }

 private:
  std::shared_ptr<Reader> reader_;
  size_t offset_, nbytes_;
  int swap_width_;
  Decoder decoder_;
};

// Arrays of the given shapes and dtypes made from the `nbytes` bytes at absolute position
// `offset` of `reader`: copied as they are into a single output (byte-swapped in units of
// `swap_width` bytes when it is > 1; nbytes must then be the output's size), or decoded by
// `decoder`. Lazy when reader->lazy(); otherwise read before returning. The caller has checked
// that the range lies inside the reader.
std::vector<array> load_region(const std::shared_ptr<Reader>& reader, std::vector<Shape> shapes,
                               const std::vector<Dtype>& dtypes, size_t offset, size_t nbytes,
                               int swap_width = 0, Decoder decoder = nullptr);
array load_region(const std::shared_ptr<Reader>& reader, Shape shape, Dtype dtype, size_t offset,
                  size_t nbytes, int swap_width = 0);

}  // namespace mlx::core::io

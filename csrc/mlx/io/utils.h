// Internal helpers of the io family (not part of the public headers).
#pragma once
#include <cstring>
#include <string>

#include "mlx/io/io.h"

namespace mlx::core::io::detail {

// A fresh evaluated row-contiguous array with uninitialized data.
array new_array(const Shape& shape, Dtype dtype);
// Writes the elements of `a` in row-major order (evaluates it; copies if not row-contiguous).
void write_array_data(Writer& out, array a);
// Number of bytes of `shape` elements of `itemsize` bytes; throws ValueError when the product
// overflows or exceeds `limit`.
size_t checked_nbytes(const std::vector<uint64_t>& dims, size_t itemsize, size_t limit,
                      const char* op, const std::string& label);
// True when `s` ends with `suffix`.
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// Opens a file for reading; throws std::runtime_error when it can't.
std::shared_ptr<Reader> open_reader(const std::string& file, const char* op);
std::shared_ptr<FileWriter> open_writer(const std::string& file, const char* op);

// Reads little-endian fields with bounds checks; a read past the end throws
// ValueError("[op] <label> is truncated or malformed; got <what> ...").
class Cursor {
 public:
  Cursor(Reader& in, const char* op) : in_(in), op_(op) {}
  [[noreturn]] void fail(const std::string& what) const;
  // Throws unless n more bytes are available.
  void need(size_t n, const char* what) const;
  void bytes(char* dst, size_t n, const char* what) {
    need(n, what);
    in_.read(dst, n);
  }
  template <typename T>
  T le(const char* what) {
    T v;
    bytes(reinterpret_cast<char*>(&v), sizeof(T), what);
    return v;  // hosts are little-endian (checked in io.cpp)
  }
  std::string str(size_t n, const char* what) {
    need(n, what);
    std::string s(n, '\0');
    if (n) in_.read(s.data(), n);
    return s;
  }
  size_t tell() { return in_.tell(); }
  size_t size() { return in_.size(); }
  size_t remaining() { return in_.remaining(); }
  void seek(size_t pos) {
    if (pos > in_.size()) fail("an offset past the end of the file");
    in_.seek(pos);
  }
  Reader& reader() { return in_; }
  const char* op() const { return op_; }

 private:
  Reader& in_;
  const char* op_;
};

}  // namespace mlx::core::io::detail

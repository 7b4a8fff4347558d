// Saving and loading arrays: .npy, .safetensors and .gguf (the .npz zip container is
// written in Python, python/mlx/_io.py, on top of the .npy functions here).
//
// Loading is lazy for files on disk: the header is parsed and validated completely (every
// tensor's byte range is checked against the file size) when `load*` is called, and each
// returned array is a graph node (io::Load, csrc/mlx/io/load.h) that reads its own bytes from
// the file when it is evaluated. The node keeps the file open, so deleting or renaming the file
// after loading is harmless; a file changed in place after loading raises at evaluation. Loads
// from other readers (memory, Python file objects) read every array before returning. A
// malformed or truncated file raises ValueError (a file that cannot be opened or read raises
// std::runtime_error); nothing reads outside the bytes the file has.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "mlx/array.h"
#include "mlx/device.h"

namespace mlx::core {

namespace io {

// A source of bytes with a known size and random access (positions are absolute).
class Reader {
 public:
  virtual ~Reader() = default;
  virtual bool is_open() const = 0;
  // Total size in bytes of the source (positions run from 0 to size()).
  virtual size_t size() = 0;
  virtual size_t tell() = 0;
  virtual void seek(size_t pos) = 0;
  // Reads exactly n bytes at the current position; throws std::runtime_error on a short read.
  virtual void read(char* data, size_t n) = 0;
  // A name for messages (the file name).
  virtual std::string label() const = 0;
  size_t remaining() {
    size_t s = size(), t = tell();
    return t < s ? s - t : 0;
  }
  // Reads exactly n bytes at absolute position `offset` (the position for read() afterwards is
  // unspecified). The default seeks and reads.
  virtual void read_at(char* data, size_t n, size_t offset) {
    seek(offset);
    read(data, n);
  }
  // True when read_at may be called later, from any thread, after the load function has
  // returned (files on disk): loads from such a reader are lazy.
  virtual bool lazy() const { return false; }
};

// A sink of bytes.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual bool is_open() const = 0;
  // Writes exactly n bytes; throws std::runtime_error on failure.
  virtual void write(const char* data, size_t n) = 0;
  virtual std::string label() const = 0;
};

// A file on disk. read() is buffered (headers); read_at() is a positional read (pread) that is
// safe from several threads and checks that the file has not been changed in place since it
// was opened (same size and modification time), so lazy arrays never read a rewritten file.
class FileReader : public Reader {
 public:
  explicit FileReader(std::string path);
  ~FileReader() override;
  bool is_open() const override { return f_ != nullptr; }
  size_t size() override { return size_; }
  size_t tell() override { return pos_; }
  void seek(size_t pos) override;
  void read(char* data, size_t n) override;
  void read_at(char* data, size_t n, size_t offset) override;
  bool lazy() const override { return true; }
  std::string label() const override { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
  int64_t mtime_ns_ = 0;
};

// The bytes [begin, begin + length) of another reader, as a reader of its own (an uncompressed
// member of a zip archive). Lazy when the parent is. Throws ValueError when the window does not
// fit in the parent.
class SubReader : public Reader {
 public:
  SubReader(std::shared_ptr<Reader> parent, size_t begin, size_t length, std::string label);
  bool is_open() const override { return parent_->is_open(); }
  size_t size() override { return length_; }
  size_t tell() override { return pos_; }
  void seek(size_t pos) override;
  void read(char* data, size_t n) override;
  void read_at(char* data, size_t n, size_t offset) override;
  bool lazy() const override { return parent_->lazy(); }
  std::string label() const override { return label_; }

 private:
  std::shared_ptr<Reader> parent_;
  size_t begin_, length_, pos_ = 0;
  std::string label_;
};

class FileWriter : public Writer {
 public:
  explicit FileWriter(std::string path);
  ~FileWriter() override;
  bool is_open() const override { return f_ != nullptr; }
  void write(const char* data, size_t n) override;
  std::string label() const override { return path_; }
  // Flushes and closes; throws on failure. The destructor closes silently.
  void close();

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// Reads from bytes in memory (owned, or borrowed when constructed from a pointer).
class MemoryReader : public Reader {
 public:
  explicit MemoryReader(std::string bytes, std::string label = "<memory>");
  MemoryReader(const char* data, size_t n, std::string label = "<memory>");
  bool is_open() const override { return true; }
  size_t size() override { return n_; }
  size_t tell() override { return pos_; }
  void seek(size_t pos) override;
  void read(char* data, size_t n) override;
  std::string label() const override { return label_; }

 private:
  std::string own_;
  const char* data_;
  size_t n_;
  size_t pos_ = 0;
  std::string label_;
};

// Appends to a string in memory.
class MemoryWriter : public Writer {
 public:
  bool is_open() const override { return true; }
  void write(const char* data, size_t n) override { bytes.append(data, n); }
  std::string label() const override { return "<memory>"; }
  std::string bytes;
};

// Names and arrays in file order (the unordered_map API below is MLX's).
using NamedArrays = std::vector<std::pair<std::string, array>>;
using StringPairs = std::vector<std::pair<std::string, std::string>>;

}  // namespace io

// ---- .npy ----
// Loads one array (lazily from a file; see the top of this header). Supports every dtype
// (bfloat16 as MLX writes it, descr '<V2'), big-endian data (byte-swapped when read) and
// Fortran order.
array load(std::shared_ptr<io::Reader> in_stream, StreamOrDevice s = {});
// Opens `file` (no extension is added) and loads it as .npy.
array load(std::string file, StreamOrDevice s = {});
// Writes `a` in .npy format (C order).
void save(std::shared_ptr<io::Writer> out_stream, array a);
// Appends ".npy" to `file` when it has another ending.
void save(std::string file, array a);

// ---- .safetensors ----
using SafetensorsLoad = std::pair<std::unordered_map<std::string, array>,
                                  std::unordered_map<std::string, std::string>>;
SafetensorsLoad load_safetensors(std::shared_ptr<io::Reader> in_stream, StreamOrDevice s = {});
SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s = {});
void save_safetensors(std::shared_ptr<io::Writer> out_stream,
                      std::unordered_map<std::string, array> arrays,
                      std::unordered_map<std::string, std::string> metadata = {});
// Appends ".safetensors" to `file` when it has another ending.
void save_safetensors(std::string file, std::unordered_map<std::string, array> arrays,
                      std::unordered_map<std::string, std::string> metadata = {});

// ---- .gguf ----
// A metadata value: nothing, an array (scalar or 1-d), a string or a list of strings.
using GGUFMetaData = std::variant<std::monostate, array, std::string, std::vector<std::string>>;
using GGUFLoad = std::pair<std::unordered_map<std::string, array>,
                           std::unordered_map<std::string, GGUFMetaData>>;
// Q4_0, Q4_1 and Q8_0 tensors load as MLX quantized triplets (group size 32): `name` holds the
// packed uint32 weights and `base.scales`, `base.biases` (float16) where base is `name` without a
// trailing ".weight". Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K
// and Q6_K tensors are dequantized to float16.
GGUFLoad load_gguf(std::shared_ptr<io::Reader> in_stream, StreamOrDevice s = {});
GGUFLoad load_gguf(const std::string& file, StreamOrDevice s = {});
void save_gguf(std::shared_ptr<io::Writer> out_stream, std::unordered_map<std::string, array> arrays,
               std::unordered_map<std::string, GGUFMetaData> metadata = {});
// Appends ".gguf" to `file` when it has another ending.
void save_gguf(std::string file, std::unordered_map<std::string, array> arrays,
               std::unordered_map<std::string, GGUFMetaData> metadata = {});

namespace io {
// Order-preserving forms (used by the Python bindings; the results keep file order). Lazy when
// `in` is (see Reader::lazy); the arrays keep `in` alive until they are evaluated.
std::pair<NamedArrays, StringPairs> load_safetensors_ordered(std::shared_ptr<Reader> in);
void save_safetensors_ordered(Writer& out, const NamedArrays& arrays, const StringPairs& metadata);
using GGUFMetaPairs = std::vector<std::pair<std::string, GGUFMetaData>>;
std::pair<NamedArrays, GGUFMetaPairs> load_gguf_ordered(std::shared_ptr<Reader> in);
void save_gguf_ordered(Writer& out, const NamedArrays& arrays, const GGUFMetaPairs& metadata);
// Checks everything save_gguf would check, without writing (so no file is created on error).
void check_gguf(const NamedArrays& arrays, const GGUFMetaPairs& metadata);
void check_safetensors(const NamedArrays& arrays);
}  // namespace io

}  // namespace mlx::core

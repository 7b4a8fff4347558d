// File, window and memory readers, writers, and the helpers shared by the io formats.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <stdexcept>

#include "mlx/io/utils.h"
#include "mlx/ops.h"
#include "mlx/transforms.h"

namespace mlx::core {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the io readers assume a little-endian host");

namespace io {

namespace {
int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}
}  // namespace

// ---- FileReader ----
FileReader::FileReader(std::string path) : path_(std::move(path)) {
  f_ = std::fopen(path_.c_str(), "rb");
  if (!f_) return;
  if (fseeko(f_, 0, SEEK_END) != 0) {
    std::fclose(f_);
    f_ = nullptr;
    return;
  }
  off_t end = ftello(f_);
  if (end < 0 || fseeko(f_, 0, SEEK_SET) != 0) {
    std::fclose(f_);
    f_ = nullptr;
    return;
  }
  size_ = static_cast<size_t>(end);
  struct stat st;
  if (fstat(fileno(f_), &st) == 0) mtime_ns_ = mtime_ns(st);
}

FileReader::~FileReader() {
  if (f_) std::fclose(f_);
}

void FileReader::seek(size_t pos) {
  if (fseeko(f_, static_cast<off_t>(pos), SEEK_SET) != 0)
    throw std::runtime_error("[read] could not seek in " + path_ + "; got position " +
                             std::to_string(pos) + ".");
  pos_ = pos;
}

void FileReader::read(char* data, size_t n) {
  size_t got = n ? std::fread(data, 1, n, f_) : 0;
  pos_ += got;
  if (got != n)
    throw std::runtime_error("[read] could not read " + std::to_string(n) + " bytes from " +
                             path_ + "; got " + std::to_string(got) + ".");
}

void FileReader::read_at(char* data, size_t n, size_t offset) {
  struct stat st;
  int fd = fileno(f_);
  if (fstat(fd, &st) != 0)
    throw std::runtime_error(msg("[load] could not check ", path_, " before reading it; got errno ", errno, " (",
                                 std::strerror(errno), ")."));
  if (static_cast<size_t>(st.st_size) != size_ || mtime_ns(st) != mtime_ns_)
    throw std::runtime_error(msg("[load] ", path_, " was modified after it was loaded (lazy arrays read the file ",
                                 "when they are evaluated); got a size of ", st.st_size, " bytes instead of ", size_,
                                 " or a new modification time. Evaluate the arrays before overwriting the file."));
  if (offset > size_ || n > size_ - offset)
    throw std::runtime_error(msg("[load] could not read ", n, " bytes at offset ", offset, " from ", path_,
                                 "; got a file of ", size_, " bytes."));
  size_t got = 0;
  while (got < n) {
    ssize_t k = pread(fd, data + got, n - got, static_cast<off_t>(offset + got));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0)
      throw std::runtime_error(msg("[load] could not read ", n, " bytes at offset ", offset, " from ", path_,
                                   "; got ", got, (k < 0 ? std::string(" and ") + std::strerror(errno) : std::string()),
                                   "."));
    got += static_cast<size_t>(k);
  }
}

// ---- SubReader ----
SubReader::SubReader(std::shared_ptr<Reader> parent, size_t begin, size_t length, std::string label)
    : parent_(std::move(parent)), begin_(begin), length_(length), label_(std::move(label)) {
  size_t total = parent_->size();
  if (begin > total || length > total - begin)
    throw ValueError(msg("[load] ", label_, " is truncated or malformed; got a member of ", length,
                         " bytes at offset ", begin, " in a file of ", total, " bytes."));
}

void SubReader::seek(size_t pos) {
  if (pos > length_)
    throw std::runtime_error(msg("[read] could not seek in ", label_, "; got position ", pos, "."));
  pos_ = pos;
}

void SubReader::read(char* data, size_t n) {
  if (n > length_ - pos_)
    throw std::runtime_error(msg("[read] could not read ", n, " bytes from ", label_, "; got ", length_ - pos_, "."));
  parent_->read_at(data, n, begin_ + pos_);
  pos_ += n;
}

void SubReader::read_at(char* data, size_t n, size_t offset) {
  if (offset > length_ || n > length_ - offset)
    throw std::runtime_error(msg("[read] could not read ", n, " bytes at offset ", offset, " from ", label_,
                                 "; got a member of ", length_, " bytes."));
  parent_->read_at(data, n, begin_ + offset);
}

// ---- FileWriter ----
FileWriter::FileWriter(std::string path) : path_(std::move(path)) {
  // A pending background evaluation may still read this file (a lazy load).
  core::detail::wait_async();
  f_ = std::fopen(path_.c_str(), "wb");
}

FileWriter::~FileWriter() {
  if (f_) std::fclose(f_);
}

void FileWriter::write(const char* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n)
    throw std::runtime_error("[write] could not write " + std::to_string(n) + " bytes to " + path_ +
                             "; got an I/O error.");
}

void FileWriter::close() {
  if (!f_) return;
  int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0)
    throw std::runtime_error("[write] could not finish writing " + path_ + "; got an I/O error.");
}

// ---- MemoryReader ----
MemoryReader::MemoryReader(std::string bytes, std::string label)
    : own_(std::move(bytes)), data_(own_.data()), n_(own_.size()), label_(std::move(label)) {}

MemoryReader::MemoryReader(const char* data, size_t n, std::string label)
    : data_(data), n_(n), label_(std::move(label)) {}

void MemoryReader::seek(size_t pos) {
  if (pos > n_)
    throw std::runtime_error("[read] could not seek in " + label_ + "; got position " +
                             std::to_string(pos) + ".");
  pos_ = pos;
}

void MemoryReader::read(char* data, size_t n) {
  if (n > n_ - pos_)
    throw std::runtime_error("[read] could not read " + std::to_string(n) + " bytes from " +
                             label_ + "; got " + std::to_string(n_ - pos_) + ".");
  if (n) std::memcpy(data, data_ + pos_, n);
  pos_ += n;
}

// ---- helpers ----
namespace detail {

array new_array(const Shape& shape, Dtype dtype) {
  size_t n = shape_size(shape);
  Buffer b = allocator::malloc(std::max<size_t>(n * size_of(dtype), 1));
  Flags flags;
  int big = 0;
  for (auto s : shape) big += (s > 1);
  flags.contiguous = true;
  flags.row_contiguous = true;
  flags.col_contiguous = big <= 1;
  return array(shape, dtype, std::make_shared<Data>(b), row_strides(shape), 0, flags, n);
}

void write_array_data(Writer& out, array a) {
  if (a.size() == 0) return;
  a.eval();
  auto dense = [](const array& x) {
    return x.flags().row_contiguous && x.data_size() == x.size();
  };
  if (!dense(a)) {
    a = contiguous(a, false, Device(Device::cpu));  // the bytes are written from the host anyway
    a.eval();
  }
  if (dense(a)) {
    out.write(a.data<char>(), a.nbytes());
    return;
  }
  // Fallback: gather element by element through the strides.
  size_t isz = a.itemsize(), nd = a.ndim();
  std::string buf;
  buf.reserve(std::min<size_t>(a.nbytes(), size_t(1) << 24));
  std::vector<int32_t> idx(nd, 0);
  const char* base = a.data<char>();
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < nd; ++d) off += idx[d] * a.strides()[d];
    buf.append(base + off * static_cast<int64_t>(isz), isz);
    for (int d = static_cast<int>(nd) - 1; d >= 0; --d) {
      if (++idx[d] < a.shape(d)) break;
      idx[d] = 0;
    }
    if (buf.size() >= (size_t(1) << 24)) {
      out.write(buf.data(), buf.size());
      buf.clear();
    }
  }
  out.write(buf.data(), buf.size());
}

size_t checked_nbytes(const std::vector<uint64_t>& dims, size_t itemsize, size_t limit,
                      const char* op, const std::string& label) {
  unsigned __int128 n = itemsize;
  bool zero = false;
  for (auto d : dims) {
    if (d > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
      throw ValueError(msg("[", op, "] ", label, " is malformed: a dimension is larger than 2^31 - 1; got ", d, "."));
    zero = zero || d == 0;
  }
  if (zero) return 0;
  for (auto d : dims) {
    n *= d;
    if (n > limit)
      throw ValueError(msg("[", op, "] ", label, " is truncated or malformed: an array needs more bytes than the file has left; got ",
                           limit, " bytes left."));
  }
  return static_cast<size_t>(n);
}

std::shared_ptr<Reader> open_reader(const std::string& file, const char* op) {
  auto r = std::make_shared<FileReader>(file);
  if (!r->is_open())
    throw std::runtime_error(msg("[", op, "] Failed to open file ", file, "; got errno ", errno, " (",
                                 std::strerror(errno), ")."));
  return r;
}

std::shared_ptr<FileWriter> open_writer(const std::string& file, const char* op) {
  auto w = std::make_shared<FileWriter>(file);
  if (!w->is_open())
    throw std::runtime_error(msg("[", op, "] Failed to open file ", file, " for writing; got errno ", errno,
                                 " (", std::strerror(errno), ")."));
  return w;
}

void Cursor::fail(const std::string& what) const {
  throw ValueError(msg("[", op_, "] ", in_.label(), " is truncated or malformed; got ", what, "."));
}

void Cursor::need(size_t n, const char* what) const {
  if (n > in_.remaining())
    fail(msg(what, " needing ", n, " bytes with only ", in_.remaining(), " left at offset ", in_.tell()));
}

}  // namespace detail
}  // namespace io
}  // namespace mlx::core

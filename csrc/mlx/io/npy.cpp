// The .npy format: a magic string, a version, a Python-dict header and the raw data.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include <cctype>

#include "mlx/io/load.h"
#include "mlx/io/utils.h"
#include "mlx/ops.h"

namespace mlx::core {

using io::detail::Cursor;

namespace {

constexpr size_t kMaxHeader = size_t(1) << 20;
constexpr size_t kMaxDims = 64;

const char* npy_descr(Dtype t) {
  switch (t) {
    case bool_: return "|b1";
    case uint8: return "|u1";
    case uint16: return "<u2";
    case uint32: return "<u4";
    case uint64: return "<u8";
    case int8: return "|i1";
    case int16: return "<i2";
    case int32: return "<i4";
    case int64: return "<i8";
    case float16: return "<f2";
    case float32: return "<f4";
    case float64: return "<f8";
    case bfloat16: return "<V2";  // as MLX writes it; NumPy has no bfloat16
    case complex64: return "<c8";
  }
  return "|u1";
}

// A parser of the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct HeaderParser {
  const std::string& s;
  Cursor& cur;
  size_t i = 0;

  [[noreturn]] void bad(const std::string& what) {
    cur.fail(msg("a malformed .npy header (", what, ") in ", repr()));
  }
  std::string repr() const {
    std::string r = s.substr(0, 120);
    for (auto& c : r)
      if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    return "'" + r + (s.size() > 120 ? "...'" : "'");
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool peek(char c) {
    ws();
    return i < s.size() && s[i] == c;
  }
  void expect(char c) {
    if (!peek(c)) bad(std::string("expected '") + c + "'");
    ++i;
  }
  std::string string() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad("expected a string");
    char q = s[i++];
    size_t start = i;
    while (i < s.size() && s[i] != q) {
      if (s[i] == '\\') bad("escapes are not supported");
      ++i;
    }
    if (i >= s.size()) bad("an unterminated string");
    return s.substr(start, i++ - start);
  }
  bool boolean() {
    ws();
    if (s.compare(i, 4, "True") == 0) {
      i += 4;
      return true;
    }
    if (s.compare(i, 5, "False") == 0) {
      i += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<uint64_t> tuple() {
    expect('(');
    std::vector<uint64_t> out;
    while (!peek(')')) {
      ws();
      if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) bad("expected a dimension");
      uint64_t v = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (v > (uint64_t(1) << 40)) bad("a dimension too large");
        v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
      }
      if (i < s.size() && (s[i] == 'L' || s[i] == 'l')) ++i;  // Python 2 longs
      out.push_back(v);
      if (out.size() > kMaxDims) bad("too many dimensions");
      if (peek(',')) ++i;
      else if (!peek(')')) bad("expected ',' or ')'");
    }
    ++i;
    return out;
  }
};

struct NpyType {
  Dtype dtype;
  bool swap;
};

NpyType parse_descr(const std::string& d, Cursor& cur) {
  auto bad = [&]() -> NpyType {
    cur.fail(msg("an unsupported .npy dtype '", d.substr(0, 40), "'"));
  };
  if (d.size() < 2) return bad();
  size_t k = 0;
  char order = '|';
  if (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') {
    order = d[0];
    k = 1;
  }
  if (k >= d.size()) return bad();
  char kind = d[k];
  std::string sz = d.substr(k + 1);
  if (sz.empty() || sz.size() > 2) return bad();
  for (char c : sz)
    if (!std::isdigit(static_cast<unsigned char>(c))) return bad();
  int n = std::stoi(sz);
  Dtype t;
  if (kind == 'b' && n == 1) t = bool_;
  else if (kind == '?' && n == 1) t = bool_;
  else if (kind == 'u' && n == 1) t = uint8;
  else if (kind == 'u' && n == 2) t = uint16;
  else if (kind == 'u' && n == 4) t = uint32;
  else if (kind == 'u' && n == 8) t = uint64;
  else if (kind == 'i' && n == 1) t = int8;
  else if (kind == 'i' && n == 2) t = int16;
  else if (kind == 'i' && n == 4) t = int32;
  else if (kind == 'i' && n == 8) t = int64;
  else if (kind == 'f' && n == 2) t = float16;
  else if (kind == 'f' && n == 4) t = float32;
  else if (kind == 'f' && n == 8) t = float64;
  else if (kind == 'c' && n == 8) t = complex64;
  else if (kind == 'V' && n == 2) t = bfloat16;
  else return bad();
  return {t, order == '>' && size_of(t) > 1};
}

}  // namespace

array load(std::shared_ptr<io::Reader> in_stream, StreamOrDevice s) {
  (void)s;
  if (!in_stream || !in_stream->is_open())
    throw std::runtime_error("[load] the input stream is not open; got a closed reader.");
  Cursor cur(*in_stream, "load");
  std::string magic = cur.str(8, "the .npy magic string and version");
  if (magic.compare(0, 6, "\x93NUMPY") != 0)
    cur.fail("no .npy magic string at the start (this is not a .npy file)");
  int major = static_cast<unsigned char>(magic[6]);
  size_t hlen;
  if (major == 1) hlen = cur.le<uint16_t>("the .npy header length");
  else if (major == 2 || major == 3) hlen = cur.le<uint32_t>("the .npy header length");
  else cur.fail(msg("an unsupported .npy version ", major, ".", static_cast<int>(static_cast<unsigned char>(magic[7]))));
  if (hlen > kMaxHeader) cur.fail(msg("a .npy header of ", hlen, " bytes (the limit is ", kMaxHeader, ")"));
  std::string header = cur.str(hlen, "the .npy header");

  HeaderParser p{header, cur};
  std::string descr;
  bool fortran = false, has_descr = false, has_order = false, has_shape = false;
  std::vector<uint64_t> dims;
  p.expect('{');
  while (!p.peek('}')) {
    std::string key = p.string();
    p.expect(':');
    if (key == "descr") {
      if (p.peek('[')) cur.fail("a structured .npy dtype, which is not supported");
      descr = p.string();
      has_descr = true;
    } else if (key == "fortran_order") {
      fortran = p.boolean();
      has_order = true;
    } else if (key == "shape") {
      dims = p.tuple();
      has_shape = true;
    } else {
      p.bad("an unknown key '" + key.substr(0, 40) + "'");
    }
    if (p.peek(',')) ++p.i;
    else if (!p.peek('}')) p.bad("expected ',' or '}'");
  }
  if (!has_descr || !has_order || !has_shape) p.bad("missing 'descr', 'fortran_order' or 'shape'");
  NpyType nt = parse_descr(descr, cur);

  size_t nbytes = io::detail::checked_nbytes(dims, size_of(nt.dtype), cur.remaining(), "load",
                                             in_stream->label());
  Shape shape;
  for (auto d : dims) shape.push_back(static_cast<int32_t>(d));
  Shape read_shape = shape;
  if (fortran) std::reverse(read_shape.begin(), read_shape.end());
  // checked_nbytes has checked the data against the bytes left; it is read when evaluated.
  int swap = nt.swap ? static_cast<int>(nt.dtype == complex64 ? 4 : size_of(nt.dtype)) : 0;
  array out = io::load_region(in_stream, read_shape, nt.dtype, cur.tell(), nbytes, swap);
  if (fortran && shape.size() > 1) out = transpose(out);
  return out;
}

array load(std::string file, StreamOrDevice s) {
  return load(io::detail::open_reader(file, "load"), s);
}

void save(std::shared_ptr<io::Writer> out_stream, array a) {
  if (!out_stream || !out_stream->is_open())
    throw std::runtime_error("[save] the output stream is not open; got a closed writer.");
  a.eval();
  std::string shape = "(";
  for (size_t i = 0; i < a.ndim(); ++i) shape += std::to_string(a.shape(i)) + (a.ndim() == 1 ? "," : (i + 1 < a.ndim() ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + npy_descr(a.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces and a newline so the data starts at a multiple of 64 bytes.
  bool v2 = header.size() + 1 + 10 > 65535;
  size_t pre = v2 ? 12 : 10;
  size_t total = pre + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  if (v2) {
    uint32_t n = static_cast<uint32_t>(header.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
  } else {
    uint16_t n = static_cast<uint16_t>(header.size());
    out.append(reinterpret_cast<const char*>(&n), 2);
  }
  out += header;
  out_stream->write(out.data(), out.size());
  io::detail::write_array_data(*out_stream, a);
}

void save(std::string file, array a) {
  if (!io::detail::ends_with(file, ".npy")) file += ".npy";
  a.eval();
  auto w = io::detail::open_writer(file, "save");
  save(w, a);
  w->close();
}

}  // namespace mlx::core

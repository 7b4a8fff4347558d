// The GGUF format (versions 2 and 3, little-endian): a header, typed key/value metadata,
// tensor descriptions and aligned tensor data.
// https://github.com/ggerganov/ggml/blob/master/docs/gguf.md
#include <algorithm>
#include <set>

#include "mlx/io/gguf_quants.h"
#include "mlx/io/load.h"
#include "mlx/io/utils.h"
#include "mlx/transforms.h"

namespace mlx::core {

using io::detail::Cursor;

namespace {

constexpr size_t kMaxDims = 64;
constexpr uint32_t kDefaultAlignment = 32;

// Metadata value types.
enum GType : uint32_t {
  G_UINT8 = 0, G_INT8 = 1, G_UINT16 = 2, G_INT16 = 3, G_UINT32 = 4, G_INT32 = 5, G_FLOAT32 = 6,
  G_BOOL = 7, G_STRING = 8, G_ARRAY = 9, G_UINT64 = 10, G_INT64 = 11, G_FLOAT64 = 12,
};

// Tensor types (ggml_type).
enum TType : uint32_t {
  T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
  T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_Q8_K = 15,
  T_I8 = 24, T_I16 = 25, T_I32 = 26, T_I64 = 27, T_F64 = 28, T_BF16 = 30,
};

const char* ttype_name(uint32_t t) {
  static const char* names[] = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1",
                                "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
                                "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
                                "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
                                "BF16"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

bool gtype_dtype(uint32_t g, Dtype& d) {
  switch (g) {
    case G_UINT8: d = uint8; return true;
    case G_INT8: d = int8; return true;
    case G_UINT16: d = uint16; return true;
    case G_INT16: d = int16; return true;
    case G_UINT32: d = uint32; return true;
    case G_INT32: d = int32; return true;
    case G_FLOAT32: d = float32; return true;
    case G_BOOL: d = bool_; return true;
    case G_UINT64: d = uint64; return true;
    case G_INT64: d = int64; return true;
    case G_FLOAT64: d = float64; return true;
  }
  return false;
}

bool dtype_gtype(Dtype d, uint32_t& g) {
  switch (d) {
    case uint8: g = G_UINT8; return true;
    case int8: g = G_INT8; return true;
    case uint16: g = G_UINT16; return true;
    case int16: g = G_INT16; return true;
    case uint32: g = G_UINT32; return true;
    case int32: g = G_INT32; return true;
    case float32: g = G_FLOAT32; return true;
    case bool_: g = G_BOOL; return true;
    case uint64: g = G_UINT64; return true;
    case int64: g = G_INT64; return true;
    case float64: g = G_FLOAT64; return true;
    default: return false;
  }
}

bool dtype_ttype(Dtype d, uint32_t& t) {
  switch (d) {
    case float32: t = T_F32; return true;
    case float16: t = T_F16; return true;
    case bfloat16: t = T_BF16; return true;
    case float64: t = T_F64; return true;
    case int8: t = T_I8; return true;
    case int16: t = T_I16; return true;
    case int32: t = T_I32; return true;
    case int64: t = T_I64; return true;
    default: return false;
  }
}

bool ttype_dtype(uint32_t t, Dtype& d) {
  switch (t) {
    case T_F32: d = float32; return true;
    case T_F16: d = float16; return true;
    case T_BF16: d = bfloat16; return true;
    case T_F64: d = float64; return true;
    case T_I8: d = int8; return true;
    case T_I16: d = int16; return true;
    case T_I32: d = int32; return true;
    case T_I64: d = int64; return true;
  }
  return false;
}

// Bytes per block of 32 elements of the types that load as MLX quantized triplets.
size_t triplet_block_bytes(uint32_t t) {
  switch (t) {
    case T_Q4_0: return 18;
    case T_Q4_1: return 20;
    case T_Q8_0: return 34;
  }
  return 0;
}

inline float f16(const uint8_t* p) {
  uint16_t b;
  std::memcpy(&b, p, 2);
  return static_cast<float>(float16_t::from_bits(b));
}

std::string clip(const std::string& s) { return s.size() > 60 ? s.substr(0, 60) + "..." : s; }

std::string read_string(Cursor& cur, const char* what) {
  uint64_t n = cur.le<uint64_t>(what);
  if (n > cur.remaining()) cur.fail(msg(what, " of ", n, " bytes with only ", cur.remaining(), " left"));
  return cur.str(static_cast<size_t>(n), what);
}

size_t gtype_size(uint32_t g) {
  switch (g) {
    case G_UINT8: case G_INT8: case G_BOOL: return 1;
    case G_UINT16: case G_INT16: return 2;
    case G_UINT32: case G_INT32: case G_FLOAT32: return 4;
    case G_UINT64: case G_INT64: case G_FLOAT64: return 8;
  }
  return 0;
}

// Skips a value of type g (used for nested arrays, which we return as nothing).
void skip_value(Cursor& cur, uint32_t g, int depth) {
  if (depth > 8) cur.fail("metadata arrays nested too deeply");
  if (g == G_STRING) {
    read_string(cur, "a metadata string");
  } else if (g == G_ARRAY) {
    uint32_t et = cur.le<uint32_t>("a metadata array type");
    uint64_t n = cur.le<uint64_t>("a metadata array length");
    size_t es = et == G_STRING ? 8 : et == G_ARRAY ? 12 : gtype_size(et);
    if (es == 0) cur.fail(msg("an unknown metadata type ", et));
    if (n > cur.remaining() / es) cur.fail(msg("a metadata array of ", n, " elements"));
    if (et == G_STRING || et == G_ARRAY) {
      for (uint64_t i = 0; i < n; ++i) skip_value(cur, et, depth + 1);
    } else {
      cur.seek(cur.tell() + n * es);
    }
  } else {
    size_t es = gtype_size(g);
    if (es == 0) cur.fail(msg("an unknown metadata type ", g));
    cur.need(es, "a metadata value");
    cur.seek(cur.tell() + es);
  }
}

void fix_bools(array& a) {
  auto* p = a.data<uint8_t>();
  for (size_t i = 0; i < a.size(); ++i) p[i] = p[i] != 0;
}

GGUFMetaData read_value(Cursor& cur, uint32_t g) {
  if (g == G_STRING) return read_string(cur, "a metadata string");
  if (g == G_ARRAY) {
    uint32_t et = cur.le<uint32_t>("a metadata array type");
    uint64_t n = cur.le<uint64_t>("a metadata array length");
    if (et == G_STRING) {
      if (n > cur.remaining() / 8) cur.fail(msg("a metadata array of ", n, " strings"));
      std::vector<std::string> out;
      out.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) out.push_back(read_string(cur, "a metadata string"));
      return out;
    }
    if (et == G_ARRAY) {
      if (n > cur.remaining() / 12) cur.fail(msg("a metadata array of ", n, " arrays"));
      for (uint64_t i = 0; i < n; ++i) skip_value(cur, et, 1);
      return std::monostate{};
    }
    Dtype d;
    if (!gtype_dtype(et, d)) cur.fail(msg("an unknown metadata array type ", et));
    if (n > cur.remaining() / size_of(d)) cur.fail(msg("a metadata array of ", n, " elements"));
    array a = io::detail::new_array({static_cast<int32_t>(n)}, d);
    cur.bytes(a.data<char>(), static_cast<size_t>(n) * size_of(d), "a metadata array");
    if (d == bool_) fix_bools(a);
    return a;
  }
  Dtype d;
  if (!gtype_dtype(g, d)) cur.fail(msg("an unknown metadata type ", g));
  array a = io::detail::new_array({}, d);
  cur.bytes(a.data<char>(), size_of(d), "a metadata value");
  if (d == bool_) fix_bools(a);
  return a;
}

// The uint32 words of MLX's packed layout: element k of a row sits in word k / (32 / bits) at
// bit (k % (32 / bits)) * bits.
void unpack_q4(const uint8_t* qs, uint8_t* out /* 16 bytes */) {
  auto q = [&](int k) { return k < 16 ? (qs[k] & 0xF) : (qs[k - 16] >> 4); };
  for (int b = 0; b < 16; ++b) out[b] = static_cast<uint8_t>(q(2 * b) | (q(2 * b + 1) << 4));
}

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the fastest-varying
  uint32_t type;
  uint64_t offset;
};

// Decodes Q4_0 / Q4_1 / Q8_0 blocks into MLX's packed weights, float16 scales and biases.
void decode_triplets(uint32_t type, const uint8_t* src, size_t nblocks, uint8_t* wp, float16_t* sp, float16_t* bp) {
  size_t bb = triplet_block_bytes(type);
  size_t wbytes = (type == T_Q8_0 ? 8 : 4) * 4;  // packed bytes per block of 32
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = src + b * bb;
    uint8_t* o = wp + b * wbytes;
    float d = f16(blk);
    if (type == T_Q4_0) {
      unpack_q4(blk + 2, o);
      sp[b] = float16_t(d);
      bp[b] = float16_t(-8.0f * d);
    } else if (type == T_Q4_1) {
      unpack_q4(blk + 4, o);
      sp[b] = float16_t(d);
      bp[b] = float16_t(f16(blk + 2));
    } else {
      for (int k = 0; k < 32; ++k) o[k] = static_cast<uint8_t>(blk[2 + k] ^ 0x80);
      sp[b] = float16_t(d);
      bp[b] = float16_t(-128.0f * d);
    }
  }
}

// Checks one tensor's description against the file and adds its (lazy) arrays to `out`.
void load_tensor(Cursor& cur, const std::shared_ptr<io::Reader>& in, const TensorInfo& t, size_t data_start,
                 io::NamedArrays& out) {
  const std::string where = " for tensor \"" + clip(t.name) + "\"";
  Shape shape;
  for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it) shape.push_back(static_cast<int32_t>(*it));
  size_t file_size = cur.size();
  size_t avail = data_start <= file_size ? file_size - data_start : 0;
  if (t.offset > avail) cur.fail(msg("a tensor offset ", t.offset, " past the end of the data", where));
  avail -= static_cast<size_t>(t.offset);
  size_t begin = data_start + static_cast<size_t>(t.offset);
  Dtype dtype;
  if (ttype_dtype(t.type, dtype)) {
    size_t nbytes = io::detail::checked_nbytes(t.dims, size_of(dtype), avail, "load_gguf", cur.reader().label());
    out.emplace_back(t.name, io::load_region(in, shape, dtype, begin, nbytes));
    return;
  }
  size_t bb = triplet_block_bytes(t.type);
  const io::detail::GGMLBlockType* ft = io::detail::ggml_float_type(t.type);
  if (bb == 0 && !ft)
    throw ValueError(msg("[load_gguf] ", cur.reader().label(), ": tensor type ", ttype_name(t.type), " (", t.type,
                         ") is not supported; got it", where, ". Supported: F32, F16, BF16, F64, I8, I16, I32, I64, ",
                         "Q4_0, Q4_1, Q8_0 (as quantized triplets) and Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K ",
                         "(as float16)."));
  size_t block = ft ? ft->block : 32;
  if (ft) bb = ft->bytes;
  if (t.dims.empty() || t.dims[0] % block != 0)
    cur.fail(msg("a ", ttype_name(t.type), " tensor whose first dimension is not a multiple of ", block, where));
  size_t nelem = io::detail::checked_nbytes(t.dims, 1, SIZE_MAX / 64, "load_gguf", cur.reader().label());
  size_t nblocks = nelem / block;
  if (nblocks > avail / bb) cur.fail(msg("tensor data needing ", nblocks * bb, " bytes with only ", avail, " left", where));
  size_t nbytes = nblocks * bb;

  if (t.type == T_Q4_0 || t.type == T_Q4_1 || t.type == T_Q8_0) {
    int bits = t.type == T_Q8_0 ? 8 : 4;
    Shape wshape = shape, sshape = shape;
    wshape.back() = static_cast<int32_t>(t.dims[0] * bits / 32);
    sshape.back() = static_cast<int32_t>(t.dims[0] / 32);
    uint32_t type = t.type;
    auto decode = [type, nblocks](const char* raw, size_t, const std::vector<char*>& o) {
      decode_triplets(type, reinterpret_cast<const uint8_t*>(raw), nblocks, reinterpret_cast<uint8_t*>(o[0]),
                      reinterpret_cast<float16_t*>(o[1]), reinterpret_cast<float16_t*>(o[2]));
    };
    auto arrs = io::load_region(in, {wshape, sshape, sshape}, {uint32, float16, float16}, begin, nbytes, 0, decode);
    std::string base = t.name;
    if (io::detail::ends_with(base, ".weight")) base.resize(base.size() - 7);
    out.emplace_back(t.name, arrs[0]);
    out.emplace_back(base + ".scales", arrs[1]);
    out.emplace_back(base + ".biases", arrs[2]);
    return;
  }

  // The other quantized types: dequantized to float16.
  auto decode = [ft, nblocks](const char* raw, size_t, const std::vector<char*>& o) {
    const uint8_t* src = reinterpret_cast<const uint8_t*>(raw);
    float16_t* op = reinterpret_cast<float16_t*>(o[0]);
    std::vector<float> tmp(ft->block);
    for (size_t b = 0; b < nblocks; ++b) {
      ft->dequantize(src + b * ft->bytes, tmp.data());
      for (size_t k = 0; k < ft->block; ++k) op[b * ft->block + k] = float16_t(tmp[k]);
    }
  };
  out.emplace_back(t.name, io::load_region(in, {shape}, {float16}, begin, nbytes, 0, decode)[0]);
}

size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

}  // namespace

namespace io {

std::pair<NamedArrays, GGUFMetaPairs> load_gguf_ordered(std::shared_ptr<Reader> in_ptr) {
  if (!in_ptr) throw std::runtime_error("[load_gguf] the input stream is null; got nullptr.");
  Reader& in = *in_ptr;
  if (!in.is_open()) throw std::runtime_error("[load_gguf] the input stream is not open; got a closed reader.");
  Cursor cur(in, "load_gguf");
  std::string magic = cur.str(4, "the GGUF magic");
  if (magic != "GGUF") cur.fail("no GGUF magic at the start (this is not a GGUF file)");
  uint32_t version = cur.le<uint32_t>("the GGUF version");
  if (version != 2 && version != 3) {
    if ((version & 0xFFFF) == 0 && version != 0) cur.fail("a big-endian GGUF file, which is not supported");
    cur.fail(msg("GGUF version ", version, " (versions 2 and 3 are supported)"));
  }
  uint64_t n_tensors = cur.le<uint64_t>("the tensor count");
  uint64_t n_kv = cur.le<uint64_t>("the metadata count");
  if (n_kv > cur.remaining() / 13) cur.fail(msg("a metadata count of ", n_kv));
  if (n_tensors > cur.remaining() / 24) cur.fail(msg("a tensor count of ", n_tensors));

  GGUFMetaPairs meta;
  std::set<std::string> keys;
  size_t alignment = kDefaultAlignment;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(cur, "a metadata key");
    if (!keys.insert(key).second) cur.fail("a duplicate metadata key \"" + clip(key) + "\"");
    uint32_t g = cur.le<uint32_t>("a metadata type");
    GGUFMetaData v = read_value(cur, g);
    if (key == "general.alignment") {
      auto* a = std::get_if<array>(&v);
      if (!a || a->ndim() != 0 || !is_integral(a->dtype()))
        cur.fail("general.alignment that is not an integer");
      uint64_t al = a->item<uint64_t>();
      if (al == 0 || al > (uint64_t(1) << 24)) cur.fail(msg("general.alignment ", al));
      alignment = static_cast<size_t>(al);
    }
    meta.emplace_back(std::move(key), std::move(v));
  }

  std::vector<TensorInfo> infos;
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = read_string(cur, "a tensor name");
    if (!names.insert(t.name).second) cur.fail("a duplicate tensor name \"" + clip(t.name) + "\"");
    uint32_t nd = cur.le<uint32_t>("a tensor's dimension count");
    if (nd > kMaxDims) cur.fail(msg("a tensor with ", nd, " dimensions"));
    for (uint32_t k = 0; k < nd; ++k) t.dims.push_back(cur.le<uint64_t>("a tensor dimension"));
    t.type = cur.le<uint32_t>("a tensor type");
    t.offset = cur.le<uint64_t>("a tensor offset");
    infos.push_back(std::move(t));
  }
  size_t data_start = align_up(cur.tell(), alignment);

  NamedArrays arrays;
  for (auto& t : infos) load_tensor(cur, in_ptr, t, data_start, arrays);
  std::set<std::string> out_names;
  for (auto& [k, a] : arrays)
    if (!out_names.insert(k).second) cur.fail("two tensors that both load as \"" + clip(k) + "\"");
  return {std::move(arrays), std::move(meta)};
}

void check_gguf(const NamedArrays& arrays, const GGUFMetaPairs& metadata) {
  std::set<std::string> seen;
  for (auto& [k, a] : arrays) {
    uint32_t t;
    if (!dtype_ttype(a.dtype(), t))
      throw ValueError(msg("[save_gguf] dtype ", a.dtype(), " is not supported (use float32, float16, bfloat16, ",
                           "float64, int8, int16, int32 or int64); got it for array \"", clip(k), "\"."));
    if (a.ndim() > kMaxDims)
      throw ValueError(msg("[save_gguf] arrays can have at most ", kMaxDims, " dimensions; got ", a.ndim(), "."));
    if (!seen.insert(k).second) throw ValueError(msg("[save_gguf] array names must be unique; got \"", clip(k), "\" twice."));
  }
  seen.clear();
  for (auto& [k, v] : metadata) {
    if (!seen.insert(k).second)
      throw ValueError(msg("[save_gguf] metadata keys must be unique; got \"", clip(k), "\" twice."));
    if (auto* a = std::get_if<array>(&v)) {
      uint32_t g;
      if (a->ndim() > 1)
        throw ValueError(msg("[save_gguf] metadata arrays must be scalars or 1-d; got shape ", a->shape(),
                             " for key \"", clip(k), "\"."));
      if (!dtype_gtype(a->dtype(), g))
        throw ValueError(msg("[save_gguf] metadata arrays can't have dtype ", a->dtype(), "; got it for key \"",
                             clip(k), "\"."));
      if (k == "general.alignment") {
        if (a->ndim() != 0 || !is_integral(a->dtype()))
          throw ValueError(msg("[save_gguf] general.alignment must be an integer scalar; got shape ", a->shape(),
                               " and dtype ", a->dtype(), "."));
        array c = *a;
        int64_t al = c.item<int64_t>();
        if (al <= 0 || al > (int64_t(1) << 24))
          throw ValueError(msg("[save_gguf] general.alignment must be in [1, 2^24]; got ", al, "."));
      }
    } else if (k == "general.alignment" && !std::holds_alternative<std::monostate>(v)) {
      throw ValueError("[save_gguf] general.alignment must be an integer scalar; got a string.");
    }
  }
}

void save_gguf_ordered(Writer& out, const NamedArrays& arrays, const GGUFMetaPairs& metadata) {
  if (!out.is_open()) throw std::runtime_error("[save_gguf] the output stream is not open; got a closed writer.");
  check_gguf(arrays, metadata);
  size_t alignment = kDefaultAlignment;
  std::string h = "GGUF";
  auto put = [&h](const auto& v) { h.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto put_str = [&](const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    h += s;
  };
  size_t n_kv = 0;
  for (auto& [k, v] : metadata) n_kv += !std::holds_alternative<std::monostate>(v);
  put(uint32_t{3});
  put(static_cast<uint64_t>(arrays.size()));
  put(static_cast<uint64_t>(n_kv));
  for (auto& [k, v] : metadata) {
    if (std::holds_alternative<std::monostate>(v)) continue;
    put_str(k);
    if (auto* s = std::get_if<std::string>(&v)) {
      put(uint32_t{G_STRING});
      put_str(*s);
    } else if (auto* l = std::get_if<std::vector<std::string>>(&v)) {
      put(uint32_t{G_ARRAY});
      put(uint32_t{G_STRING});
      put(static_cast<uint64_t>(l->size()));
      for (auto& s : *l) put_str(s);
    } else {
      array a = std::get<array>(v);
      uint32_t g;
      dtype_gtype(a.dtype(), g);
      if (k == "general.alignment") alignment = static_cast<size_t>(a.item<int64_t>());
      if (a.ndim() == 1) {
        put(uint32_t{G_ARRAY});
        put(g);
        put(static_cast<uint64_t>(a.size()));
      } else {
        put(g);
      }
      MemoryWriter mw;
      io::detail::write_array_data(mw, a);
      h += mw.bytes;
    }
  }
  size_t offset = 0;
  for (auto& [k, a] : arrays) {
    put_str(k);
    put(static_cast<uint32_t>(a.ndim()));
    for (int i = static_cast<int>(a.ndim()) - 1; i >= 0; --i) put(static_cast<uint64_t>(a.shape(i)));
    uint32_t t;
    dtype_ttype(a.dtype(), t);
    put(t);
    put(static_cast<uint64_t>(offset));
    offset = align_up(offset + a.nbytes(), alignment);
  }
  h.append(align_up(h.size(), alignment) - h.size(), '\0');
  out.write(h.data(), h.size());
  std::string pad(alignment, '\0');
  for (auto& [k, a] : arrays) {
    io::detail::write_array_data(out, a);
    out.write(pad.data(), align_up(a.nbytes(), alignment) - a.nbytes());
  }
}

}  // namespace io

namespace {
template <typename V>
std::vector<std::pair<std::string, V>> sorted_pairs(const std::unordered_map<std::string, V>& m) {
  std::vector<std::pair<std::string, V>> v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return v;
}
}  // namespace

GGUFLoad load_gguf(std::shared_ptr<io::Reader> in_stream, StreamOrDevice s) {
  (void)s;
  if (!in_stream) throw std::runtime_error("[load_gguf] the input stream is null; got nullptr.");
  auto [arrays, meta] = io::load_gguf_ordered(in_stream);
  GGUFLoad out;
  for (auto& [k, a] : arrays) out.first.emplace(k, a);
  for (auto& [k, v] : meta) out.second.emplace(k, v);
  return out;
}

GGUFLoad load_gguf(const std::string& file, StreamOrDevice s) {
  return load_gguf(io::detail::open_reader(file, "load_gguf"), s);
}

void save_gguf(std::shared_ptr<io::Writer> out_stream, std::unordered_map<std::string, array> arrays,
               std::unordered_map<std::string, GGUFMetaData> metadata) {
  if (!out_stream) throw std::runtime_error("[save_gguf] the output stream is null; got nullptr.");
  io::save_gguf_ordered(*out_stream, sorted_pairs(arrays), sorted_pairs(metadata));
}

void save_gguf(std::string file, std::unordered_map<std::string, array> arrays,
               std::unordered_map<std::string, GGUFMetaData> metadata) {
  if (!io::detail::ends_with(file, ".gguf")) file += ".gguf";
  auto named = sorted_pairs(arrays);
  auto meta = sorted_pairs(metadata);
  io::check_gguf(named, meta);
  std::vector<array> all;
  for (auto& [k, a] : named) all.push_back(a);
  eval(all);
  auto w = io::detail::open_writer(file, "save_gguf");
  io::save_gguf_ordered(*w, named, meta);
  w->close();
}

}  // namespace mlx::core

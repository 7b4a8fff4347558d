// The .safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}}), then the data.
// https://huggingface.co/docs/safetensors/index
#include <algorithm>
#include <set>

#include "mlx/io/json.h"
#include "mlx/io/load.h"
#include "mlx/io/utils.h"
#include "mlx/transforms.h"

namespace mlx::core {

using io::detail::Cursor;

namespace {

constexpr size_t kMaxHeader = size_t(100) << 20;  // as the reference implementation

const char* st_dtype(Dtype t) {
  switch (t) {
    case bool_: return "BOOL";
    case uint8: return "U8";
    case uint16: return "U16";
    case uint32: return "U32";
    case uint64: return "U64";
    case int8: return "I8";
    case int16: return "I16";
    case int32: return "I32";
    case int64: return "I64";
    case float16: return "F16";
    case float32: return "F32";
    case float64: return "F64";
    case bfloat16: return "BF16";
    case complex64: return "C64";
  }
  return "U8";
}

bool st_parse_dtype(const std::string& s, Dtype& t) {
  static const std::pair<const char*, Dtype> table[] = {
      {"BOOL", bool_}, {"U8", uint8}, {"U16", uint16}, {"U32", uint32}, {"U64", uint64},
      {"I8", int8}, {"I16", int16}, {"I32", int32}, {"I64", int64}, {"F16", float16},
      {"F32", float32}, {"F64", float64}, {"BF16", bfloat16}, {"C64", complex64}};
  for (auto& [name, d] : table)
    if (s == name) {
      t = d;
      return true;
    }
  return false;
}

std::string clip(const std::string& s) { return s.size() > 60 ? s.substr(0, 60) + "..." : s; }

}  // namespace

namespace io {

void check_safetensors(const NamedArrays& arrays) {
  std::set<std::string> seen;
  for (auto& [k, a] : arrays) {
    if (k == "__metadata__")
      throw ValueError("[save_safetensors] the name __metadata__ is reserved for the metadata; got an array named __metadata__.");
    if (!seen.insert(k).second)
      throw ValueError(msg("[save_safetensors] array names must be unique; got \"", clip(k), "\" twice."));
    (void)a;
  }
}

std::pair<NamedArrays, StringPairs> load_safetensors_ordered(std::shared_ptr<Reader> in_ptr) {
  if (!in_ptr) throw std::runtime_error("[load_safetensors] the input stream is null; got nullptr.");
  Reader& in = *in_ptr;
  if (!in.is_open())
    throw std::runtime_error("[load_safetensors] the input stream is not open; got a closed reader.");
  Cursor cur(in, "load_safetensors");
  uint64_t n = cur.le<uint64_t>("the safetensors header length");
  if (n > kMaxHeader) cur.fail(msg("a header length of ", n, " bytes (the limit is ", kMaxHeader, ")"));
  std::string text = cur.str(static_cast<size_t>(n), "the safetensors JSON header");
  size_t data_start = cur.tell();
  size_t data_len = cur.size() - data_start;
  json::Value root = json::parse(text, [&](const std::string& what) { cur.fail(what); });
  if (root.type != json::Value::Type::Object) cur.fail("a JSON header that is not an object");

  NamedArrays arrays;
  StringPairs metadata;
  for (auto& [key, v] : root.obj) {
    if (key == "__metadata__") {
      if (v.type == json::Value::Type::Null) continue;
      if (v.type != json::Value::Type::Object) cur.fail("__metadata__ that is not an object");
      for (auto& [mk, mv] : v.obj) {
        if (mv.type != json::Value::Type::String)
          cur.fail("a __metadata__ value that is not a string (key \"" + clip(mk) + "\")");
        metadata.emplace_back(mk, mv.s);
      }
      continue;
    }
    std::string where = " for tensor \"" + clip(key) + "\"";
    if (v.type != json::Value::Type::Object) cur.fail("an entry that is not an object" + where);
    const json::Value *dt = nullptr, *sh = nullptr, *off = nullptr;
    for (auto& [fk, fv] : v.obj) {
      if (fk == "dtype") dt = &fv;
      else if (fk == "shape") sh = &fv;
      else if (fk == "data_offsets") off = &fv;
    }
    if (!dt || !sh || !off) cur.fail("an entry without dtype, shape or data_offsets" + where);
    Dtype dtype;
    if (dt->type != json::Value::Type::String) cur.fail("a dtype that is not a string" + where);
    if (!st_parse_dtype(dt->s, dtype)) cur.fail("an unsupported dtype \"" + clip(dt->s) + "\"" + where);
    if (sh->type != json::Value::Type::Array || sh->arr.size() > 64) cur.fail("a bad shape" + where);
    std::vector<uint64_t> dims;
    for (auto& d : sh->arr) {
      if (d.type != json::Value::Type::Number || !d.is_uint) cur.fail("a bad shape" + where);
      dims.push_back(d.u);
    }
    if (off->type != json::Value::Type::Array || off->arr.size() != 2 || !off->arr[0].is_uint ||
        !off->arr[1].is_uint)
      cur.fail("bad data_offsets" + where);
    uint64_t begin = off->arr[0].u, end = off->arr[1].u;
    if (begin > end || end > data_len)
      cur.fail(msg("data_offsets [", begin, ", ", end, "] outside the ", data_len, " data bytes", where));
    size_t nbytes = io::detail::checked_nbytes(dims, size_of(dtype), data_len, "load_safetensors", in.label());
    if (end - begin != nbytes)
      cur.fail(msg("data_offsets [", begin, ", ", end, "] that do not span the ", nbytes, " bytes of the shape and dtype", where));
    Shape shape;
    for (auto d : dims) shape.push_back(static_cast<int32_t>(d));
    // [begin, end) lies inside the data (checked above); it is read when evaluated.
    arrays.emplace_back(key, io::load_region(in_ptr, shape, dtype, data_start + begin, nbytes));
  }
  return {std::move(arrays), std::move(metadata)};
}

void save_safetensors_ordered(Writer& out, const NamedArrays& arrays, const StringPairs& metadata) {
  if (!out.is_open())
    throw std::runtime_error("[save_safetensors] the output stream is not open; got a closed writer.");
  check_safetensors(arrays);
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (auto& [k, v] : metadata) {
      if (!first) h += ",";
      first = false;
      h += json::quote(k) + ":" + json::quote(v);
    }
    h += "}";
  }
  size_t offset = 0;
  for (auto& [k, a] : arrays) {
    if (h.size() > 1) h += ",";
    h += json::quote(k) + ":{\"dtype\":\"" + st_dtype(a.dtype()) + "\",\"shape\":[";
    for (size_t i = 0; i < a.ndim(); ++i) h += (i ? "," : "") + std::to_string(a.shape(i));
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + a.nbytes()) + "]}";
    offset += a.nbytes();
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  uint64_t n = h.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(h.data(), h.size());
  for (auto& [k, a] : arrays) io::detail::write_array_data(out, a);
}

}  // namespace io

namespace {
io::NamedArrays to_named(std::unordered_map<std::string, array>& m) {
  io::NamedArrays v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return v;
}
}  // namespace

SafetensorsLoad load_safetensors(std::shared_ptr<io::Reader> in_stream, StreamOrDevice s) {
  (void)s;
  if (!in_stream) throw std::runtime_error("[load_safetensors] the input stream is null; got nullptr.");
  auto [arrays, meta] = io::load_safetensors_ordered(in_stream);
  SafetensorsLoad out;
  for (auto& [k, a] : arrays) out.first.emplace(k, a);
  for (auto& [k, v] : meta) out.second.emplace(k, v);
  return out;
}

SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s) {
  return load_safetensors(io::detail::open_reader(file, "load_safetensors"), s);
}

void save_safetensors(std::shared_ptr<io::Writer> out_stream, std::unordered_map<std::string, array> arrays,
                      std::unordered_map<std::string, std::string> metadata) {
  if (!out_stream) throw std::runtime_error("[save_safetensors] the output stream is null; got nullptr.");
  io::StringPairs meta(metadata.begin(), metadata.end());
  std::sort(meta.begin(), meta.end());
  io::save_safetensors_ordered(*out_stream, to_named(arrays), meta);
}

void save_safetensors(std::string file, std::unordered_map<std::string, array> arrays,
                      std::unordered_map<std::string, std::string> metadata) {
  if (!io::detail::ends_with(file, ".safetensors")) file += ".safetensors";
  auto named = to_named(arrays);
  io::check_safetensors(named);
  std::vector<array> all;
  for (auto& [k, a] : named) all.push_back(a);
  eval(all);
  io::StringPairs meta(metadata.begin(), metadata.end());
  std::sort(meta.begin(), meta.end());
  auto w = io::detail::open_writer(file, "save_safetensors");
  io::save_safetensors_ordered(*w, named, meta);
  w->close();
}

}  // namespace mlx::core

// Bindings for the io family: mx.save, mx.load, mx.save_safetensors, mx.save_gguf.
// mx.savez / mx.savez_compressed and .npz loading are Python (python/mlx/_io.py) on top of these.
#include <cstring>

#include "convert.h"
#include <nanobind/stl/tuple.h>

#include "mlx/io/io.h"

using namespace nb::literals;

namespace {

// ---- Python file objects as Reader / Writer ----

class PyReader : public io::Reader {
 public:
  // `f` must be seekable (see make_reader).
  explicit PyReader(nb::object f) : f_(std::move(f)) {
    size_t start = nb::cast<size_t>(f_.attr("tell")());
    f_.attr("seek")(0, 2);
    size_ = nb::cast<size_t>(f_.attr("tell")());
    f_.attr("seek")(start);
    pos_ = start;
    has_readinto_ = nb::hasattr(f_, "readinto");
    nb::object name = nb::getattr(f_, "name", nb::none());
    label_ = nb::isinstance<nb::str>(name) ? nb::cast<std::string>(name) : std::string("<file object>");
  }
  bool is_open() const override { return true; }
  size_t size() override { return size_; }
  size_t tell() override { return pos_; }
  void seek(size_t pos) override {
    f_.attr("seek")(pos);
    pos_ = pos;
  }
  void read(char* data, size_t n) override {
    size_t got = 0;
    while (got < n) {
      size_t want = std::min<size_t>(n - got, size_t(1) << 30);
      size_t k = 0;
      if (has_readinto_) {
        nb::object mv = nb::steal(PyMemoryView_FromMemory(data + got, static_cast<Py_ssize_t>(want), PyBUF_WRITE));
        if (!mv.is_valid()) throw nb::python_error();
        nb::object r = f_.attr("readinto")(mv);
        k = r.is_none() ? 0 : nb::cast<size_t>(r);
      } else {
        nb::object b = f_.attr("read")(want);
        if (!nb::isinstance<nb::bytes>(b))
          throw ValueError("[load] the file object must be opened in binary mode; got read() returning a non-bytes value.");
        k = nb::len(b);
        if (k > want) k = want;
        std::memcpy(data + got, PyBytes_AsString(b.ptr()), k);
      }
      if (k == 0) break;
      got += k;
      pos_ += k;
    }
    if (got != n)
      throw std::runtime_error(msg("[read] could not read ", n, " bytes from ", label_, "; got ", got, "."));
  }
  std::string label() const override { return label_; }

 private:
  nb::object f_;
  size_t size_ = 0, pos_ = 0;
  bool has_readinto_ = false;
  std::string label_;
};

class PyWriter : public io::Writer {
 public:
  explicit PyWriter(nb::object f) : f_(std::move(f)) {
    nb::object name = nb::getattr(f_, "name", nb::none());
    label_ = nb::isinstance<nb::str>(name) ? nb::cast<std::string>(name) : std::string("<file object>");
  }
  bool is_open() const override { return true; }
  void write(const char* data, size_t n) override {
    size_t done = 0;
    while (done < n) {
      size_t len = std::min<size_t>(n - done, size_t(1) << 30);
      nb::object mv = nb::steal(PyMemoryView_FromMemory(const_cast<char*>(data + done),
                                                        static_cast<Py_ssize_t>(len), PyBUF_READ));
      if (!mv.is_valid()) throw nb::python_error();
      nb::object r = f_.attr("write")(mv);
      size_t k = r.is_none() ? len : nb::cast<size_t>(r);
      if (k == 0) throw std::runtime_error(msg("[write] could not write to ", label_, "; got 0 bytes written."));
      done += std::min(k, len);
    }
  }
  std::string label() const override { return label_; }

 private:
  nb::object f_;
  std::string label_;
};

bool is_text_file(nb::handle f) {
  nb::object io = nb::module_::import_("io");
  return nb::isinstance(f, io.attr("TextIOBase"));
}

// A path (str or os.PathLike) as a string, or nullopt for a file object.
std::optional<std::string> as_path(nb::handle file, const char* op, const char* need) {
  if (nb::isinstance<nb::str>(file)) return nb::cast<std::string>(file);
  if (nb::hasattr(file, "__fspath__")) {
    nb::object os = nb::module_::import_("os");
    return nb::cast<std::string>(os.attr("fsdecode")(os.attr("fspath")(file)));
  }
  if (nb::hasattr(file, need)) {
    if (is_text_file(file))
      throw ValueError(msg("[", op, "] the file object must be opened in binary mode; got a text-mode file."));
    return std::nullopt;
  }
  throw TypeError(msg("[", op, "] the file must be a str, a pathlib.Path or a binary file object; got ",
                      nb::cast<std::string>(nb::str(file.type().attr("__name__"))), "."));
}

std::shared_ptr<io::Reader> make_reader(nb::handle file, const std::optional<std::string>& path, const char* op) {
  if (path) {
    auto r = std::make_shared<io::FileReader>(*path);
    if (!r->is_open()) throw std::runtime_error(msg("[", op, "] Failed to open file ", *path, "."));
    return r;
  }
  nb::object f = nb::borrow(file);
  bool seekable = nb::hasattr(f, "seek") && nb::hasattr(f, "tell");
  if (seekable && nb::hasattr(f, "seekable")) seekable = nb::cast<bool>(f.attr("seekable")());
  if (seekable) return std::make_shared<PyReader>(f);
  // A stream without random access: read it all.
  nb::object b = f.attr("read")();
  if (!nb::isinstance<nb::bytes>(b))
    throw ValueError(msg("[", op, "] the file object must be opened in binary mode; got read() returning a non-bytes value."));
  return std::make_shared<io::MemoryReader>(std::string(PyBytes_AsString(b.ptr()), nb::len(b)), "<file object>");
}

array as_array(nb::handle v) {
  if (nb::isinstance<array>(v)) return nb::cast<array>(v);
  return to_array(v);
}

io::NamedArrays dict_arrays(nb::handle d, const char* op) {
  if (!nb::isinstance<nb::dict>(d))
    throw TypeError(msg("[", op, "] arrays must be a dict of str to array; got ",
                        nb::cast<std::string>(nb::str(d.type().attr("__name__"))), "."));
  io::NamedArrays out;
  for (auto [k, v] : nb::cast<nb::dict>(d)) {
    if (!nb::isinstance<nb::str>(k))
      throw ValueError(msg("[", op, "] array names must be strings; got ", nb::cast<std::string>(nb::repr(k)), "."));
    out.emplace_back(nb::cast<std::string>(k), as_array(v));
  }
  return out;
}

template <typename F>
void write_to(nb::handle file, const std::optional<std::string>& path, const char* op, F&& body) {
  if (path) {
    auto w = std::make_shared<io::FileWriter>(*path);
    if (!w->is_open()) throw std::runtime_error(msg("[", op, "] Failed to open file ", *path, " for writing."));
    body(*w);
    w->close();
  } else {
    PyWriter w(nb::borrow(file));
    body(w);
  }
}

std::string with_ext(std::string path, const std::string& ext) {
  if (path.size() < ext.size() || path.compare(path.size() - ext.size(), ext.size(), ext) != 0) path += ext;
  return path;
}

void eval_all(const io::NamedArrays& arrays) {
  std::vector<array> all;
  for (auto& [k, a] : arrays) all.push_back(a);
  eval(all);
}

nb::object meta_to_python(const GGUFMetaData& v) {
  if (auto* a = std::get_if<array>(&v)) return nb::cast(*a);
  if (auto* s = std::get_if<std::string>(&v)) return nb::str(s->data(), s->size());
  if (auto* l = std::get_if<std::vector<std::string>>(&v)) {
    nb::list out;
    for (auto& s : *l) out.append(nb::str(s.data(), s.size()));
    return out;
  }
  return nb::none();
}

GGUFMetaData meta_from_python(const std::string& key, nb::handle v) {
  if (nb::isinstance<nb::str>(v)) return nb::cast<std::string>(v);
  if (nb::isinstance<array>(v)) return nb::cast<array>(v);
  if (nb::isinstance<nb::list>(v) || nb::isinstance<nb::tuple>(v)) {
    bool all_str = true;
    for (auto x : v) all_str = all_str && nb::isinstance<nb::str>(x);
    if (all_str) {
      std::vector<std::string> out;
      for (auto x : v) out.push_back(nb::cast<std::string>(x));
      return out;
    }
    bool any_str = false;
    for (auto x : v) any_str = any_str || nb::isinstance<nb::str>(x);
    if (any_str)
      throw ValueError(msg("[save_gguf] a metadata list must hold only strings or only numbers; got a mixed list for key \"",
                           key, "\"."));
    return to_array(v);
  }
  if (v.is_none()) return std::monostate{};
  if (nb::isinstance<nb::bool_>(v) || nb::isinstance<nb::int_>(v) || nb::isinstance<nb::float_>(v)) return to_array(v);
  throw ValueError(msg("[save_gguf] metadata values must be an array, a str or a list of str; got ",
                       nb::cast<std::string>(nb::str(v.type().attr("__name__"))), " for key \"", key, "\"."));
}

nb::dict named_to_dict(io::NamedArrays& arrays) {
  nb::dict d;
  for (auto& [k, a] : arrays) d[nb::str(k.data(), k.size())] = nb::cast(a);
  return d;
}

std::string file_ext(const std::string& name) {
  size_t slash = name.find_last_of("/\\");
  std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  if (dot == std::string::npos) return "";
  return base.substr(dot + 1);
}

}  // namespace

void init_io(nb::module_& m) {
  // Used by mlx._io._load_npz: the uncompressed .npy members of a zip archive on disk, as lazy
  // arrays read from one open file. Each member is (name, data offset, data length).
  m.def(
      "_load_npy_members",
      [](const std::string& path, const std::vector<std::tuple<std::string, size_t, size_t>>& members) {
        std::shared_ptr<io::Reader> file = make_reader(nb::none(), path, "load");
        nb::list out;
        for (auto& [name, begin, length] : members) {
          try {
            auto r = std::make_shared<io::SubReader>(file, begin, length, path);
            out.append(nb::cast(load(r)));
          } catch (const ValueError& e) {
            throw ValueError(msg("[load] member ", name, " of ", path, ": ", e.what()));
          }
        }
        return out;
      },
      "path"_a, "members"_a);

  m.def(
      "save",
      [](nb::handle file, const array& arr) {
        auto path = as_path(file, "save", "write");
        array a = arr;
        a.eval();
        if (path) path = with_ext(*path, ".npy");
        write_to(file, path, "save", [&](io::Writer& w) {
          // The Writer overload takes a shared_ptr; wrap the reference without ownership.
          save(std::shared_ptr<io::Writer>(&w, [](io::Writer*) {}), a);
        });
      },
      "file"_a, "arr"_a, nb::sig("def save(file: Union[file, str, pathlib.Path], arr: array) -> None"),
      R"(Save the array to a binary file in ``.npy`` format.

Args:
    file (str, pathlib.Path, file): File to which the array is saved. ``.npy`` is appended to
      a path that has another ending.
    arr (array): Array to be saved.)");

  m.def(
      "load",
      [](nb::handle file, std::optional<std::string> format, bool return_metadata, StreamArg s) -> nb::object {
        (void)s;
        auto path = as_path(file, "load", "read");
        if (!format) {
          std::string name;
          if (path) {
            name = *path;
          } else {
            nb::object n = nb::getattr(file, "name", nb::none());
            if (!nb::isinstance<nb::str>(n))
              throw ValueError("[load] could not infer the file format of a file object without a name; "
                               "got no name attribute (pass format=\"npy\", \"npz\", \"safetensors\" or \"gguf\").");
            name = nb::cast<std::string>(n);
          }
          std::string ext = file_ext(name);
          if (ext.empty())
            throw ValueError(msg("[load] Could not infer file format from extension; got \"", name, "\"."));
          format = ext;
        }
        const std::string& fmt = *format;
        if (fmt != "npy" && fmt != "npz" && fmt != "safetensors" && fmt != "gguf")
          throw ValueError(msg("[load] Unknown file format ", fmt, "; got format \"", fmt,
                               "\" (supported: npy, npz, safetensors, gguf)."));
        if (return_metadata && (fmt == "npy" || fmt == "npz"))
          throw ValueError(msg("[load] metadata not supported for format ", fmt, "; got return_metadata=True."));
        if (fmt == "npz") {
          nb::object f = path ? nb::object(nb::str(path->data(), path->size())) : nb::borrow(file);
          return nb::module_::import_("mlx._io").attr("_load_npz")(f);
        }
        auto reader = make_reader(file, path, "load");
        if (fmt == "npy") return nb::cast(load(reader));
        if (fmt == "safetensors") {
          auto [arrays, meta] = io::load_safetensors_ordered(reader);
          nb::dict d = named_to_dict(arrays);
          if (!return_metadata) return d;
          nb::dict md;
          for (auto& [k, v] : meta) md[nb::str(k.data(), k.size())] = nb::str(v.data(), v.size());
          return nb::make_tuple(d, md);
        }
        auto [arrays, meta] = io::load_gguf_ordered(reader);
        nb::dict d = named_to_dict(arrays);
        if (!return_metadata) return d;
        nb::dict md;
        for (auto& [k, v] : meta) md[nb::str(k.data(), k.size())] = meta_to_python(v);
        return nb::make_tuple(d, md);
      },
      "file"_a, "format"_a = nb::none(), "return_metadata"_a = false, nb::kw_only(),
      "stream"_a = nb::none(),
      nb::sig("def load(file: Union[file, str, pathlib.Path], /, format: Optional[str] = None, "
              "return_metadata: bool = False, *, stream: Union[None, Stream, Device] = None) -> "
              "Union[array, dict[str, array], tuple[dict[str, array], dict[str, Any]]]"),
      R"(Load array(s) from a binary file.

The supported formats are ``.npy``, ``.npz``, ``.safetensors`` and ``.gguf``.

Args:
    file (file, str, pathlib.Path): File from which the arrays are loaded.
    format (str, optional): Format of the file. If ``None``, the format is inferred from the
      file extension. Supported formats: ``npy``, ``npz``, ``safetensors`` and ``gguf``.
    return_metadata (bool, optional): Load the metadata for formats which support it
      (``safetensors``, ``gguf``). The metadata is returned as an additional dictionary.

Returns:
    array, dict, or tuple: A single array for ``.npy``, a dict of names to arrays for the other
    formats, and ``(arrays, metadata)`` with ``return_metadata=True``.

Loading from a path is lazy: the header is read and checked at the call, and each array reads
its own bytes from the file when it is evaluated (the file stays open until then; a file
changed in place in the meantime raises at evaluation). Arrays from file objects, and
compressed ``.npz`` members, are read at the call.

GGUF tensors of type Q4_0, Q4_1 and Q8_0 load as quantized triplets (``name``, and
``base.scales``, ``base.biases`` where ``base`` is ``name`` without ``.weight``) that
:func:`dequantize` with ``group_size=32`` reads; Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K
load as ``float16``.)");

  m.def(
      "save_safetensors",
      [](nb::handle file, nb::handle arrays, nb::handle metadata) {
        auto path = as_path(file, "save_safetensors", "write");
        auto named = dict_arrays(arrays, "save_safetensors");
        io::StringPairs meta;
        if (!metadata.is_none()) {
          if (!nb::isinstance<nb::dict>(metadata))
            throw ValueError("[save_safetensors] Metadata must be a dictionary with string keys and values; got a non-dict.");
          for (auto [k, v] : nb::cast<nb::dict>(metadata)) {
            if (!nb::isinstance<nb::str>(k) || !nb::isinstance<nb::str>(v))
              throw ValueError(msg("[save_safetensors] Metadata must be a dictionary with string keys and values; got ",
                                   nb::cast<std::string>(nb::repr(k)), ": ", nb::cast<std::string>(nb::repr(v)), "."));
            meta.emplace_back(nb::cast<std::string>(k), nb::cast<std::string>(v));
          }
        }
        io::check_safetensors(named);
        eval_all(named);
        if (path) path = with_ext(*path, ".safetensors");
        write_to(file, path, "save_safetensors", [&](io::Writer& w) { io::save_safetensors_ordered(w, named, meta); });
      },
      "file"_a, "arrays"_a, "metadata"_a = nb::none(),
      nb::sig("def save_safetensors(file: Union[file, str, pathlib.Path], arrays: dict[str, array], "
              "metadata: Optional[dict[str, str]] = None) -> None"),
      R"(Save array(s) to a binary file in ``.safetensors`` format.

See the `Safetensors documentation <https://huggingface.co/docs/safetensors/index>`_.

Args:
    file (file, str, pathlib.Path): File in which the arrays are saved. ``.safetensors`` is
      appended to a path that has another ending.
    arrays (dict(str, array)): The dictionary of names to arrays to be saved.
    metadata (dict(str, str), optional): The dictionary of metadata to be saved.)");

  m.def(
      "save_gguf",
      [](nb::handle file, nb::handle arrays, nb::handle metadata) {
        auto path = as_path(file, "save_gguf", "write");
        auto named = dict_arrays(arrays, "save_gguf");
        io::GGUFMetaPairs meta;
        if (!metadata.is_none()) {
          if (!nb::isinstance<nb::dict>(metadata))
            throw ValueError("[save_gguf] metadata must be a dict of str to array, str or list of str; got a non-dict.");
          for (auto [k, v] : nb::cast<nb::dict>(metadata)) {
            if (!nb::isinstance<nb::str>(k))
              throw ValueError(msg("[save_gguf] metadata keys must be strings; got ", nb::cast<std::string>(nb::repr(k)), "."));
            std::string key = nb::cast<std::string>(k);
            meta.emplace_back(key, meta_from_python(key, v));
          }
        }
        io::check_gguf(named, meta);
        eval_all(named);
        if (path) path = with_ext(*path, ".gguf");
        write_to(file, path, "save_gguf", [&](io::Writer& w) { io::save_gguf_ordered(w, named, meta); });
      },
      "file"_a, "arrays"_a, "metadata"_a = nb::none(),
      nb::sig("def save_gguf(file: Union[file, str, pathlib.Path], arrays: dict[str, array], "
              "metadata: Optional[dict[str, Union[array, str, list[str]]]] = None) -> None"),
      R"(Save array(s) to a binary file in ``.gguf`` format.

See the `GGUF documentation <https://github.com/ggerganov/ggml/blob/master/docs/gguf.md>`_.
Arrays may be float32, float16, bfloat16, float64, int8, int16, int32 or int64.

Args:
    file (file, str, pathlib.Path): File in which the arrays are saved. ``.gguf`` is appended
      to a path that has another ending.
    arrays (dict(str, array)): The dictionary of names to arrays to be saved.
    metadata (dict(str, Union[array, str, list(str)]), optional): The dictionary of metadata
      to be saved. The values can be a scalar or 1D :obj:`array`, a :obj:`str`, or a
      :obj:`list` of :obj:`str`.)");
}

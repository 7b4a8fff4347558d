// A small strict JSON reader and string writer for the safetensors header (internal).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mlx::core::io::json {

struct Value {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool b = false;
  std::string s;             // string contents, or the number's text
  bool is_uint = false;      // number is a non-negative integer that fits in uint64
  uint64_t u = 0;
  std::vector<Value> arr;
  std::vector<std::pair<std::string, Value>> obj;  // in file order; duplicate keys rejected
};

// Parses `text`; on error calls `fail(what)`, which must throw.
Value parse(const std::string& text, const std::function<void(const std::string&)>& fail);
// A JSON string literal for `s` (quoted and escaped).
std::string quote(const std::string& s);

}  // namespace mlx::core::io::json

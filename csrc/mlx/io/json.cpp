// A small strict JSON reader (RFC 8259) with a nesting limit, and a string escaper.
#include "mlx/io/json.h"

#include <set>
#include <stdexcept>

namespace mlx::core::io::json {

namespace {

constexpr int kMaxDepth = 64;

struct Parser {
  const std::string& t;
  const std::function<void(const std::string&)>& fail_fn;
  size_t i = 0;

  [[noreturn]] void fail(const std::string& what) {
    fail_fn(what + " at byte " + std::to_string(i) + " of the JSON header");
    throw std::logic_error("json fail callback returned");
  }
  void ws() {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  }
  bool lit(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (t.compare(i, n, w) == 0) {
      i += n;
      return true;
    }
    return false;
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  uint32_t hex4() {
    if (i + 4 > t.size()) fail("a truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = t[i++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail("a bad \\u escape");
    }
    return v;
  }
  std::string str() {
    if (i >= t.size() || t[i] != '"') fail("expected a string");
    ++i;
    std::string out;
    while (true) {
      if (i >= t.size()) fail("an unterminated string");
      unsigned char c = static_cast<unsigned char>(t[i++]);
      if (c == '"') break;
      if (c < 0x20) fail("a control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (i >= t.size()) fail("an unterminated escape");
      char e = t[i++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!(i + 1 < t.size() && t[i] == '\\' && t[i + 1] == 'u')) fail("a lone surrogate");
            i += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("a bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("a lone surrogate");
          }
          utf8(out, cp);
          break;
        }
        default: fail("a bad escape");
      }
    }
    return out;
  }
  Value number() {
    Value v;
    v.type = Value::Type::Number;
    size_t start = i;
    if (i < t.size() && t[i] == '-') ++i;
    auto digits = [&]() {
      size_t s = i;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
      return i - s;
    };
    size_t int_start = i;
    size_t nd = digits();
    if (nd == 0) fail("a bad number");
    if (nd > 1 && t[int_start] == '0') fail("a number with a leading zero");
    bool integer = true;
    if (i < t.size() && t[i] == '.') {
      ++i;
      if (digits() == 0) fail("a bad number");
      integer = false;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
      ++i;
      if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
      if (digits() == 0) fail("a bad number");
      integer = false;
    }
    v.s = t.substr(start, i - start);
    if (integer && t[start] != '-' && nd <= 20) {
      unsigned __int128 x = 0;
      for (size_t k = int_start; k < int_start + nd; ++k) x = x * 10 + (t[k] - '0');
      if (x <= UINT64_MAX) {
        v.is_uint = true;
        v.u = static_cast<uint64_t>(x);
      }
    }
    return v;
  }
  Value value(int depth) {
    if (depth > kMaxDepth) fail("JSON nested too deeply");
    ws();
    if (i >= t.size()) fail("an unexpected end");
    Value v;
    char c = t[i];
    if (c == '{') {
      v.type = Value::Type::Object;
      ++i;
      ws();
      std::set<std::string> seen;
      if (i < t.size() && t[i] == '}') {
        ++i;
        return v;
      }
      while (true) {
        ws();
        std::string k = str();
        if (!seen.insert(k).second) fail("a duplicate key \"" + k.substr(0, 60) + "\"");
        ws();
        if (i >= t.size() || t[i] != ':') fail("expected ':'");
        ++i;
        v.obj.emplace_back(std::move(k), value(depth + 1));
        ws();
        if (i < t.size() && t[i] == ',') {
          ++i;
          continue;
        }
        if (i < t.size() && t[i] == '}') {
          ++i;
          break;
        }
        fail("expected ',' or '}'");
      }
    } else if (c == '[') {
      v.type = Value::Type::Array;
      ++i;
      ws();
      if (i < t.size() && t[i] == ']') {
        ++i;
        return v;
      }
      while (true) {
        v.arr.push_back(value(depth + 1));
        ws();
        if (i < t.size() && t[i] == ',') {
          ++i;
          continue;
        }
        if (i < t.size() && t[i] == ']') {
          ++i;
          break;
        }
        fail("expected ',' or ']'");
      }
    } else if (c == '"') {
      v.type = Value::Type::String;
      v.s = str();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v = number();
    } else if (lit("true")) {
      v.type = Value::Type::Bool;
      v.b = true;
    } else if (lit("false")) {
      v.type = Value::Type::Bool;
    } else if (lit("null")) {
      v.type = Value::Type::Null;
    } else {
      fail("an unexpected character");
    }
    return v;
  }
};

}  // namespace

Value parse(const std::string& text, const std::function<void(const std::string&)>& fail) {
  Parser p{text, fail};
  Value v = p.value(0);
  p.ws();
  if (p.i != text.size()) p.fail("trailing characters");
  return v;
}

std::string quote(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace mlx::core::io::json

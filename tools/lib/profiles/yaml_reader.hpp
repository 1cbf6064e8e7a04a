// Strict reading of YAML/JSON documents through yaml-cpp: every map rejects
// unknown and duplicate keys, every value is type- and range-checked, and
// every error names the origin, line, column and field path:
//   "dev.yaml: line 4, column 3: boot.fastboot_boot.android_bootimg.page_size: ..."
// Rendering for `show` goes through nlohmann::ordered_json so that YAML and
// JSON output share one tree.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace fastboop::profiles::yaml {

using Json = nlohmann::ordered_json;

// Parse a document (yaml-cpp exceptions are caught here). `max_bytes` bounds
// hostile input.
Result<YAML::Node> load(std::string_view text, std::string_view origin);

Error error_at(std::string_view origin, const YAML::Mark& mark, std::string_view path,
               std::string_view message);

// Parses an unsigned integer scalar: decimal, 0x, 0o, 0b, optional leading '+'.
std::optional<std::uint64_t> parse_uint_literal(std::string_view text);

class MapReader;

// A value inside a document, with the origin and path needed for errors.
class Value {
public:
  Value(std::string origin, YAML::Node node, std::string path)
      : m_origin(std::move(origin)), m_node(std::move(node)), m_path(std::move(path)) {}

  const YAML::Node& node() const { return m_node; }
  const std::string& path() const { return m_path; }
  const std::string& origin() const { return m_origin; }
  Error error(std::string_view message) const;

  bool is_null() const { return m_node.IsNull(); }
  bool is_map() const { return m_node.IsMap(); }
  bool is_sequence() const { return m_node.IsSequence(); }
  bool is_scalar() const { return m_node.IsScalar(); }

  Result<std::string> string() const; // any non-null scalar
  Result<std::uint64_t> uint(std::uint64_t max) const;
  template <typename T> Result<T> uint() const {
    auto v = uint(std::numeric_limits<T>::max());
    if (!v)
      return std::move(v).error();
    return static_cast<T>(*v);
  }
  Result<bool> boolean() const;
  Result<std::vector<Value>> sequence() const;
  Result<MapReader> map() const;

private:
  std::string m_origin;
  YAML::Node m_node;
  std::string m_path;
};

// Reads a map, tracking which keys were consumed so finish() can reject the
// rest. Duplicate keys are rejected when the reader is made.
class MapReader {
public:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };

  static Result<MapReader> make(const Value& map_value);
  // A reader over a subset of another map's entries (pipeline flattened form).
  MapReader(std::string origin, std::string path, YAML::Mark mark, std::vector<Entry> entries)
      : m_origin(std::move(origin)), m_path(std::move(path)), m_mark(mark),
        m_entries(std::move(entries)), m_used(m_entries.size(), false) {}

  bool has(std::string_view key) const;
  // The value, marking the key used; nullopt when absent.
  std::optional<Value> take(std::string_view key);
  Result<Value> require(std::string_view key);

  Result<std::string> req_string(std::string_view key);
  Result<std::optional<std::string>> opt_string(std::string_view key); // absent or null -> none
  template <typename T> Result<T> req_uint(std::string_view key) {
    auto v = require(key);
    if (!v)
      return std::move(v).error();
    return v->template uint<T>();
  }
  template <typename T> Result<std::optional<T>> opt_uint(std::string_view key) {
    auto v = take(key);
    if (!v || v->is_null())
      return std::optional<T>{};
    auto n = v->template uint<T>();
    if (!n)
      return std::move(n).error();
    return std::optional<T>{*n};
  }
  Result<bool> opt_bool(std::string_view key, bool fallback);

  // Every entry not yet taken, in document order (and marks them taken).
  std::vector<Entry> take_rest();
  // Error for the first key not consumed, listing the keys allowed here.
  Result<void> finish(std::initializer_list<std::string_view> allowed = {});

  std::size_t size() const { return m_entries.size(); }
  const std::vector<Entry>& entries() const { return m_entries; }
  const std::string& path() const { return m_path; }
  const std::string& origin() const { return m_origin; }
  const YAML::Mark& mark() const { return m_mark; }
  std::string child_path(std::string_view key) const;
  Error error(std::string_view message) const;

private:
  std::string m_origin;
  std::string m_path;
  YAML::Mark m_mark;
  std::vector<Entry> m_entries;
  std::vector<bool> m_used;
};

// Render a JSON tree as block YAML. Strings that a YAML reader would take for
// null or a boolean are quoted; multi-line strings use literal block style.
std::string render_yaml(const Json& tree);

} // namespace fastboop::profiles::yaml

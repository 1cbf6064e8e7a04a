#include "profiles/yaml_reader.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace fastboop::profiles::yaml {

namespace {

constexpr std::size_t max_document_bytes = std::size_t{16} << 20;

std::string location(const YAML::Mark& mark) {
  if (mark.is_null())
    return {};
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Null:
    return "null";
  case YAML::NodeType::Scalar:
    return node.Tag() == "!" ? "a quoted string" : "'" + node.Scalar() + "'";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a map";
  case YAML::NodeType::Undefined:
    break;
  }
  return "nothing";
}

bool is_plain(const YAML::Node& node) { return node.Tag() == "?"; }

bool all_of_chars(std::string_view s, std::string_view allowed) {
  return !s.empty() && s.find_first_not_of(allowed) == std::string_view::npos;
}

// What the YAML 1.2 core schema makes of a plain scalar that is not a string
// (null is already a node type in yaml-cpp); nullptr for a string. Upstream's
// serde_yaml resolves the same way, so `id: 123` is not a string there either.
const char* core_schema_type(std::string_view s) {
  static constexpr std::string_view digits = "0123456789";
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE")
    return "a boolean";
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_of_chars(s.substr(2), "01234567"))
    return "an integer";
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_of_chars(s.substr(2), "0123456789abcdefABCDEF"))
    return "an integer";
  std::string_view body = s;
  if (!body.empty() && (body.front() == '-' || body.front() == '+'))
    body.remove_prefix(1);
  if (all_of_chars(body, digits))
    return "an integer";
  if (body == ".inf" || body == ".Inf" || body == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN")
    return "a number";
  // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  std::string_view mantissa = body.substr(0, body.find_first_of("eE"));
  const auto dot = mantissa.find('.');
  const std::string_view whole = mantissa.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
  const bool whole_ok = whole.empty() || all_of_chars(whole, digits);
  const bool fraction_ok = fraction.empty() || all_of_chars(fraction, digits);
  if (!whole_ok || !fraction_ok || (whole.empty() && fraction.empty()))
    return nullptr;
  if (mantissa.size() < body.size()) {
    std::string_view exponent = body.substr(mantissa.size() + 1);
    if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+'))
      exponent.remove_prefix(1);
    if (!all_of_chars(exponent, digits))
      return nullptr;
  }
  return "a number";
}

} // namespace

Error error_at(std::string_view origin, const YAML::Mark& mark, std::string_view path,
               std::string_view message) {
  std::string text(origin);
  const std::string where = location(mark);
  if (!where.empty())
    text += (text.empty() ? "" : ": ") + where;
  if (!path.empty())
    text += (text.empty() ? "" : ": ") + std::string(path);
  text += (text.empty() ? "" : ": ") + std::string(message);
  return Error(text);
}

namespace {

// yaml-cpp reports an unclosed flow collection at the end of the input, a
// line past the last one. Point at the bracket that is never closed instead
// (outside quotes and comments); failing that, at the end of the last line.
YAML::Mark mark_inside(std::string_view text, YAML::Mark mark, std::string& message) {
  // yaml-cpp notices a missing ']' or '}' wherever the flow collection stops
  // making sense (often the next key, or the end of the input); the useful
  // place is the bracket.
  const bool unclosed_flow = message.find("end of sequence flow not found") != std::string::npos ||
                             message.find("end of map flow not found") != std::string::npos;
  const bool past_end = !mark.is_null() && mark.pos >= 0 && static_cast<std::size_t>(mark.pos) >= text.size();
  if (!unclosed_flow && !past_end)
    return mark;
  std::vector<YAML::Mark> open;
  YAML::Mark at;
  at.pos = 0;
  at.line = 0;
  at.column = 0;
  char quote = 0;
  bool comment = false;
  for (char c : text) {
    if (c == '\n') {
      comment = false;
      quote =
          quote == '"' ? quote : 0; // single-quoted scalars do not span lines in flow context here
    } else if (!comment) {
      if (quote) {
        if (c == quote)
          quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#') {
        comment = true;
      } else if (c == '[' || c == '{') {
        open.push_back(at);
      } else if ((c == ']' || c == '}') && !open.empty()) {
        open.pop_back();
      }
    }
    ++at.pos;
    if (c == '\n') {
      ++at.line;
      at.column = 0;
    } else {
      ++at.column;
    }
  }
  if (!open.empty()) {
    message += " (the bracket opened here is never closed)";
    return open.back();
  }
  if (!past_end)
    return mark;
  YAML::Mark last;
  const std::string_view body = text.substr(0, text.find_last_not_of('\n') + 1);
  const auto nl = body.rfind('\n');
  last.pos = static_cast<int>(body.size());
  last.line = static_cast<int>(std::count(body.begin(), body.end(), '\n'));
  last.column = static_cast<int>(nl == std::string_view::npos ? body.size() : body.size() - nl - 1);
  return last;
}

} // namespace

Result<YAML::Node> load(std::string_view text, std::string_view origin) {
  if (text.size() > max_document_bytes)
    return Error(std::string(origin) + ": document is larger than " +
                 std::to_string(max_document_bytes) + " bytes");
  try {
    YAML::Node node = YAML::Load(std::string(text));
    return node;
  } catch (const YAML::Exception& e) {
    std::string message = e.msg;
    const YAML::Mark mark = mark_inside(text, e.mark, message);
    return error_at(origin, mark, {}, message);
  } catch (const std::exception& e) {
    return Error(std::string(origin) + ": " + e.what());
  }
}

std::optional<std::uint64_t> parse_uint_literal(std::string_view text) {
  if (!text.empty() && text.front() == '+')
    text.remove_prefix(1);
  unsigned base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o' || text[1] == 'b')) {
    base = text[1] == 'x' ? 16 : text[1] == 'o' ? 8 : 2;
    text.remove_prefix(2);
  }
  if (text.empty())
    return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9')
      digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      digit = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      digit = static_cast<unsigned>(c - 'A' + 10);
    else
      return std::nullopt;
    if (digit >= base)
      return std::nullopt;
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / base)
      return std::nullopt;
    value = value * base + digit;
  }
  return value;
}

Error Value::error(std::string_view message) const {
  return error_at(m_origin, m_node.Mark(), m_path, message);
}

Result<std::string> Value::string() const {
  if (!m_node.IsScalar())
    return error("expected a string, found " + describe(m_node));
  const std::string& tag = m_node.Tag();
  if (tag != "?" && tag != "!" && tag != "tag:yaml.org,2002:str")
    return error("unexpected tag '" + tag + "' on a string");
  // Wrong types are errors: a plain 123 or true is not the string "123".
  if (tag == "?")
    if (const char* type = core_schema_type(m_node.Scalar()))
      return error("expected a string, found " + std::string(type) + " '" + m_node.Scalar() +
                   "' (quote it to mean the string)");
  return m_node.Scalar();
}

Result<std::uint64_t> Value::uint(std::uint64_t max) const {
  if (!m_node.IsScalar() || !(is_plain(m_node) || m_node.Tag() == "tag:yaml.org,2002:int"))
    return error("expected an unsigned integer, found " + describe(m_node));
  const std::string& text = m_node.Scalar();
  auto value = parse_uint_literal(text);
  if (!value) {
    const bool numeric = !text.empty() && (std::isdigit(static_cast<unsigned char>(text.back())) != 0);
    if (numeric && text.front() == '-')
      return error("negative value " + text + " is out of range (0.." + std::to_string(max) + ")");
    return error("expected an unsigned integer (decimal, 0x, 0o or 0b), found '" + text + "'");
  }
  if (*value > max)
    return error("value " + text + " is out of range (0.." + std::to_string(max) + ")");
  return *value;
}

Result<bool> Value::boolean() const {
  if (m_node.IsScalar() && (is_plain(m_node) || m_node.Tag() == "tag:yaml.org,2002:bool")) {
    const std::string& t = m_node.Scalar();
    if (t == "true" || t == "True" || t == "TRUE")
      return true;
    if (t == "false" || t == "False" || t == "FALSE")
      return false;
  }
  return error("expected true or false, found " + describe(m_node));
}

Result<std::vector<Value>> Value::sequence() const {
  if (!m_node.IsSequence())
    return error("expected a list, found " + describe(m_node));
  std::vector<Value> items;
  items.reserve(m_node.size());
  std::size_t i = 0;
  for (const auto& item : m_node)
    items.emplace_back(m_origin, item, m_path + "[" + std::to_string(i++) + "]");
  return items;
}

Result<MapReader> Value::map() const { return MapReader::make(*this); }

Result<MapReader> MapReader::make(const Value& value) {
  const YAML::Node& node = value.node();
  if (!node.IsMap())
    return value.error("expected a map, found " + describe(node));
  std::vector<Entry> entries;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar())
      return error_at(value.origin(), kv.first.Mark(), value.path(), "map keys must be strings");
    std::string key = kv.first.Scalar();
    for (const auto& seen : entries)
      if (seen.key == key)
        return error_at(value.origin(), kv.first.Mark(), value.path(),
                        "duplicate key '" + key + "' (first at " + location(seen.key_node.Mark()) + ")");
    entries.push_back({std::move(key), kv.first, kv.second});
  }
  return MapReader(value.origin(), value.path(), node.Mark(), std::move(entries));
}

std::string MapReader::child_path(std::string_view key) const {
  return m_path.empty() ? std::string(key) : m_path + "." + std::string(key);
}

Error MapReader::error(std::string_view message) const {
  return error_at(m_origin, m_mark, m_path, message);
}

bool MapReader::has(std::string_view key) const {
  return std::any_of(m_entries.begin(), m_entries.end(), [&](const Entry& e) { return e.key == key; });
}

std::optional<Value> MapReader::take(std::string_view key) {
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    if (m_entries[i].key == key) {
      m_used[i] = true;
      return Value(m_origin, m_entries[i].value, child_path(key));
    }
  }
  return std::nullopt;
}

Result<Value> MapReader::require(std::string_view key) {
  auto v = take(key);
  if (!v)
    return error("missing required key '" + std::string(key) + "'");
  return std::move(*v);
}

Result<std::string> MapReader::req_string(std::string_view key) {
  auto v = TRY(require(key));
  if (v.is_null())
    return v.error("must not be null");
  return v.string();
}

Result<std::optional<std::string>> MapReader::opt_string(std::string_view key) {
  auto v = take(key);
  if (!v || v->is_null())
    return std::optional<std::string>{};
  return std::optional<std::string>{TRY(v->string())};
}

Result<bool> MapReader::opt_bool(std::string_view key, bool fallback) {
  auto v = take(key);
  if (!v || v->is_null())
    return fallback;
  return v->boolean();
}

std::vector<MapReader::Entry> MapReader::take_rest() {
  std::vector<Entry> rest;
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    if (!m_used[i]) {
      m_used[i] = true;
      rest.push_back(m_entries[i]);
    }
  }
  return rest;
}

Result<void> MapReader::finish(std::initializer_list<std::string_view> allowed) {
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    if (m_used[i])
      continue;
    std::string message = "unknown key '" + m_entries[i].key + "'";
    if (allowed.size() > 0) {
      message += " (expected one of:";
      for (auto a : allowed)
        message += " " + std::string(a);
      message += ")";
    }
    return error_at(m_origin, m_entries[i].key_node.Mark(), m_path, message);
  }
  return ok();
}

// --- rendering --------------------------------------------------------------

namespace {

bool needs_quotes(const std::string& s) {
  if (s.empty())
    return true;
  static const char* const words[] = {"~",    "null", "Null", "NULL", "true", "True", "TRUE", "false",
                                      "False", "FALSE", "yes", "Yes", "YES", "no",  "No",   "NO",
                                      "on",   "On",   "ON",   "off",  "Off",  "OFF", "y",   "n"};
  for (const char* w : words)
    if (s == w)
      return true;
  if (parse_uint_literal(s))
    return true;
  const char c = s.front();
  if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    if (end && *end == '\0')
      return true;
    if (s == ".inf" || s == "-.inf" || s == ".nan" || s == ".NaN" || s == ".Inf")
      return true;
  }
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t')
    return true;
  return false;
}

// Literal block style only where it reads back byte-identically: one trailing
// newline, no carriage returns, no leading blank on the first line.
bool literal_safe(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n')
    return false;
  if (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')
    return false;
  for (char c : s)
    if (c == '\r' || (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t'))
      return false;
  return true;
}

void emit(YAML::Emitter& out, const Json& node, bool allow_literal) {
  switch (node.type()) {
  case Json::value_t::object:
    out << YAML::BeginMap;
    for (const auto& [key, value] : node.items()) {
      out << YAML::Key << key << YAML::Value;
      emit(out, value, allow_literal);
    }
    out << YAML::EndMap;
    break;
  case Json::value_t::array:
    out << YAML::BeginSeq;
    for (const auto& item : node)
      emit(out, item, allow_literal);
    out << YAML::EndSeq;
    break;
  case Json::value_t::string: {
    const auto& s = node.get_ref<const std::string&>();
    if (s.find('\n') != std::string::npos) {
      if (allow_literal && literal_safe(s))
        out << YAML::Literal << s;
      else
        out << YAML::DoubleQuoted << s;
    } else if (needs_quotes(s)) {
      out << YAML::DoubleQuoted << s;
    } else {
      out << s;
    }
    break;
  }
  case Json::value_t::boolean:
    out << (node.get<bool>() ? "true" : "false");
    break;
  case Json::value_t::number_unsigned:
    out << node.get<std::uint64_t>();
    break;
  case Json::value_t::number_integer:
    out << node.get<std::int64_t>();
    break;
  case Json::value_t::number_float:
    out << node.get<double>();
    break;
  case Json::value_t::null:
  case Json::value_t::discarded:
  case Json::value_t::binary:
    out << YAML::Null;
    break;
  }
}

std::string render_with(const Json& tree, bool allow_literal) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetNullFormat(YAML::LowerNull);
  emit(out, tree, allow_literal);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n')
    text += '\n';
  return text;
}

// Rebuild the tree from parsed YAML (strings only; used to check that the
// literal-style rendering reads back to the same strings).
bool same_strings(const Json& expected, const YAML::Node& node) {
  switch (expected.type()) {
  case Json::value_t::object: {
    if (!node.IsMap() || node.size() != expected.size())
      return false;
    for (const auto& [key, value] : expected.items())
      if (!node[key] || !same_strings(value, node[key]))
        return false;
    return true;
  }
  case Json::value_t::array: {
    if (!node.IsSequence() || node.size() != expected.size())
      return false;
    std::size_t i = 0;
    for (const auto& item : expected)
      if (!same_strings(item, node[i++]))
        return false;
    return true;
  }
  case Json::value_t::string:
    return node.IsScalar() && node.Scalar() == expected.get_ref<const std::string&>();
  default:
    return true;
  }
}

} // namespace

std::string render_yaml(const Json& tree) {
  std::string text = render_with(tree, true);
  try {
    if (same_strings(tree, YAML::Load(text)))
      return text;
  } catch (const YAML::Exception&) {
  }
  return render_with(tree, false);
}

} // namespace fastboop::profiles::yaml

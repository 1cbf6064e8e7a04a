#include "plan.hpp"
#include "common/text.hpp"

#include <cstdio>

namespace fastboop::stage0_init {

namespace {

std::string_view basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t')
      ++i;
    if (i > start)
      fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

template <typename F> void for_each_line(std::string_view text, F f) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    f(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
}

std::uint64_t fnv1a(std::string_view serial, std::uint8_t round) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  auto feed = [&hash](std::uint8_t byte) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  };
  for (char c : std::string_view("fastboop-stage0-machine-id-v1"))
    feed(static_cast<std::uint8_t>(c));
  feed(0);
  for (char c : serial)
    feed(static_cast<std::uint8_t>(c));
  feed(0);
  feed(round);
  return hash;
}

} // namespace

GadgetLayout gadget_layout(std::string_view name) {
  GadgetLayout layout;
  layout.name = std::string(name);
  layout.dir = std::string(kGadgetRoot) + "/" + layout.name;
  layout.ffs_instance = layout.name + "-0";
  layout.ffs_dir = "/dev/ffs-" + layout.ffs_instance;
  layout.acm_instance = layout.name + "-1";
  return layout;
}

std::vector<GadgetOp> gadget_plan(const stage0::Stage0Settings& s, const GadgetLayout& layout,
                                  GadgetFunctions functions) {
  const bool ffs = functions == GadgetFunctions::Smoo;
  const bool acm = s.acm || functions == GadgetFunctions::AcmOnly;
  using K = GadgetOp::Kind;
  const std::string& g = layout.dir;
  const std::string ffs_function = g + "/functions/ffs." + layout.ffs_instance;
  const std::string acm_function = g + "/functions/acm." + layout.acm_instance;
  const std::string config = g + "/configs/c.1";
  std::vector<GadgetOp> ops = {
      {K::Mkdir, g, ""},
      {K::Write, g + "/bDeviceClass", "0x00"},
      {K::Write, g + "/bDeviceSubClass", "0x00"},
      {K::Write, g + "/bDeviceProtocol", "0x00"},
      {K::Write, g + "/idVendor", format_hex(s.vendor_id.value_or(stage0::kDefaultVendorId), 4)},
      {K::Write, g + "/idProduct", format_hex(s.product_id.value_or(stage0::kDefaultProductId), 4)},
      {K::Write, g + "/bMaxPacketSize0", "0x40"},
      {K::Write, g + "/bcdDevice", "0x0000"},
      {K::Write, g + "/bcdUSB", "0x0200"},
      {K::Mkdir, g + "/strings/0x409", ""},
      {K::Write, g + "/strings/0x409/manufacturer", "smoo"},
      {K::Write, g + "/strings/0x409/product", "smoo gadget"},
      {K::Write, g + "/strings/0x409/serialnumber",
       s.serial.empty() ? std::string(stage0::kDefaultSerial) : s.serial},
  };
  if (ffs)
    ops.push_back({K::Mkdir, ffs_function, ""});
  if (acm)
    ops.push_back({K::Mkdir, acm_function, ""});
  ops.push_back({K::Mkdir, config, ""});
  ops.push_back({K::Write, config + "/bmAttributes", "0x80"});
  ops.push_back({K::Write, config + "/MaxPower", "500"});
  ops.push_back({K::Mkdir, config + "/strings/0x409", ""});
  ops.push_back({K::Write, config + "/strings/0x409/configuration", "config"});
  if (ffs)
    ops.push_back({K::Symlink, config + "/ffs." + layout.ffs_instance, ffs_function});
  if (acm)
    ops.push_back({K::Symlink, config + "/acm." + layout.acm_instance, acm_function});
  return ops;
}

std::vector<std::string> smoo_arguments(const stage0::Stage0Settings& s, std::string_view ffs_dir) {
  std::vector<std::string> argv = {std::string(kSmooGadgetPath),   "--ffs-dir",
                                   std::string(ffs_dir),           "--state-file",
                                   std::string(kSmooStateFile),    "--export-map-file",
                                   std::string(kSmooExportMapFile)};
  if (s.queue_count) {
    argv.push_back("--queue-count");
    argv.push_back(std::to_string(*s.queue_count));
  }
  if (s.queue_depth) {
    argv.push_back("--queue-depth");
    argv.push_back(std::to_string(*s.queue_depth));
  }
  if (s.max_io_bytes) {
    argv.push_back("--max-io");
    argv.push_back(std::to_string(*s.max_io_bytes));
  }
  if (s.mimic_fastboot)
    argv.push_back("--mimic-fastboot");
  return argv;
}

std::string module_name_key(std::string_view path_or_name) {
  std::string_view name = basename(path_or_name);
  for (std::string_view suffix : {".xz", ".zst", ".gz"})
    if (name.ends_with(suffix)) {
      name.remove_suffix(suffix.size());
      break;
    }
  if (name.ends_with(".ko"))
    name.remove_suffix(3);
  std::string key(name);
  for (char& c : key)
    if (c == '-')
      c = '_';
  return key;
}

bool module_is_compressed(std::string_view path) {
  return path.ends_with(".xz") || path.ends_with(".zst") || path.ends_with(".gz");
}

ModuleIndex ModuleIndex::parse(std::string_view modules_dep) {
  ModuleIndex index;
  for_each_line(modules_dep, [&index](std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return;
    std::string path(stage0::trim(line.substr(0, colon)));
    if (path.empty())
      return;
    std::vector<std::string> deps;
    for (std::string_view dep : split_fields(line.substr(colon + 1)))
      deps.emplace_back(dep);
    index.m_paths.emplace(module_name_key(path), path); // first occurrence wins
    index.m_deps.emplace(path, std::move(deps));
  });
  return index;
}

const std::string* ModuleIndex::path_of(std::string_view name) const {
  auto it = m_paths.find(module_name_key(name));
  return it == m_paths.end() ? nullptr : &it->second;
}

const std::vector<std::string>& ModuleIndex::deps_of(const std::string& path) const {
  static const std::vector<std::string> kNone;
  auto it = m_deps.find(path);
  return it == m_deps.end() ? kNone : it->second;
}

std::set<std::string> parse_modules_builtin(std::string_view text) {
  std::set<std::string> names;
  for_each_line(text, [&names](std::string_view line) {
    line = stage0::trim(line);
    if (!line.empty())
      names.insert(module_name_key(line));
  });
  return names;
}

std::array<std::uint8_t, 16> machine_id_from_serial(std::string_view serial) {
  std::array<std::uint8_t, 16> id{};
  for (std::uint8_t round = 0; round < 2; ++round) {
    const std::uint64_t h = fnv1a(serial, round);
    for (int i = 0; i < 8; ++i)
      id[round * 8 + i] = static_cast<std::uint8_t>(h >> (56 - 8 * i));
  }
  return id;
}

std::string format_machine_id(std::array<std::uint8_t, 16> id) {
  bool all_zero = true;
  for (std::uint8_t b : id)
    all_zero = all_zero && b == 0;
  if (all_zero)
    id[0] = 1;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : id) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Result<std::string> normalize_ostree_path(std::string_view value) {
  value = stage0::trim(value);
  std::string out;
  while (!value.empty()) {
    const std::size_t slash = value.find('/');
    std::string_view part = value.substr(0, slash);
    value = slash == std::string_view::npos ? std::string_view() : value.substr(slash + 1);
    if (part.empty() || part == ".")
      continue;
    if (part == "..")
      return Error("ostree path must not contain '..'");
    if (!out.empty())
      out += '/';
    out += part;
  }
  if (out.empty())
    return Error("ostree path is empty");
  return out;
}

Result<std::string> ostree_stateroot_var(std::string_view deployment_rel) {
  std::vector<std::string_view> parts;
  std::string_view rest = deployment_rel;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  if (parts.size() != 5 || parts[0] != "ostree" || parts[1] != "deploy" || parts[3] != "deploy" ||
      parts[2].empty() || parts[4].empty())
    return Error("deployment '" + std::string(deployment_rel) +
                 "' is not ostree/deploy/<stateroot>/deploy/<entry> (missing deploy)");
  return "ostree/deploy/" + std::string(parts[2]) + "/var";
}

std::optional<std::string> format_kmsg_record(std::string_view record) {
  const std::size_t semicolon = record.find(';');
  if (semicolon == std::string_view::npos)
    return std::nullopt;
  std::string_view message = record.substr(semicolon + 1);
  message = message.substr(0, message.find('\n')); // continuation lines are metadata
  if (message.empty())
    return std::nullopt;
  // The third comma-separated header field is the timestamp in microseconds.
  std::string_view header = record.substr(0, semicolon);
  std::uint64_t usec = 0;
  for (int field = 0; field < 2; ++field) {
    const std::size_t comma = header.find(',');
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
  }
  for (char c : header.substr(0, header.find(','))) {
    if (c < '0' || c > '9' || usec > UINT64_MAX / 10 - 9)
      break;
    usec = usec * 10 + static_cast<std::uint64_t>(c - '0');
  }
  char stamp[48];
  std::snprintf(stamp, sizeof stamp, "[%5llu.%06llu] ",
                static_cast<unsigned long long>(usec / 1000000),
                static_cast<unsigned long long>(usec % 1000000));
  return std::string(stamp) + std::string(message) + "\r\n";
}

bool mountinfo_has_mount_point(std::string_view mountinfo, std::string_view path) {
  bool found = false;
  for_each_line(mountinfo, [&](std::string_view line) {
    std::vector<std::string_view> fields = split_fields(line);
    if (fields.size() >= 5 && fields[4] == path)
      found = true;
  });
  return found;
}

bool filesystems_has(std::string_view filesystems, std::string_view name) {
  bool found = false;
  for_each_line(filesystems, [&](std::string_view line) {
    std::vector<std::string_view> fields = split_fields(line);
    if (!fields.empty() && fields.back() == name)
      found = true;
  });
  return found;
}

} // namespace fastboop::stage0_init

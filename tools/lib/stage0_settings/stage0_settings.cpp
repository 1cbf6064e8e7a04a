#include "stage0_settings/stage0_settings.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace fastboop::stage0 {

namespace {

constexpr std::string_view kKnownKeys[] = {
    key::kLocale,        key::kLocaleMessages,
    key::kKeymap,        key::kTimezone,
    key::kOstree,        key::kAcm,
    key::kBreak,         key::kSmooLog,
    key::kMaxIo,         key::kMaxIoAlias,
    key::kMimicFastboot, key::kProduct,
    key::kProductAlias,  key::kQueueCount,
    key::kQueueDepth,    key::kQueueDepthAlias,
    key::kVendor,        key::kVendorAlias,
    key::kEp1Timeout,    key::kFramebuffer,
    key::kInit,          key::kOnFailure,
    key::kRootDevice,    key::kRootDeviceTimeout,
    key::kRootfs,        key::kSerial,
    key::kRootfsImage,   key::kRootfsImageType,
    key::kRootOffset,    key::kRootSize,
    key::kUblkTimeout,   key::kUdc,
    key::kUdcTimeout,    key::kYeetFstab,
};

// The table above, sorted for binary search.
const std::vector<std::string_view>& sorted_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> v(std::begin(kKnownKeys), std::end(kKnownKeys));
    std::sort(v.begin(), v.end());
    return v;
  }();
  return keys;
}

template <typename T> std::optional<T> parse_decimal(std::string_view text, T max) {
  if (text.empty())
    return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (static_cast<std::uint64_t>(max) - digit) / 10)
      return std::nullopt;
    value = value * 10 + digit;
  }
  return static_cast<T>(value);
}

std::optional<std::uint16_t> parse_hex_u16(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  std::uint32_t value = 0;
  for (char c : text) {
    std::uint32_t digit;
    if (c >= '0' && c <= '9')
      digit = static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      digit = static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      digit = static_cast<std::uint32_t>(c - 'A' + 10);
    else
      return std::nullopt;
    value = value * 16 + digit;
    if (value > 0xffff)
      return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool valid_file_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255)
    return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return c == '/' || c == '\0' || is_space(c); });
}

class Parser {
public:
  explicit Parser(const SettingsMap& raw) : m_raw(raw) {}

  const std::string* get(std::string_view name) const {
    auto it = m_raw.find(std::string(name));
    return it == m_raw.end() ? nullptr : &it->second;
  }

  void warn(std::string_view name, const std::string& value, std::string_view expected) {
    m_warnings.push_back("setting " + std::string(name) + "='" + value + "' is not " +
                         std::string(expected) + "; ignored");
    m_invalid.push_back(std::string(name) + "='" + value + "' is not " + std::string(expected));
  }

  template <typename T, typename F>
  std::optional<T> typed(std::string_view name, F parse, std::string_view expected) {
    const std::string* value = get(name);
    if (!value)
      return std::nullopt;
    std::optional<T> parsed = parse(*value);
    if (!parsed)
      warn(name, *value, expected);
    return parsed;
  }

  // Primary first; the alias only when the primary is absent or invalid.
  template <typename T, typename F>
  std::optional<T> typed_alias(std::string_view primary, std::string_view alias, F parse,
                               std::string_view expected) {
    std::optional<T> value = typed<T>(primary, parse, expected);
    return value ? value : typed<T>(alias, parse, expected);
  }

  bool flag(std::string_view name, bool fallback) {
    return typed<bool>(name, parse_bool, "a boolean (1/true/yes/on, 0/false/no/off)")
        .value_or(fallback);
  }

  std::string text(std::string_view name) {
    const std::string* value = get(name);
    return value ? std::string(trim(*value)) : std::string();
  }

  std::vector<std::string> take_warnings() { return std::move(m_warnings); }
  std::vector<std::string> take_invalid() { return std::move(m_invalid); }

private:
  const SettingsMap& m_raw;
  std::vector<std::string> m_warnings;
  std::vector<std::string> m_invalid;
};

} // namespace

std::span<const std::string_view> known_keys() {
  return sorted_keys();
}

bool is_known_key(std::string_view name) {
  const auto& keys = sorted_keys();
  return std::binary_search(keys.begin(), keys.end(), name);
}

std::string_view to_string(RootFsType type) {
  switch (type) {
  case RootFsType::Erofs:
    return "erofs";
  case RootFsType::Ext4:
    return "ext4";
  case RootFsType::Squashfs:
    return "squashfs";
  }
  return "erofs";
}

std::string_view to_string(OnFailure action) {
  switch (action) {
  case OnFailure::Panic:
    return "panic";
  case OnFailure::Reboot:
    return "reboot";
  case OnFailure::Halt:
    return "halt";
  }
  return "panic";
}

std::optional<bool> parse_bool(std::string_view value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on")
    return true;
  if (value == "0" || value == "false" || value == "no" || value == "off")
    return false;
  return std::nullopt;
}

std::optional<std::uint16_t> parse_u16(std::string_view value) {
  return parse_decimal<std::uint16_t>(value, 0xffff);
}

std::optional<std::uint16_t> parse_u16_flexible(std::string_view value) {
  if (value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
    return parse_hex_u16(value.substr(2));
  return parse_u16(value);
}

std::optional<std::uint64_t> parse_u64(std::string_view value) {
  return parse_decimal<std::uint64_t>(value, UINT64_MAX);
}

std::optional<std::uint32_t> parse_u32(std::string_view value) {
  return parse_decimal<std::uint32_t>(value, UINT32_MAX);
}

std::optional<RootFsType> parse_rootfs(std::string_view value) {
  if (value == "erofs")
    return RootFsType::Erofs;
  if (value == "ext4")
    return RootFsType::Ext4;
  if (value == "squashfs")
    return RootFsType::Squashfs;
  return std::nullopt;
}

std::optional<OnFailure> parse_on_failure(std::string_view value) {
  if (value == "panic")
    return OnFailure::Panic;
  if (value == "reboot")
    return OnFailure::Reboot;
  if (value == "halt")
    return OnFailure::Halt;
  return std::nullopt;
}

Result<std::vector<SettingsFile>> render_settings_files(const SettingsMap& settings) {
  std::vector<SettingsFile> files;
  files.reserve(settings.size());
  for (const auto& [name, value] : settings) {
    if (!valid_file_name(name))
      return Error("stage0 setting name '" + name + "' is not a plain file name");
    if (value.empty() || trim(value) != value)
      return Error("stage0 setting " + name + ": value '" + value +
                   "' is empty or has surrounding whitespace (the reader would change it)");
    if (value.find_first_of(std::string_view("\n\0", 2)) != std::string::npos)
      return Error("stage0 setting " + name + ": value contains a newline or NUL");
    files.push_back({name, value + "\n"});
  }
  return files; // std::map iteration: already sorted by name
}

Result<SettingsMap> to_settings_map(const Stage0Settings& s) {
  if (!s.rootfs)
    return Error("stage0 settings: " + std::string(key::kRootfs) + " is required");
  SettingsMap map = s.other;
  auto put = [&map](std::string_view name, std::string value) {
    map[std::string(name)] = std::move(value);
  };
  auto put_text = [&put](std::string_view name, const std::string& value) {
    if (!value.empty())
      put(name, value);
  };
  put(key::kRootfs, std::string(to_string(*s.rootfs)));
  put_text(key::kRootfsImage, s.rootfs_image);
  if (s.rootfs_image_type)
    put(key::kRootfsImageType, std::string(to_string(*s.rootfs_image_type)));
  if (s.root_offset)
    put(key::kRootOffset, std::to_string(*s.root_offset));
  if (s.root_size)
    put(key::kRootSize, std::to_string(*s.root_size));
  put_text(key::kSerial, s.serial);
  if (!s.yeet_fstab)
    put(key::kYeetFstab, "0");
  put_text(key::kOstree, s.ostree);
  if (s.acm)
    put(key::kAcm, "1");
  if (s.queue_count)
    put(key::kQueueCount, std::to_string(*s.queue_count));
  if (s.queue_depth)
    put(key::kQueueDepth, std::to_string(*s.queue_depth));
  if (s.max_io_bytes)
    put(key::kMaxIo, std::to_string(*s.max_io_bytes));
  if (s.vendor_id)
    put(key::kVendor, format_hex(*s.vendor_id, 4));
  if (s.product_id)
    put(key::kProduct, format_hex(*s.product_id, 4));
  if (s.mimic_fastboot)
    put(key::kMimicFastboot, "1");
  put_text(key::kSmooLog, s.smoo_log);
  put_text(key::kLocale, s.firstboot_locale);
  put_text(key::kLocaleMessages, s.firstboot_locale_messages);
  put_text(key::kKeymap, s.firstboot_keymap);
  put_text(key::kTimezone, s.firstboot_timezone);
  put_text(key::kRootDevice, s.root_device);
  if (s.root_device_timeout_s)
    put(key::kRootDeviceTimeout, std::to_string(*s.root_device_timeout_s));
  if (s.on_failure != OnFailure::Panic)
    put(key::kOnFailure, std::string(to_string(s.on_failure)));
  put_text(key::kUdc, s.udc);
  put_text(key::kInit, s.init);
  if (s.udc_timeout_s)
    put(key::kUdcTimeout, std::to_string(*s.udc_timeout_s));
  if (s.ep1_timeout_s)
    put(key::kEp1Timeout, std::to_string(*s.ep1_timeout_s));
  if (s.ublk_timeout_s)
    put(key::kUblkTimeout, std::to_string(*s.ublk_timeout_s));
  return map;
}

Result<std::vector<SettingsFile>> render_settings_files(const Stage0Settings& settings) {
  SettingsMap map = TRY(to_settings_map(settings));
  return render_settings_files(map);
}

SettingsMap settings_map_from_files(std::span<const SettingsFile> files) {
  SettingsMap map;
  for (const SettingsFile& file : files) {
    std::string_view value = trim(file.content);
    map[file.name] = value.empty() ? std::string("1") : std::string(value);
  }
  return map;
}

ParsedSettings parse_settings(const SettingsMap& raw) {
  Parser p(raw);
  Stage0Settings s;
  constexpr std::string_view kU16 = "a decimal number 0..65535";
  constexpr std::string_view kU16Flex = "a 16-bit number (0x hex or decimal)";
  constexpr std::string_view kU32 = "a decimal number of seconds";

  if (const std::string* value = p.get(key::kRootfs)) {
    s.rootfs = parse_rootfs(*value);
    if (!s.rootfs)
      p.warn(key::kRootfs, *value, "'erofs', 'ext4' or 'squashfs'");
  }
  s.rootfs_image = p.text(key::kRootfsImage);
  if (!s.rootfs_image.empty() && s.rootfs_image.front() != '/') {
    p.warn(key::kRootfsImage, s.rootfs_image, "an absolute path inside the lower root");
    s.rootfs_image.clear();
  }
  if (const std::string* value = p.get(key::kRootfsImageType)) {
    s.rootfs_image_type = parse_rootfs(*value);
    if (s.rootfs_image_type == RootFsType::Squashfs)
      s.rootfs_image_type.reset();
    if (!s.rootfs_image_type)
      p.warn(key::kRootfsImageType, *value, "'erofs' or 'ext4'");
  }
  s.root_offset = p.typed<std::uint64_t>(key::kRootOffset, parse_u64, "a decimal byte offset");
  s.root_size = p.typed<std::uint64_t>(key::kRootSize, parse_u64, "a decimal byte count");
  s.serial = p.text(key::kSerial);
  s.yeet_fstab = p.flag(key::kYeetFstab, true);
  s.ostree = p.text(key::kOstree);
  s.acm = p.flag(key::kAcm, false);
  s.queue_count = p.typed<std::uint16_t>(key::kQueueCount, parse_u16, kU16);
  s.queue_depth =
      p.typed_alias<std::uint16_t>(key::kQueueDepth, key::kQueueDepthAlias, parse_u16, kU16);
  s.max_io_bytes = p.typed_alias<std::uint64_t>(key::kMaxIo, key::kMaxIoAlias, parse_u64,
                                                "a decimal byte count");
  s.vendor_id =
      p.typed_alias<std::uint16_t>(key::kVendor, key::kVendorAlias, parse_u16_flexible, kU16Flex);
  s.product_id =
      p.typed_alias<std::uint16_t>(key::kProduct, key::kProductAlias, parse_u16_flexible, kU16Flex);
  s.mimic_fastboot = p.flag(key::kMimicFastboot, false);
  if (const std::string* value = p.get(key::kSmooLog))
    s.smoo_log = *value; // raw filter string
  s.firstboot_locale = p.text(key::kLocale);
  s.firstboot_locale_messages = p.text(key::kLocaleMessages);
  s.firstboot_keymap = p.text(key::kKeymap);
  s.firstboot_timezone = p.text(key::kTimezone);
  s.root_device = p.text(key::kRootDevice);
  s.root_device_timeout_s = p.typed<std::uint32_t>(key::kRootDeviceTimeout, parse_u32, kU32);
  s.on_failure = p.typed<OnFailure>(key::kOnFailure, parse_on_failure, "panic, reboot or halt")
                     .value_or(OnFailure::Panic);
  s.udc = p.text(key::kUdc);
  s.init = p.text(key::kInit);
  s.udc_timeout_s = p.typed<std::uint32_t>(key::kUdcTimeout, parse_u32, kU32);
  s.ep1_timeout_s = p.typed<std::uint32_t>(key::kEp1Timeout, parse_u32, kU32);
  s.ublk_timeout_s = p.typed<std::uint32_t>(key::kUblkTimeout, parse_u32, kU32);

  std::vector<std::string> warnings = p.take_warnings();
  std::vector<std::string> invalid = p.take_invalid();
  for (const auto& [name, value] : raw) {
    const bool modelled = is_known_key(name) && name != key::kFramebuffer && name != key::kBreak;
    if (modelled)
      continue;
    s.other[name] = value;
    if (name == key::kBreak)
      warnings.push_back("setting smoo.break is not supported (stage0 never starts a shell); "
                         "ignored");
    else if (name == key::kFramebuffer)
      warnings.push_back("setting stage0.fb is not supported by this stage0; ignored");
  }
  return {std::move(s), std::move(warnings), std::move(invalid)};
}

ParsedSettings parse_settings_files(std::span<const SettingsFile> files) {
  return parse_settings(settings_map_from_files(files));
}

Result<std::string> render_module_list(std::span<const std::string> modules) {
  std::string out;
  for (const std::string& name : modules) {
    const bool bad = name.empty() || name.front() == '#' ||
                     std::any_of(name.begin(), name.end(),
                                 [](char c) { return is_space(c) || c == '/' || c == '\0'; });
    if (bad)
      return Error("module load list: invalid module name '" + name + "'");
    out += name;
    out += '\n';
  }
  return out;
}

std::vector<std::string> parse_module_list(std::string_view text) {
  std::vector<std::string> modules;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.front() != '#')
      modules.emplace_back(line);
  }
  return modules;
}

} // namespace fastboop::stage0

#include "fastboot/sidecar.hpp"

#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "profiles/profiles.hpp"

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

namespace fastboop::fastboot {

namespace {

using nlohmann::json;

// VID/PID as a JSON number or a "0x18d1" / "18d1" string.
Result<std::uint16_t> parse_usb_id(const json& value, const std::string& where) {
  if (value.is_number_unsigned() && value.get<std::uint64_t>() <= 0xffff)
    return static_cast<std::uint16_t>(value.get<std::uint64_t>());
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    std::string_view digits = text;
    if (digits.starts_with("0x") || digits.starts_with("0X"))
      digits.remove_prefix(2);
    unsigned parsed = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed, 16);
    if (!digits.empty() && ec == std::errc() && end == digits.data() + digits.size() && parsed <= 0xffff)
      return static_cast<std::uint16_t>(parsed);
  }
  return Error(where + ": expected a 16-bit USB id (number or hex string), got " + value.dump());
}

Result<profiles::ProbeOp> parse_op(const std::string& op, const std::string& where) {
  if (op == "equals")
    return profiles::ProbeOp::Equals;
  if (op == "starts_with")
    return profiles::ProbeOp::StartsWith;
  if (op == "not_equals")
    return profiles::ProbeOp::NotEquals;
  if (op == "exists")
    return profiles::ProbeOp::Exists;
  if (op == "not_exists")
    return profiles::ProbeOp::NotExists;
  return Error(where + ": unknown probe op '" + op +
               "' (expected equals, starts_with, not_equals, exists or not_exists)");
}

Result<std::string> string_field(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string())
    return Error(where + "." + key + ": missing or not a string");
  return it->get<std::string>();
}

Result<SidecarRootfs> parse_rootfs(const json& value) {
  if (!value.is_object())
    return Error("rootfs: expected an object");
  SidecarRootfs r;
  const std::string transport = TRY(string_field(value, "transport", "rootfs"));
  if (transport == "smoo")
    r.transport = SidecarRootfs::Transport::Smoo;
  else if (transport == "local")
    r.transport = SidecarRootfs::Transport::Local;
  else
    return Error("rootfs.transport: expected \"smoo\" or \"local\", got \"" + transport + "\"");
  if (r.transport == SidecarRootfs::Transport::Local)
    r.device = TRY(string_field(value, "device", "rootfs"));
  if (value.contains("source"))
    r.source = TRY(string_field(value, "source", "rootfs"));
  if (!value.contains("pipeline"))
    return r;
  r.pipeline = TRY(string_field(value, "pipeline", "rootfs"));
  auto size = value.find("size");
  if (size == value.end() || !size->is_number_unsigned())
    return Error("rootfs.size: missing or not an unsigned number");
  r.size = size->get<std::uint64_t>();
  if (auto sha = value.find("sha512"); sha != value.end() && !sha->is_null()) {
    if (!sha->is_string() || !Sha512Digest::is_hex(sha->get<std::string>()))
      return Error("rootfs.sha512: expected 128 lowercase hex digits or null");
    r.sha512 = sha->get<std::string>();
  }
  return r;
}

} // namespace

std::filesystem::path sidecar_path_for(const std::filesystem::path& image) {
  return image.string() + ".json";
}

Result<BootImageSidecar> parse_sidecar(std::string_view json_text, std::string_view origin) {
  const std::string file(origin);
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    return Error(file + ": invalid JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("device_profile") || !doc["device_profile"].is_object())
    return Error(file + ": missing object 'device_profile'");
  const json& dp = doc["device_profile"];
  BootImageSidecar sidecar;
  auto& profile = sidecar.profile;
  profile.id = TRY_CTX(string_field(dp, "id", "device_profile"), file);
  TRY_CTX(profiles::check_profile_id(profile.id), file + ": device_profile.id");
  if (auto it = dp.find("display_name"); it != dp.end() && it->is_string())
    profile.display_name = it->get<std::string>();
  if (auto it = dp.find("match"); it != dp.end()) {
    if (!it->is_array())
      return Error(file + ": device_profile.match: expected an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string where = "device_profile.match[" + std::to_string(i) + "]";
      json rule = (*it)[i];
      // Accept the DevPro YAML shape {fastboot: {vid, pid}} as well.
      if (rule.is_object() && rule.contains("fastboot"))
        rule = rule["fastboot"];
      if (!rule.is_object() || !rule.contains("vid") || !rule.contains("pid"))
        return Error(file + ": " + where + ": expected {\"vid\": …, \"pid\": …}");
      profiles::UsbMatch match;
      match.vid = TRY_CTX(parse_usb_id(rule["vid"], where + ".vid"), file);
      match.pid = TRY_CTX(parse_usb_id(rule["pid"], where + ".pid"), file);
      profile.match.push_back(match);
    }
  }
  if (auto it = dp.find("probe"); it != dp.end()) {
    if (!it->is_array())
      return Error(file + ": device_profile.probe: expected an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string where = "device_profile.probe[" + std::to_string(i) + "]";
      const json& step_json = (*it)[i];
      if (!step_json.is_object())
        return Error(file + ": " + where + ": expected an object");
      profiles::ProbeStep step;
      step.var = TRY_CTX(string_field(step_json, "getvar", where), file);
      const std::string op = TRY_CTX(string_field(step_json, "op", where), file);
      step.op = TRY_CTX(parse_op(op, where + ".op"), file);
      const bool needs_value = step.op == profiles::ProbeOp::Equals || step.op == profiles::ProbeOp::StartsWith ||
                               step.op == profiles::ProbeOp::NotEquals;
      if (needs_value)
        step.value = TRY_CTX(string_field(step_json, "value", where), file);
      profile.probe.push_back(std::move(step));
    }
  }
  if (auto it = dp.find("boot"); it != dp.end()) {
    profile.boot = TRY(profiles::parse_device_profile_boot(it->dump(), file + ": device_profile"));
    sidecar.has_boot = true;
  }
  if (auto it = doc.find("image"); it != doc.end() && !it->is_null()) {
    if (!it->is_object())
      return Error(file + ": image: expected an object {\"size\": …, \"sha512\": …}");
    auto size = it->find("size");
    if (size == it->end() || !size->is_number_unsigned())
      return Error(file + ": image.size: missing or not an unsigned number");
    SidecarImage image;
    image.size = size->get<std::uint64_t>();
    image.sha512 = TRY_CTX(string_field(*it, "sha512", "image"), file);
    if (!Sha512Digest::is_hex(image.sha512))
      return Error(file + ": image.sha512: expected 128 lowercase hex digits, got '" + image.sha512 + "'");
    sidecar.image = std::move(image);
  }
  if (auto it = doc.find("rootfs"); it != doc.end() && !it->is_null())
    sidecar.rootfs = TRY_CTX(parse_rootfs(*it), file);
  return sidecar;
}

Result<void> verify_sidecar_image(const BootImageSidecar& sidecar, ByteSpan image,
                                  const std::filesystem::path& image_path, const std::filesystem::path& sidecar_path) {
  if (!sidecar.image)
    return ok();
  const std::string actual = sha512_hex(image);
  if (sidecar.image->size == image.size() && sidecar.image->sha512 == actual)
    return ok();
  return Error(sidecar_path.string() + " does not belong to " + image_path.string() + ": it describes an image of " +
                   std::to_string(sidecar.image->size) + " bytes with sha512 " + sidecar.image->sha512 +
                   ", but the image is " + std::to_string(image.size()) + " bytes with sha512 " + actual +
                   "; rebuild the image (the sidecar is stale, so --force-device does not override this)",
               ErrorKind::Invalid);
}

Result<std::optional<BootImageSidecar>> load_sidecar(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return std::optional<BootImageSidecar>{};
  auto text = TRY(read_text_file(path, 1 << 20));
  return std::optional<BootImageSidecar>{TRY(parse_sidecar(text, path.string()))};
}

} // namespace fastboop::fastboot

#include "stage0/settings.hpp"

#include <algorithm>

namespace fastboop::stage0 {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r'))
    ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r'))
    --e;
  return std::string(s.substr(b, e - b));
}

} // namespace

const std::vector<std::string>& stage0_keys() {
  static const std::vector<std::string> keys = {
      "ostree", "stage0.fb", "stage0.serial", "stage0.yeetfstab", "stage0.rootfs",
      "smoo.acm", "smoo.break", "smoo.queue_count", "smoo.queue_depth", "smoo.queue_size",
      "smoo.max_io_bytes", "smoo.max_io", "smoo.vendor", "smoo.vendor_id", "smoo.product",
      "smoo.product_id", "smoo.mimic_fastboot", "smoo.log", "firstboot.locale",
      "firstboot.locale-messages", "firstboot.keymap", "firstboot.timezone",
      // fastboop PID1 extensions (issue 5): local root and failure policy.
      "stage0.root_device", "stage0.root_device_timeout", "stage0.on_failure", "stage0.init",
      "stage0.udc"};
  return keys;
}

bool is_stage0_key(std::string_view key) {
  const auto& keys = stage0_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

SplitCmdline split_extra_cmdline(std::string_view cmdline) {
  SplitCmdline out;
  static const std::vector<std::string_view> credential_keys = {
      "firstboot.locale", "firstboot.locale-messages", "firstboot.keymap", "firstboot.timezone"};
  static const std::vector<std::string_view> flag_keys = {"stage0.fb", "stage0.yeetfstab", "smoo.acm",
                                                          "smoo.mimic_fastboot"};
  std::size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && std::isspace(static_cast<unsigned char>(cmdline[i])))
      ++i;
    std::size_t j = i;
    while (j < cmdline.size() && !std::isspace(static_cast<unsigned char>(cmdline[j])))
      ++j;
    if (j == i)
      break;
    std::string_view token = cmdline.substr(i, j - i);
    i = j;
    std::size_t eq = token.find('=');
    if (eq != std::string_view::npos && is_stage0_key(token.substr(0, eq))) {
      std::string value = trim(token.substr(eq + 1));
      if (!value.empty())
        out.settings[std::string(token.substr(0, eq))] = value;
      continue;
    }
    constexpr std::string_view cred = "systemd.set_credential=";
    if (token.substr(0, cred.size()) == cred) {
      std::string_view rest = token.substr(cred.size());
      std::size_t colon = rest.find(':');
      if (colon != std::string_view::npos &&
          std::find(credential_keys.begin(), credential_keys.end(), rest.substr(0, colon)) !=
              credential_keys.end()) {
        std::string value = trim(rest.substr(colon + 1));
        if (!value.empty())
          out.settings[std::string(rest.substr(0, colon))] = value;
        continue;
      }
    }
    if (std::find(flag_keys.begin(), flag_keys.end(), token) != flag_keys.end()) {
      out.settings.insert_or_assign(std::string(token), std::string(1, '1'));
      continue;
    }
    out.passthrough.emplace_back(token);
  }
  return out;
}

std::string setting_file_contents(std::string_view value) { return std::string(value) + "\n"; }

} // namespace fastboop::stage0

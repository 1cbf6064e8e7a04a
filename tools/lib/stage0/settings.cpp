#include "stage0/settings.hpp"
#include "common/text.hpp"

#include "stage0_settings/stage0_settings.hpp"

#include <algorithm>
#include <cctype>

namespace fastboop::stage0 {

namespace {

} // namespace

bool is_stage0_key(std::string_view key) { return is_known_key(key); }

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
      std::string value(trim(token.substr(eq + 1)));
      if (!value.empty())
        out.settings[std::string(token.substr(0, eq))] = value;
      else
        out.warnings.push_back("cmdline token '" + std::string(token) + "' has an empty value; ignored");
      continue;
    }
    constexpr std::string_view cred = "systemd.set_credential=";
    if (token.substr(0, cred.size()) == cred) {
      std::string_view rest = token.substr(cred.size());
      std::size_t colon = rest.find(':');
      if (colon != std::string_view::npos &&
          std::find(credential_keys.begin(), credential_keys.end(), rest.substr(0, colon)) !=
              credential_keys.end()) {
        std::string value(trim(rest.substr(colon + 1)));
        if (!value.empty())
          out.settings[std::string(rest.substr(0, colon))] = value;
        else
          out.warnings.push_back("cmdline token '" + std::string(token) + "' has an empty value; ignored");
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

Settings merge_settings(const SettingsLayers& layers) {
  Settings merged = layers.generated;
  for (const Settings* layer : {&layers.tokens, &layers.options})
    for (const auto& [k, v] : *layer)
      merged[k] = v;
  merged["stage0.rootfs"] = layers.rootfs;
  return merged;
}

} // namespace fastboop::stage0

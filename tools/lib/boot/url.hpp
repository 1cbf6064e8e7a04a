// `fastboop://boot?source=…` links (the desktop entry's URL handler, so a
// distro's download page can offer "boot this on my phone"). A link comes
// from any web page, so it is parsed strictly and can only say what a user
// could choose on purpose: an http(s) SOURCE, its SHA-512, a Device Profile
// and a Boot Profile id. The result is an argument vector for `fastboop boot`
// (values attached with '=', SOURCE after "--"), run without a shell.
#pragma once

#include "common/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::boot {

struct BootLink {
  std::string source;                        // http:// or https:// only
  std::optional<std::string> sha512;         // 128 lowercase hex
  std::optional<std::string> device_profile; // profile id
  std::optional<std::string> boot_profile;   // profile id
};

// fastboop://boot?source=<percent-encoded
// URL>[&sha512=<hex>][&device-profile=<id>][&boot-profile=<id>] Every key at most once, nothing
// else (no path, fragment, user or port, no unknown key, no empty value, no control characters or
// blanks, no value starting with '-'); an error names what was refused.
Result<BootLink> parse_boot_link(std::string_view url);

// {"boot", "--expect-sha512=…", "--device-profile=…", "--boot-profile=…", "--", SOURCE}
std::vector<std::string> boot_arguments(const BootLink& link);

} // namespace fastboop::boot

#include "boot/url.hpp"
#include "common/hash.hpp"

#include <algorithm>

namespace fastboop::boot {

namespace {

constexpr std::string_view kPrefix = "fastboop://boot?";
constexpr std::size_t kMaxLinkBytes = 8192;

Error refuse(const std::string& why) {
  return Error("fastboop:// link refused: " + why, ErrorKind::Usage);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view text, std::string_view key) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size())
        return refuse("'" + std::string(key) + "' has a truncated %-escape");
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0)
        return refuse("'" + std::string(key) + "' has an invalid %-escape");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f)
      return refuse("'" + std::string(key) + "' holds a blank or control character");
    out += c;
  }
  if (out.empty())
    return refuse("'" + std::string(key) + "' is empty");
  if (out.front() == '-')
    return refuse("'" + std::string(key) + "' starts with '-'");
  return out;
}

bool is_profile_id(std::string_view v) {
  return !v.empty() && v.size() <= 64 &&
         ((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= '0' && v[0] <= '9')) &&
         std::all_of(v.begin(), v.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.';
         });
}

// http(s)://host/path…: a remote image only. The pipeline's own parser reads
// it later; here only what a link must never carry is refused.
Result<void> check_source(const std::string& s) {
  const bool http = s.rfind("http://", 0) == 0, https = s.rfind("https://", 0) == 0;
  if (!http && !https)
    return refuse(
        "source must be an http:// or https:// URL (a link cannot name files on this computer)");
  const std::string_view rest = std::string_view(s).substr(https ? 8 : 7);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty())
    return refuse("source has no host");
  if (authority.find('@') != std::string_view::npos)
    return refuse("source carries user information");
  if (s.find('\\') != std::string::npos)
    return refuse("source holds a backslash");
  return ok();
}

} // namespace

Result<BootLink> parse_boot_link(std::string_view url) {
  if (url.size() > kMaxLinkBytes)
    return refuse("longer than " + std::to_string(kMaxLinkBytes) + " bytes");
  if (url.substr(0, kPrefix.size()) != kPrefix)
    return refuse("expected fastboop://boot?source=…");
  const std::string_view query = url.substr(kPrefix.size());
  if (query.find('#') != std::string_view::npos)
    return refuse("fragments (#) are not accepted");
  BootLink link;
  bool have_source = false;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos)
      return refuse("'" + std::string(pair.substr(0, 32)) + "' is not key=value");
    const std::string key(pair.substr(0, eq));
    const std::string value = TRY(percent_decode(pair.substr(eq + 1), key));
    auto once = [&](bool already) -> Result<void> {
      if (already)
        return refuse("'" + key + "' is given twice");
      return ok();
    };
    if (key == "source") {
      TRY(once(have_source));
      TRY(check_source(value));
      link.source = value;
      have_source = true;
    } else if (key == "sha512") {
      TRY(once(link.sha512.has_value()));
      if (!Sha512Digest::is_hex(value))
        return refuse("sha512 must be 128 lowercase hex digits");
      link.sha512 = value;
    } else if (key == "device-profile" || key == "boot-profile") {
      auto& slot = key == "device-profile" ? link.device_profile : link.boot_profile;
      TRY(once(slot.has_value()));
      if (!is_profile_id(value))
        return refuse("'" + key +
                      "' is not a profile id (lowercase letters, digits, '-', '_', '.')");
      slot = value;
    } else {
      return refuse("unknown key '" + key.substr(0, 32) +
                    "' (accepted: source, sha512, device-profile, boot-profile)");
    }
  }
  if (!have_source)
    return refuse("no source=");
  return link;
}

std::vector<std::string> boot_arguments(const BootLink& link) {
  std::vector<std::string> args{"boot"};
  if (link.sha512)
    args.push_back("--expect-sha512=" + *link.sha512);
  if (link.device_profile)
    args.push_back("--device-profile=" + *link.device_profile);
  if (link.boot_profile)
    args.push_back("--boot-profile=" + *link.boot_profile);
  args.push_back("--");
  args.push_back(link.source);
  return args;
}

} // namespace fastboop::boot

// libFuzzer: fastboop:// links from arbitrary bytes. Whatever a page links to,
// an accepted link yields only `boot`, --name=value options and one http(s)
// SOURCE after "--", and nothing crashes.
#include "boot/url.hpp"

#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::boot;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto link = parse_boot_link(text);
  if (!link)
    return 0;
  const auto args = boot_arguments(*link);
  if (args.size() < 3 || args.front() != "boot" || args[args.size() - 2] != "--")
    std::abort();
  for (std::size_t i = 1; i + 2 < args.size(); ++i)
    if (args[i].rfind("--", 0) != 0 || args[i].find('=') == std::string::npos)
      std::abort();
  const std::string& source = args.back();
  if (source.rfind("http://", 0) != 0 && source.rfind("https://", 0) != 0)
    std::abort();
  for (const auto& a : args)
    for (char c : a)
      if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
        std::abort();
  return 0;
}

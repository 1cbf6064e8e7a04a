// Drafting a Device Profile for a new device from what a porter has: the live
// device in fastboot mode (USB ids and getvar answers, read-only), a stock
// boot image (what `fastboop-bootimg analyze` reads) and a postmarketOS
// `deviceinfo` file. Every field of the draft says where it came from; a
// conflict between sources is shown, never resolved silently; fields that
// cannot be mapped are listed instead of guessed.
#pragma once

#include "common/result.hpp"
#include "profiles/device_profile.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::draft {

// getvar answers in the order the device gave them.
struct GetvarAnswers {
  std::vector<std::pair<std::string, std::string>> vars;
  const std::string* find(std::string_view name) const;
};

// The INFO lines of `getvar:all`, as bootloaders print them: "name: value"
// (LK, U-Boot), "name:value" (Pixel ABL), names with colons
// ("partition-type:boot_a: raw"), an AOSP "(bootloader) " prefix when the lines
// come from a client's output, and continuation lines of long values. Lines
// that are no variable are skipped.
GetvarAnswers parse_getvar_all(const std::vector<std::string>& info_lines);

// The variables a draft asks for one by one when `getvar:all` gives nothing
// (not every bootloader implements it).
const std::vector<std::string>& well_known_variables();

// A postmarketOS deviceinfo file: `deviceinfo_<key>="value"` lines.
struct Deviceinfo {
  std::string origin;
  std::map<std::string, std::string> values; // key without the deviceinfo_ prefix
};
Result<Deviceinfo> parse_deviceinfo(std::string_view text, std::string_view origin);

struct LiveDevice {
  std::string location; // usb:1-2, tcp:…
  std::optional<profiles::UsbMatch> usb;
  GetvarAnswers answers;
};

enum class SerialProbes { Never, Allow };

struct DraftInputs {
  std::optional<std::string> id; // --id; else from deviceinfo's codename or the product
  std::optional<LiveDevice> device;
  // `fastboop-bootimg analyze` output for the stock image and its name.
  std::optional<std::pair<std::string, std::string>> stock_skeleton;
  std::optional<Deviceinfo> deviceinfo;
  std::vector<profiles::DeviceProfile> others; // built-ins and the search path
  SerialProbes serial = SerialProbes::Never;
};

struct Draft {
  profiles::DeviceProfile profile;
  std::string yaml;                   // annotated; parses back to `profile`
  std::vector<std::string> conflicts; // sources that disagree (shown in the YAML too)
  std::vector<std::string> unmapped;  // deviceinfo fields with no DevPro meaning
  std::vector<std::string> ambiguous_with; // profiles this draft cannot be told apart from
};

Result<Draft> draft_device_profile(const DraftInputs& inputs);

// What `fastboop-profile draft` is given; draft_from_sources() reads each
// source (the device with getvar only) and drafts from them.
enum class ReadDevice { No, Yes };
struct DraftRequest {
  std::optional<std::string> id;
  ReadDevice read_device = ReadDevice::No;
  std::optional<std::string> device; // -s selector; default: the only fastboot USB device
  // The bootloader's USB ids when the device is reached over the network
  // (tcp:/udp:), where the transport has none.
  std::optional<profiles::UsbMatch> usb_ids;
  std::optional<std::filesystem::path> boot_image;
  std::optional<std::filesystem::path> deviceinfo;
  SerialProbes serial = SerialProbes::Never;
};
Result<Draft> draft_from_sources(const DraftRequest& request);

} // namespace fastboop::draft

// Reading a draft's sources: the live device through the fastboot driver
// (getvar only), a stock image through `analyze`, a deviceinfo file, and the
// profiles it must not be confused with.
#include "bootimg/commands.hpp"
#include "common/file_io.hpp"
#include "draft/draft.hpp"
#include "fastboot/push.hpp"
#include "profiles/profiles.hpp"

namespace fastboop::draft {

Result<Draft> draft_from_sources(const DraftRequest& request) {
  DraftInputs in;
  in.id = request.id;
  in.serial = request.serial;
  if (request.deviceinfo) {
    auto text = TRY(read_text_file(*request.deviceinfo, std::uint64_t{1} << 20));
    in.deviceinfo = TRY(parse_deviceinfo(text, request.deviceinfo->string()));
  }
  if (request.boot_image) {
    auto skeleton = TRY_CTX(bootimg::run_analyze(request.boot_image->string()), request.boot_image->string());
    in.stock_skeleton = std::make_pair(skeleton, request.boot_image->filename().string());
  }
  if (request.read_device == ReadDevice::Yes) {
    std::optional<fastboot::DeviceSpec> target;
    if (request.device)
      target = TRY(fastboot::parse_device_spec(*request.device));
    fastboot::PushSettings settings;
    auto vars = TRY(fastboot::read_device_variables(target, well_known_variables(), settings));
    LiveDevice live;
    live.location = vars.location;
    if (vars.usb)
      live.usb = profiles::UsbMatch{vars.usb->vid, vars.usb->pid};
    if (request.usb_ids) {
      if (live.usb && !(*live.usb == *request.usb_ids))
        return Error("--usb-id does not match the USB ids of " + vars.location, ErrorKind::Usage);
      live.usb = request.usb_ids;
    }
    live.answers = parse_getvar_all(vars.all_lines);
    for (const auto& [name, answer] : vars.singles)
      if (!fastboot::getvar_is_missing(answer))
        live.answers.vars.emplace_back(name, *answer);
    in.device = std::move(live);
  }
  for (auto& loaded : TRY(profiles::load_device_profile_pool()))
    in.others.push_back(std::move(loaded.profile));
  return draft_device_profile(in);
}

} // namespace fastboop::draft

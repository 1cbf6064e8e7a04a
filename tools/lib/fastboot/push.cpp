#include "fastboot/push.hpp"

#include "common/file_io.hpp"
#include "common/log.hpp"
#include "common/mapped_file.hpp"
#include "common/progress.hpp"
#include "fastboot/sidecar.hpp"
#include "profiles/profiles.hpp"

#include <algorithm>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fastboop::fastboot {

namespace {

using Clock = std::chrono::steady_clock;

std::string hex4(std::uint16_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "%04x", v);
  return b;
}

std::string usb_id(const Candidate& c) {
  return c.usb ? hex4(c.usb->vid) + ":" + hex4(c.usb->pid) : std::string("-");
}

// USB is optional: a host without usbfs still reaches network devices.
std::shared_ptr<UsbContext> try_usb_context() {
  auto ctx = UsbContext::create();
  if (!ctx) {
    log::debug("USB unavailable: " + ctx.error().message());
    return nullptr;
  }
  return *ctx;
}

// Re-enumerate USB until `accept` keeps at least one candidate, waiting for
// arrivals (hotplug or polling) while the settings allow it.
// `ctx` is replaced by a fresh context after each wait (see below); callers
// open the device through the context they get back.
Result<std::vector<Candidate>> find_usb(std::shared_ptr<UsbContext>& ctx, const PushSettings& settings,
                                        const std::function<bool(const Candidate&)>& accept,
                                        std::string_view what) {
  if (!ctx)
    return Error("USB is not available on this host (libusb could not initialise); use -s tcp:… or -s udp:…",
                 ErrorKind::Io);
  std::optional<UsbArrivalWaiter> waiter;
  const bool forever = settings.timeout.count() == 0;
  const auto deadline = Clock::now() + settings.timeout;
  bool announced = false;
  for (;;) {
    auto all = TRY(usb_candidates(*ctx));
    std::vector<Candidate> kept;
    std::copy_if(all.begin(), all.end(), std::back_inserter(kept), accept);
    if (!kept.empty() || settings.wait == WaitMode::NoWait)
      return kept;
    if (!forever && Clock::now() >= deadline)
      return Error("timed out after " + std::to_string(settings.timeout.count()) + " s waiting for " +
                       std::string(what),
                   ErrorKind::Device);
    if (!announced) {
      log::info("waiting for " + std::string(what) + "…");
      announced = true;
      waiter.emplace(ctx);
    }
    auto slice = std::chrono::milliseconds(1000);
    if (!forever)
      slice = std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) +
                                  std::chrono::milliseconds(1));
    waiter->wait(slice);
    // libusb keeps its device list up to date from hotplug events only; with
    // its udev backend and no udevd running (containers, initramfs, the
    // dummy_hcd QEMU test) no event ever comes and a device plugged in later
    // never shows up. A fresh context enumerates sysfs again.
    if (auto fresh = UsbContext::create())
      ctx = std::move(*fresh);
  }
}

// Network devices cannot announce themselves: with --wait, keep trying to
// connect (a bootloader may still be starting) until the timeout.
Result<std::unique_ptr<Transport>> open_waiting(const Candidate& candidate, const std::shared_ptr<UsbContext>& ctx,
                                                const PushSettings& settings) {
  const bool forever = settings.timeout.count() == 0;
  const auto deadline = Clock::now() + settings.timeout;
  bool announced = false;
  for (;;) {
    auto transport = open_candidate(candidate, ctx, settings.connect);
    if (transport || settings.wait == WaitMode::NoWait || !candidate.is_network() ||
        transport.error().kind() != ErrorKind::Device || (!forever && Clock::now() >= deadline))
      return transport;
    if (!announced) {
      log::info("waiting for " + candidate.location + " (" + transport.error().message() + ")…");
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::string device_serial(Driver& driver, const Candidate& candidate) {
  if (!candidate.serial.empty())
    return candidate.serial;
  auto answer = driver.getvar_cached("serialno");
  if (answer && !getvar_is_missing(*answer))
    return **answer;
  return "";
}

void print_message(MessageKind kind, std::string_view text) {
  // INFO as AOSP prints it; TEXT is raw device text. Both are chatter: -q
  // (errors only) silences them; a FAIL still arrives as the error.
  if (!log::enabled(log::Level::Info))
    return;
  std::fprintf(stderr, "%s%.*s\n", kind == MessageKind::Info ? "(bootloader) " : "", static_cast<int>(text.size()),
               text.data());
}

// The sidecar's size+sha512 check of the image. Hashing a large image takes
// longer than connecting and probing, so it runs on a worker thread while the
// device is found and probed (getvar only); wait() is the gate every download
// byte has to pass.
class DigestCheck {
public:
  DigestCheck(const std::optional<BootImageSidecar>& sidecar, const MappedFile& image,
              const std::filesystem::path& sidecar_path) {
    if (!sidecar || !sidecar->image) {
      m_result = ok();
      return;
    }
    m_checks = true;
    if (sidecar->image->size != image.size()) {
      // No need to wait for the digest to know the answer.
      m_result = verify_sidecar_image(*sidecar, image.bytes(), image.path(), sidecar_path);
      return;
    }
    m_pending = std::async(std::launch::async, [&sidecar = *sidecar, bytes = image.bytes(), image_path = image.path(),
                                                sidecar_path] {
      return verify_sidecar_image(sidecar, bytes, image_path, sidecar_path);
    });
  }
  DigestCheck(const DigestCheck&) = delete;
  DigestCheck& operator=(const DigestCheck&) = delete;

  // True when the sidecar described the image and the check ran.
  bool checked() const { return m_checks; }

  // Blocks until the check is done; later calls return the same result.
  Result<void> wait() {
    if (!m_result)
      m_result = m_pending.get();
    return *m_result;
  }

private:
  std::future<Result<void>> m_pending;
  std::optional<Result<void>> m_result;
  bool m_checks = false;
};

// Steps 2-7 of boot_on_device: find, prove, download, boot, hand off.
Result<BootReport> prove_and_boot(const BootRequest& request, const PushSettings& settings,
                                  const std::optional<profiles::DeviceProfile>& profile,
                                  const MappedFile& image, DigestCheck& digest);

Result<void> run_handoff(const std::string& command, const std::string& serial, const std::string& location,
                         const std::string& profile_id) {
  log::info("running hand-off: " + command);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0)
    return Error("--then: cannot fork", ErrorKind::Io);
  if (pid == 0) {
    ::setenv("FASTBOOP_SERIAL", serial.c_str(), 1);
    ::setenv("FASTBOOP_DEVICE", location.c_str(), 1);
    ::setenv("FASTBOOP_DEVICE_PROFILE", profile_id.c_str(), 1);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return ok();
  return Error("--then: hand-off command '" + command + "' " +
                   (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : std::string("was killed by a signal")),
               ErrorKind::Invalid);
}

} // namespace

std::vector<std::string> DetectedDevice::matched_ids() const {
  std::vector<std::string> ids;
  for (auto& v : verdicts)
    if (v.passed)
      ids.push_back(v.profile_id);
  return ids;
}

Result<std::vector<DetectedDevice>> detect_devices(const std::vector<DeviceSpec>& targets,
                                                   const std::vector<profiles::DeviceProfile>& pool,
                                                   const PushSettings& settings) {
  std::vector<Candidate> candidates;
  std::vector<DeviceSpec> network;
  std::vector<DeviceSpec> usb_selectors;
  for (auto& t : targets)
    (t.is_network() ? network : usb_selectors).push_back(t);
  for (auto& n : network)
    candidates.push_back(network_candidate(n));
  auto ctx = try_usb_context();
  if (ctx && (network.empty() || !usb_selectors.empty())) {
    // Without network targets, --wait waits for a USB device to appear.
    PushSettings usb_settings = settings;
    if (!network.empty())
      usb_settings.wait = WaitMode::NoWait;
    auto usb = TRY(find_usb(ctx, usb_settings, [&](const Candidate& c) {
      return usb_selectors.empty() ||
             std::any_of(usb_selectors.begin(), usb_selectors.end(), [&](auto& s) { return candidate_matches(c, s); });
    }, "a fastboot USB device"));
    candidates.insert(candidates.end(), usb.begin(), usb.end());
  }
  std::vector<DetectedDevice> out;
  for (auto& c : candidates) {
    DetectedDevice d;
    d.candidate = c;
    d.serial = c.serial;
    auto transport = open_candidate(c, ctx, settings.connect);
    if (!transport) {
      d.error = transport.error().message();
      out.push_back(std::move(d));
      continue;
    }
    Driver driver(**transport, settings.driver);
    auto verdicts = match_profiles(driver, c, pool);
    if (!verdicts)
      d.error = verdicts.error().message();
    else
      d.verdicts = std::move(*verdicts);
    d.serial = device_serial(driver, c);
    out.push_back(std::move(d));
  }
  return out;
}

std::string format_detect_text(const std::vector<DetectedDevice>& devices) {
  std::string out;
  for (auto& d : devices) {
    out += d.candidate.location + " serial=" + (d.serial.empty() ? "?" : d.serial) + " id=" + usb_id(d.candidate);
    if (!d.error.empty()) {
      out += " error=\"" + d.error + "\"\n";
      continue;
    }
    auto ids = d.matched_ids();
    out += " profiles=";
    if (ids.empty())
      out += "none";
    for (std::size_t i = 0; i < ids.size(); ++i)
      out += (i ? "," : "") + ids[i];
    if (ids.size() > 1)
      out += " AMBIGUOUS (pass --device-profile to choose)";
    out += "\n";
    for (auto& v : d.verdicts)
      out += "  " + v.profile_id + " (" + v.display_name + "): " + (v.passed ? "match" : v.detail) + "\n";
  }
  return out;
}

std::string format_detect_json(const std::vector<DetectedDevice>& devices) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (auto& d : devices) {
    nlohmann::ordered_json j;
    j["location"] = d.candidate.location;
    j["transport"] = d.candidate.network ? (d.candidate.network->kind == DeviceSpec::Kind::Tcp ? "tcp" : "udp") : "usb";
    j["serial"] = d.serial;
    if (d.candidate.usb) {
      j["vid"] = hex4(d.candidate.usb->vid);
      j["pid"] = hex4(d.candidate.usb->pid);
    }
    j["profiles"] = d.matched_ids();
    j["ambiguous"] = d.matched_ids().size() > 1;
    auto rejected = nlohmann::ordered_json::array();
    for (auto& v : d.verdicts)
      if (!v.passed)
        rejected.push_back({{"id", v.profile_id}, {"reason", v.detail}});
    j["rejected"] = rejected;
    if (!d.error.empty())
      j["error"] = d.error;
    list.push_back(std::move(j));
  }
  return list.dump(2) + "\n";
}

std::string format_getvar_json(std::string_view name, std::string_view value) {
  nlohmann::ordered_json j;
  j["name"] = name;
  j["value"] = value;
  return j.dump(2) + "\n";
}

Result<std::string> getvar_on_device(const std::optional<DeviceSpec>& target, std::string_view name,
                                     const PushSettings& settings) {
  Candidate candidate;
  std::shared_ptr<UsbContext> ctx;
  if (target && target->is_network()) {
    candidate = network_candidate(*target);
  } else {
    ctx = try_usb_context();
    auto found = TRY(find_usb(ctx, settings, [&](const Candidate& c) { return !target || candidate_matches(c, *target); },
                              target ? "fastboot device " + target->text() : std::string("a fastboot USB device")));
    if (found.empty())
      return Error(target ? "no fastboot device matches '" + target->text() + "'"
                          : std::string("no fastboot device found"),
                   ErrorKind::Device);
    if (found.size() > 1 && !target) {
      std::string list;
      for (auto& c : found)
        list += " " + c.location;
      return Error("several fastboot devices are attached (" + list.substr(1) + "); choose one with -s",
                   ErrorKind::Usage);
    }
    candidate = found.front();
  }
  auto transport = TRY(open_waiting(candidate, ctx, settings));
  Driver driver(*transport, settings.driver);
  driver.set_message_handler(print_message);
  return driver.getvar(name);
}

std::string format_boot_report_json(const BootReport& r) {
  nlohmann::ordered_json j;
  j["device"] = r.location;
  j["serial"] = r.serial;
  j["device_profile"] =
      r.profile_id ? nlohmann::ordered_json(*r.profile_id) : nlohmann::ordered_json(nullptr);
  j["profile_matched"] = r.profile_matched;
  j["forced"] = r.forced;
  j["image"] = r.image.string();
  j["image_bytes"] = r.image_bytes;
  j["image_checked_against_sidecar"] = r.image_checked;
  j["max_download_size"] = r.max_download_size ? nlohmann::ordered_json(*r.max_download_size)
                                               : nlohmann::ordered_json(nullptr);
  j["check_only"] = r.checked_only;
  j["booted"] = r.booted;
  j["sent"] = r.sent;
  return j.dump(2) + "\n";
}

Result<BootReport> boot_on_device(const BootRequest& request, const PushSettings& settings) {
  // 1. Which profile the image was built for.
  const auto sidecar_path = sidecar_path_for(request.image);
  auto sidecar = TRY(load_sidecar(sidecar_path));
  std::optional<profiles::DeviceProfile> profile;
  if (sidecar) {
    profile = sidecar->profile;
    if (request.device_profile_id && *request.device_profile_id != profile->id) {
      if (request.force == ForceDevice::No)
        return Error(sidecar_path.string() + " says the image was built for '" + profile->id +
                         "', not --device-profile '" + *request.device_profile_id +
                         "'; rebuild the image or pass --force-device",
                     ErrorKind::Usage);
      log::warn("--force-device: image built for '" + profile->id + "', checking against '" +
                *request.device_profile_id + "' instead");
      profile = TRY(profiles::find_device_profile(*request.device_profile_id)).profile;
    }
  } else if (request.device_profile_id) {
    profile = TRY(profiles::find_device_profile(*request.device_profile_id)).profile;
  } else if (request.force == ForceDevice::No) {
    return Error("no " + sidecar_path.string() +
                     " beside the image, so the target device is unknown; pass --device-profile ID "
                     "(or --force-device to skip the device check)",
                 ErrorKind::Usage);
  }
  const auto image = TRY(MappedFile::open(request.image));
  if (image.size() == 0)
    return Error(request.image.string() + ": the image is empty", ErrorKind::Invalid);
  if (sidecar && !sidecar->image)
    log::warn(sidecar_path.string() + " has no image size/sha512, so it cannot be checked against " +
              request.image.string());
  // The sidecar must be this image's before any download byte goes out; until
  // the digest is known only getvar may reach the device.
  DigestCheck digest(sidecar, image, sidecar_path);
  if (settings.wait == WaitMode::Wait)
    TRY(digest.wait()); // no point waiting for a device to push a stale image to
  auto pushed = prove_and_boot(request, settings, profile, image, digest);
  // A stale sidecar explains whatever went wrong with the device it describes.
  if (!pushed)
    TRY(digest.wait());
  return pushed;
}

namespace {

Result<BootReport> prove_and_boot(const BootRequest& request, const PushSettings& settings,
                                  const std::optional<profiles::DeviceProfile>& profile,
                                  const MappedFile& image, DigestCheck& digest) {
  BootReport report;
  report.image = request.image;
  report.image_bytes = image.size();
  if (profile)
    report.profile_id = profile->id;
  // 2. Which device.
  Candidate candidate;
  std::shared_ptr<UsbContext> ctx;
  if (request.target && request.target->is_network()) {
    candidate = network_candidate(*request.target);
  } else {
    ctx = try_usb_context();
    const std::string what = request.target ? "fastboot device " + request.target->text()
                             : profile      ? "a fastboot device matching profile '" + profile->id + "'"
                                            : std::string("a fastboot device");
    auto found = TRY(find_usb(ctx, settings, [&](const Candidate& c) {
      if (request.target)
        return candidate_matches(c, *request.target);
      return !profile || profile->match.empty() || usb_prefilter_passes(*profile, c);
    }, what));
    if (found.empty())
      return Error("no " + what.substr(what.find(' ') + 1) + " is attached (use --wait to wait for one)",
                   ErrorKind::Device);
    if (found.size() > 1) {
      std::string list;
      for (auto& c : found)
        list += " " + c.location + (c.serial.empty() ? "" : " (serial " + c.serial + ")");
      return Error("several candidate devices:" + list + "; choose one with -s", ErrorKind::Usage);
    }
    candidate = found.front();
  }
  if (profile && !candidate.is_network() && !usb_prefilter_passes(*profile, candidate)) {
    const std::string why = candidate.location + " (" + usb_id(candidate) + ") is not a USB id of profile '" +
                            profile->id + "'";
    if (request.force == ForceDevice::No)
      return Error("refusing " + why + "; pass --force-device to override", ErrorKind::Invalid);
    log::warn("--force-device: " + why + "; continuing anyway");
    report.forced = true;
  }
  report.location = candidate.location;

  // 3. Prove it is the right device: getvar only.
  log::info("opening " + candidate.location);
  auto transport = TRY(open_waiting(candidate, ctx, settings));
  Driver driver(*transport, settings.driver);
  driver.set_message_handler(print_message);
  if (profile) {
    auto verdict = TRY(evaluate_profile(driver, *profile));
    if (!verdict.passed) {
      if (request.force == ForceDevice::No)
        return Error("refusing " + candidate.location + ": it is not a '" + profile->id + "' device (" +
                         verdict.detail + "); nothing but getvar was sent. Pass --force-device to override",
                     ErrorKind::Invalid);
      log::warn("!!! --force-device: " + candidate.location + " failed the '" + profile->id + "' probes (" +
                verdict.detail + "); booting anyway !!!");
      report.forced = true;
    } else {
      log::info(candidate.location + " matches profile '" + profile->id + "'");
      report.profile_matched = true;
    }
  } else {
    log::warn("!!! --force-device: no device profile; the device is not checked !!!");
    report.forced = true;
  }
  const std::string serial = device_serial(driver, candidate);
  report.serial = serial;

  // 4. Size check (download() checks again before any byte goes out).
  auto limit = TRY(driver.max_download_size());
  report.max_download_size = limit;
  if (limit && image.size() > *limit)
    return Error(request.image.string() + " is " + std::to_string(image.size()) + " bytes but " +
                     candidate.location + " accepts at most " + std::to_string(*limit) + " bytes (max-download-size)",
                 ErrorKind::Invalid);
  // 5. Nothing but getvar was sent so far; from here on the image must be
  // the one its sidecar describes.
  TRY(digest.wait());
  TRY(image.check_unchanged());
  report.image_checked = digest.checked();
  if (request.check == CheckOnly::Yes) {
    report.checked_only = true;
    report.sent = driver.sent_commands();
    return report;
  }

  // 6. Download and boot.
  log::info("sending " + request.image.filename().string() + " (" + std::to_string(image.size()) + " bytes)");
  ProgressLine progress("sent", image.size());
  TRY(driver.download(image.bytes(),
                      [&](std::uint64_t sent, std::uint64_t) { progress.update(sent); }));
  // The mapping follows the file: a write during the transfer sent other bytes.
  TRY(image.check_unchanged());
  log::info("booting");
  TRY(driver.boot());
  log::info("boot OKAY");
  report.booted = true;
  report.sent = driver.sent_commands();

  // 7. Hand-off.
  if (request.then_command)
    TRY(run_handoff(*request.then_command, serial, candidate.location, profile ? profile->id : ""));
  return report;
}

} // namespace

std::string generate_udev_rules(const std::vector<profiles::DeviceProfile>& profiles) {
  std::set<std::pair<std::uint16_t, std::uint16_t>> ids;
  for (auto& p : profiles)
    for (auto& m : p.match)
      ids.emplace(m.vid, m.pid);
  std::string out = "# fastboop: give the logged-in user access to fastboot devices (generated by\n"
                    "# fastboop-push udev-rules from the built-in device profiles).\n"
                    "# Any device exposing a fastboot interface (class ff, subclass 42, protocol 03):\n"
                    "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ENV{ID_USB_INTERFACES}==\"*:ff4203:*\", "
                    "TAG+=\"uaccess\"\n"
                    "# Devices of the built-in profiles:\n";
  for (auto& [vid, pid] : ids)
    out += udev_rule_for(vid, pid) + "\n";
  return out;
}

} // namespace fastboop::fastboot

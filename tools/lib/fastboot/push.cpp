#include "fastboot/push.hpp"
#include "common/text.hpp"

#include "bootimg/bootimg.hpp"
#include "bootimg/devpro.hpp"
#include "common/file_io.hpp"
#include "common/log.hpp"
#include "common/mapped_file.hpp"
#include "common/progress.hpp"
#include "fastboot/push_console.hpp"
#include "fastboot/sidecar.hpp"
#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"
#include "smoo/rootfs.hpp"

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

std::string usb_id(const Candidate& c) {
  return c.usb ? format_hex(c.usb->vid, 4, HexPrefix::None) + ":" + format_hex(c.usb->pid, 4, HexPrefix::None) : std::string("-");
}

// Hands one event to the request's sink (without one it is dropped).
void emit(const PushEventSink& sink, PushEvent::Kind kind, std::string text = {},
          std::uint64_t done = 0, std::uint64_t total = 0) {
  if (sink)
    sink(PushEvent{kind, std::move(text), done, total});
}

// How find_usb and open_waiting say they wait: boot_on_device as an event,
// the other flows on the log.
using Announce = std::function<void(const std::string&)>;
void announce_on_log(const std::string& text) {
  log::info(text);
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
Result<std::vector<Candidate>> find_usb(std::shared_ptr<UsbContext>& ctx,
                                        const PushSettings& settings,
                                        const std::function<bool(const Candidate&)>& accept,
                                        std::string_view what,
                                        const Announce& announce = announce_on_log) {
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
      announce("waiting for " + std::string(what) + "…");
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
Result<std::unique_ptr<Transport>> open_waiting(const Candidate& candidate,
                                                const std::shared_ptr<UsbContext>& ctx,
                                                const PushSettings& settings,
                                                const Announce& announce = announce_on_log) {
  const bool forever = settings.timeout.count() == 0;
  const auto deadline = Clock::now() + settings.timeout;
  bool announced = false;
  for (;;) {
    auto transport = open_candidate(candidate, ctx, settings.connect);
    if (transport || settings.wait == WaitMode::NoWait || !candidate.is_network() ||
        transport.error().kind() != ErrorKind::Device || (!forever && Clock::now() >= deadline))
      return transport;
    if (!announced) {
      announce("waiting for " + candidate.location + " (" + transport.error().message() + ")…");
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

// The sidecar's size+sha512 check of the image. It runs on a worker thread
// from the start, while the device is found, probed and sent the image:
// `download` only fills the bootloader's RAM, so only `boot` waits for the
// digest (issue 16 item 19). A size mismatch is known at once and stops
// everything before the first command.
class DigestCheck {
public:
  DigestCheck(const std::optional<BootImageSidecar>& sidecar, const MappedFile& image,
              const std::filesystem::path& sidecar_path) {
    if (!sidecar || !sidecar->image) {
      m_result = ok();
      return;
    }
    m_checks = true;
    m_sha512 = sidecar->image->sha512;
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
  // The sidecar's digest (once wait() succeeded, the image's); nullopt
  // without one.
  std::optional<std::string> sha512() const { return m_sha512; }

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
  std::optional<std::string> m_sha512;
};

// Before any command (issue 16 item 2): the bytes must be an Android boot
// image whose header and sections fit inside the file, and agree with the
// device profile's android_bootimg (header version, page size, limits) by the
// packer's own rules. --force-device never skips the parse; it only turns a
// profile disagreement into a loud warning. The profile's constraints come
// from the sidecar, else (an older sidecar, or --device-profile) the pool.
Result<void> check_image(const BootRequest& request, const std::optional<BootImageSidecar>& sidecar,
                         const std::filesystem::path& sidecar_path,
                         std::optional<profiles::DeviceProfile>& profile, const MappedFile& image) {
  const std::string name = request.image.string();
  auto parsed = bootimg::parse_image(image.bytes(), bootimg::IdCheck::Skip);
  if (!parsed)
    return Error("refusing " + name + ": not an Android boot image a bootloader can load: " +
                     parsed.error().message(),
                 ErrorKind::Invalid);
  if (!profile) {
    emit(request.on_event, PushEvent::Kind::Forced,
         "!!! --force-device: no device profile, so " + name + " is not checked against one !!!");
    return ok();
  }
  const bool boot_from_sidecar = sidecar && sidecar->profile.id == profile->id && sidecar->has_boot;
  if (!boot_from_sidecar && sidecar && sidecar->profile.id == profile->id) {
    // An older sidecar without device_profile.boot: the pool's profile of that id.
    auto pooled = profiles::find_device_profile(profile->id);
    if (!pooled) {
      const std::string why =
          sidecar_path.string() + " has no device_profile.boot (an older fastboop-bootimg) and " +
          pooled.error().message() + ", so " + name + " cannot be checked against its device";
      if (request.force == ForceDevice::No)
        return Error(why + "; rebuild the image with fastboop-bootimg, or pass --force-device",
                     ErrorKind::Invalid);
      emit(request.on_event, PushEvent::Kind::Forced, "!!! --force-device: " + why + " !!!");
      return ok();
    }
    profile->boot = pooled->profile.boot;
  }
  auto fits = bootimg::check_image_against_profile(*parsed, name, *profile);
  if (!fits) {
    if (request.force == ForceDevice::No)
      return Error("refusing " + fits.error().message() + " (nothing was sent)",
                   ErrorKind::Invalid);
    emit(request.on_event, PushEvent::Kind::Forced,
         "!!! --force-device: " + fits.error().message() + "; sending it anyway !!!");
  }
  return ok();
}

// Why probing cannot choose between the matched profiles, one line per pair.
std::vector<std::string> describe_ambiguity(std::vector<std::string> matched,
                                            const std::vector<profiles::DeviceProfile>& pool) {
  std::sort(matched.begin(), matched.end());
  auto find = [&](const std::string& id) -> const profiles::DeviceProfile* {
    for (const auto& p : pool)
      if (p.id == id)
        return &p;
    return nullptr;
  };
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < matched.size(); ++i)
    for (std::size_t j = i + 1; j < matched.size(); ++j) {
      const auto* a = find(matched[i]);
      const auto* b = find(matched[j]);
      const std::string known = a && b ? profiles::known_overlap(*a, *b) : std::string();
      lines.push_back(
          matched[i] + " and " + matched[j] + ": " +
          (known.empty()
               ? std::string("their probes overlap (not declared in either profile)")
               : "cannot be told apart by probing (declared in both profiles): " + known));
    }
  return lines;
}

// A device that also passes other profiles of the pool (getvar only, through
// the driver's cache) gets a note saying so, which profile is used and why
// (issue 16 item 4): the image's sidecar names it, or --device-profile.
// Returns the other profiles' ids.
std::vector<std::string> report_other_matches(Driver& driver, const Candidate& candidate,
                                              const profiles::DeviceProfile& chosen,
                                              const BootRequest& request) {
  const auto& sink = request.on_event;
  auto pool = profiles::load_device_profile_pool();
  if (!pool) {
    emit(sink, PushEvent::Kind::Debug, "not checking other profiles: " + pool.error().message());
    return {};
  }
  std::vector<profiles::DeviceProfile> others;
  for (auto& loaded : *pool)
    if (loaded.profile.id != chosen.id)
      others.push_back(loaded.profile);
  auto verdicts = match_profiles(driver, candidate, others);
  if (!verdicts) {
    emit(sink, PushEvent::Kind::Debug,
         "not checking other profiles: " + verdicts.error().message());
    return {};
  }
  std::vector<profiles::DeviceProfile> matched_profiles = {chosen};
  std::vector<std::string> matched = {chosen.id};
  for (auto& v : *verdicts)
    if (v.passed) {
      matched.push_back(v.profile_id);
      for (auto& o : others)
        if (o.id == v.profile_id)
          matched_profiles.push_back(o);
    }
  if (matched.size() == 1)
    return {};
  std::string list;
  for (std::size_t i = 1; i < matched.size(); ++i)
    list += (i > 1 ? ", " : "") + matched[i];
  const std::string why = request.device_profile_id && *request.device_profile_id == chosen.id
                              ? "--device-profile chose it"
                              : "the image's boot.img.json names it";
  emit(sink, PushEvent::Kind::AlsoMatches,
       candidate.location + " also matches device profile(s) " + list + "; using '" + chosen.id +
           "' because " + why);
  for (auto& line : describe_ambiguity(matched, matched_profiles))
    if (line.rfind(chosen.id + " and ", 0) == 0 ||
        line.find(" and " + chosen.id + ":") != std::string::npos)
      emit(sink, PushEvent::Kind::Ambiguity, line);
  return {matched.begin() + 1, matched.end()};
}

// Steps 2-7 of boot_on_device: find, prove, download, boot, hand off.
// The report names the bootloader's USB port path ("" on the network): the
// phone's gadget re-enumerates there.
Result<BootReport> prove_and_boot(const BootRequest& request, const PushSettings& settings,
                                  const std::optional<profiles::DeviceProfile>& profile,
                                  const MappedFile& image, DigestCheck& digest);

bool is_url(const std::string& spec) { return spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0; }

// Why `got` is not the rootfs stage0 was built from, or nullopt when it is.
// The sha512 and size decide when both sides know them; without a digest on
// one side the pipeline identity must match as well as the size.
std::optional<std::string> rootfs_mismatch(const SidecarRootfs& recorded, const stage0::RootfsIdentity& got) {
  if (recorded.sha512 && got.sha512 && *recorded.sha512 != *got.sha512)
    return "its sha512 is " + *got.sha512 + ", stage0 was built from " + *recorded.sha512;
  if (recorded.size != got.size)
    return "it is " + std::to_string(got.size) + " bytes, stage0 was built from " + std::to_string(recorded.size);
  if ((!recorded.sha512 || !got.sha512) && recorded.pipeline != got.pipeline)
    return "no digest to compare, and its pipeline " + got.pipeline + " is not the recorded " + recorded.pipeline;
  return std::nullopt;
}

// Step 1b: which root to serve after boot, opened and checked before the
// device sees anything. nullopt: nothing to serve.
Result<std::optional<smoo::ServedRootfs>> prepare_root(const BootRequest& request,
                                                        const std::optional<BootImageSidecar>& sidecar,
                                                        const std::filesystem::path& sidecar_path) {
  const RootServing& root = request.root;
  using None = std::optional<smoo::ServedRootfs>;
  if (root.serve == ServeRoot::Never) {
    if (root.rootfs)
      return Error("--rootfs and --no-serve exclude each other", ErrorKind::Usage);
    return None{};
  }
  const SidecarRootfs* recorded = sidecar && sidecar->rootfs ? &*sidecar->rootfs : nullptr;
  if (!root.rootfs) {
    if (!recorded) {
      emit(request.on_event, PushEvent::Kind::Note,
           (sidecar ? sidecar_path.string() + " does not say"
                    : std::string("without a sidecar nothing says")) +
               " which rootfs stage0 was built from; stopping after boot (--rootfs SOURCE serves "
               "one)");
      return None{};
    }
    if (recorded->transport == SidecarRootfs::Transport::Local) {
      emit(request.on_event, PushEvent::Kind::Note,
           "stage0 mounts its root from " + recorded->device + " on the device; nothing to serve");
      return None{};
    }
    if (request.then_command) {
      emit(request.on_event, PushEvent::Kind::Note,
           "--then: leaving the root to the hand-off command (--rootfs SOURCE serves it here as "
           "well)");
      return None{};
    }
    if (recorded->pipeline.empty())
      return Error("stage0 was built from the directory " + recorded->source +
                       ", which cannot be served over USB; pass --rootfs with the same root as an image, or "
                       "--no-serve",
                   ErrorKind::Usage);
  }
  stage0::SourceOptions options;
  options.network = root.network;
  options.local_artifacts = root.local_artifacts;
  options.terminal_digest = stage0::TerminalDigest::Compute;
  const std::string spec = root.rootfs.value_or(recorded ? recorded->source : std::string());
  // The recorded digest keys (and verifies) the download of the recorded URL.
  if (!root.rootfs && recorded->sha512 && is_url(spec))
    options.expect_digest = "sha512:" + *recorded->sha512;
  auto served = TRY_CTX(smoo::ServedRootfs::open(spec, options),
                        root.rootfs ? std::string("--rootfs") : "the rootfs " + sidecar_path.string() + " names");
  if (!recorded) {
    emit(request.on_event, PushEvent::Kind::Unchecked,
         "no rootfs recorded for " + request.image.string() +
             ", so --rootfs cannot be checked against the root stage0 was built from");
    return std::optional<smoo::ServedRootfs>(std::move(served));
  }
  if (auto why = rootfs_mismatch(*recorded, served.identity())) {
    const std::string what = "serving " + spec + " for " + request.image.string() + ": " + *why +
                             " (stage0's kernel modules come from the rootfs it was built from)";
    if (root.force == ForceRootfs::No)
      return Error("refusing " + what + "; pass --force-rootfs to serve it anyway", ErrorKind::Invalid);
    emit(request.on_event, PushEvent::Kind::Forced, "--force-rootfs: " + what);
  }
  return std::optional<smoo::ServedRootfs>(std::move(served));
}

// Step 8: serve the root until stopped (Ctrl-C, or the caller's token).
// Returns the serving summary.
Result<std::string> serve_root(smoo::ServedRootfs& rootfs, const RootServing& root,
                               const std::string& bootloader_port, const PushEventSink& sink) {
  std::optional<smoo::SignalStop> signals;
  if (root.signals == StopOnSignals::Yes)
    signals.emplace();
  std::stop_source both;
  std::stop_callback from_caller(root.stop, [&] { both.request_stop(); });
  std::optional<std::stop_callback<std::function<void()>>> from_signal;
  if (signals)
    from_signal.emplace(signals->token(), [&] { both.request_stop(); });
  auto options = rootfs.serve_options();
  options.block_size = root.block_size;
  if (!bootloader_port.empty())
    options.preferred_port = bootloader_port;
  emit(sink, PushEvent::Kind::Note,
       "serving the root until interrupted (Ctrl-C); the phone's gadget appears once stage0 runs");
  auto stats = TRY(smoo::serve_rootfs(rootfs, options, both.get_token()));
  return stats.summary();
}

Result<void> run_handoff(const std::string& command, const std::string& serial,
                         const std::string& location, const std::string& profile_id,
                         const PushEventSink& sink) {
  emit(sink, PushEvent::Kind::HandOff, "running hand-off: " + command);
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

void set_io_timeout(PushSettings& settings, std::chrono::milliseconds io) {
  settings.driver.response_timeout = io;
  settings.driver.slow_response_timeout = io * 2;
  settings.connect.udp.max_attempts =
      std::max<unsigned>(4, static_cast<unsigned>(io * 2 / settings.connect.udp.retransmit_interval));
  settings.connect.tcp.io_timeout = io;
  settings.connect.usb.transfer_timeout = io;
}

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
    if (d.matched_ids().size() > 1)
      d.ambiguity = describe_ambiguity(d.matched_ids(), pool);
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
      out += " AMBIGUOUS: boot uses the profile its image's boot.img.json names, else only "
             "--device-profile chooses";
    out += "\n";
    for (auto& line : d.ambiguity)
      out += "  ambiguous: " + line + "\n";
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
      j["vid"] = format_hex(d.candidate.usb->vid, 4, HexPrefix::None);
      j["pid"] = format_hex(d.candidate.usb->pid, 4, HexPrefix::None);
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

namespace {

// The one device -s names (or the only fastboot USB device), opened.
struct OpenedDevice {
  Candidate candidate;
  std::shared_ptr<UsbContext> ctx;
  std::unique_ptr<Transport> transport;
};

Result<OpenedDevice> open_one_device(const std::optional<DeviceSpec>& target, const PushSettings& settings) {
  OpenedDevice d;
  if (target && target->is_network()) {
    d.candidate = network_candidate(*target);
  } else {
    d.ctx = try_usb_context();
    auto found = TRY(find_usb(d.ctx, settings, [&](const Candidate& c) { return !target || candidate_matches(c, *target); },
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
    d.candidate = found.front();
  }
  d.transport = TRY(open_waiting(d.candidate, d.ctx, settings));
  return d;
}

} // namespace

Result<std::string> getvar_on_device(const std::optional<DeviceSpec>& target, std::string_view name,
                                     const PushSettings& settings) {
  auto device = TRY(open_one_device(target, settings));
  Driver driver(*device.transport, settings.driver);
  driver.set_message_handler(print_bootloader_message);
  return driver.getvar(name);
}

Result<DeviceVariables> read_device_variables(const std::optional<DeviceSpec>& target,
                                              const std::vector<std::string>& fallback_names,
                                              const PushSettings& settings) {
  auto device = TRY(open_one_device(target, settings));
  DeviceVariables out;
  out.location = device.candidate.location;
  out.usb = device.candidate.usb;
  Driver driver(*device.transport, settings.driver);
  driver.set_message_handler([&](MessageKind kind, std::string_view text) {
    if (kind == MessageKind::Info)
      out.all_lines.emplace_back(text);
  });
  // getvar:all answers with INFO lines; a bootloader without it says FAIL.
  auto all = driver.getvar_cached("all");
  if (!all)
    return std::move(all).error().with_context("getvar all on " + out.location);
  driver.set_message_handler(print_bootloader_message);
  if (out.all_lines.empty())
    for (const auto& name : fallback_names)
      out.singles.emplace_back(name, TRY_CTX(driver.getvar_cached(name), "getvar " + name + " on " + out.location));
  out.sent = driver.sent_commands();
  return out;
}

std::string format_boot_report_json(const BootReport& r) {
  nlohmann::ordered_json j;
  j["device"] = r.location;
  j["serial"] = r.serial;
  j["device_profile"] =
      r.profile_id ? nlohmann::ordered_json(*r.profile_id) : nlohmann::ordered_json(nullptr);
  j["profile_matched"] = r.profile_matched;
  j["probes"] = r.probes;
  j["probe_failure"] = r.probe_failure.empty() ? nlohmann::ordered_json(nullptr)
                                               : nlohmann::ordered_json(r.probe_failure);
  j["also_matches"] = r.also_matches;
  j["forced"] = r.forced;
  j["image"] = r.image.string();
  j["image_bytes"] = r.image_bytes;
  j["image_checked_against_sidecar"] = r.image_checked;
  j["image_sha512"] =
      r.image_sha512 ? nlohmann::ordered_json(*r.image_sha512) : nlohmann::ordered_json(nullptr);
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
      emit(request.on_event, PushEvent::Kind::Forced,
           "--force-device: image built for '" + profile->id + "', checking against '" +
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
  TRY(check_image(request, sidecar, sidecar_path, profile, image));
  if (sidecar && !sidecar->image)
    emit(request.on_event, PushEvent::Kind::Unchecked,
         sidecar_path.string() + " has no image size/sha512, so it cannot be checked against " +
             request.image.string());
  // The sidecar must be this image's before any download byte goes out; until
  // the digest is known only getvar may reach the device.
  DigestCheck digest(sidecar, image, sidecar_path);
  if (settings.wait == WaitMode::Wait)
    TRY(digest.wait()); // no point waiting for a device to push a stale image to
  auto root = prepare_root(request, sidecar, sidecar_path);
  if (!root) {
    TRY(digest.wait()); // a stale sidecar explains a wrong rootfs record too
    return std::move(root).error();
  }
  auto pushed = prove_and_boot(request, settings, profile, image, digest);
  // A stale sidecar explains whatever went wrong with the device it describes.
  // (Unless that is already what went wrong: after a download it says so.)
  if (!pushed) {
    auto stale = digest.wait();
    if (!stale && pushed.error().message().find(stale.error().message()) == std::string::npos)
      return std::move(stale).error();
    return std::move(pushed).error();
  }
  if (*root && request.check == CheckOnly::No)
    pushed->served =
        TRY(serve_root(**root, request.root, pushed->bootloader_port, request.on_event));
  return std::move(pushed).value();
}

namespace {

// The device boot_on_device works with, and the USB context it was found in.
struct FoundDevice {
  Candidate candidate;
  std::shared_ptr<UsbContext> ctx;
};

// Step 2: which device. A USB device must be the only candidate and have one
// of the profile's USB ids (--force-device: a warning).
Result<FoundDevice> find_device(const BootRequest& request, const PushSettings& settings,
                                const std::optional<profiles::DeviceProfile>& profile,
                                BootReport& report) {
  FoundDevice d;
  if (request.target && request.target->is_network()) {
    d.candidate = network_candidate(*request.target);
  } else {
    d.ctx = try_usb_context();
    const std::string what = request.target ? "fastboot device " + request.target->text()
                             : profile      ? "a fastboot device matching profile '" + profile->id + "'"
                                            : std::string("a fastboot device");
    auto accept = [&](const Candidate& c) {
      if (request.target)
        return candidate_matches(c, *request.target);
      return !profile || profile->match.empty() || usb_prefilter_passes(*profile, c);
    };
    auto announce = [&](const std::string& text) {
      emit(request.on_event, PushEvent::Kind::Waiting, text);
    };
    auto found = TRY(find_usb(d.ctx, settings, accept, what, announce));
    if (found.empty())
      return Error("no " + what.substr(what.find(' ') + 1) + " is attached (use --wait to wait for one)",
                   ErrorKind::Device);
    if (found.size() > 1) {
      std::string list;
      for (auto& c : found)
        list += " " + c.location + (c.serial.empty() ? "" : " (serial " + c.serial + ")");
      return Error("several candidate devices:" + list + "; choose one with -s", ErrorKind::Usage);
    }
    d.candidate = found.front();
  }
  const Candidate& candidate = d.candidate;
  if (profile && !candidate.is_network() && !usb_prefilter_passes(*profile, candidate)) {
    const std::string why = candidate.location + " (" + usb_id(candidate) + ") is not a USB id of profile '" +
                            profile->id + "'";
    if (request.force == ForceDevice::No)
      return Error("refusing " + why + "; pass --force-device to override", ErrorKind::Invalid);
    emit(request.on_event, PushEvent::Kind::Forced,
         "--force-device: " + why + "; continuing anyway");
    report.forced = true;
  }
  report.location = candidate.location;
  return d;
}

// Step 3: prove it is the right device, with getvar only.
Result<void> prove_device(Driver& driver, const Candidate& candidate, const BootRequest& request,
                          const std::optional<profiles::DeviceProfile>& profile,
                          BootReport& report) {
  const auto& sink = request.on_event;
  if (!profile) {
    emit(sink, PushEvent::Kind::Forced,
         "!!! --force-device: no device profile; the device is not checked !!!");
    report.forced = true;
    return ok();
  }
  auto verdict = TRY(evaluate_profile(driver, *profile));
  if (!verdict.passed) {
    if (request.force == ForceDevice::No)
      return Error("refusing " + candidate.location + ": it is not a '" + profile->id +
                       "' device (" + verdict.detail +
                       "); nothing but getvar was sent. Pass --force-device to override",
                   ErrorKind::Invalid);
    emit(sink, PushEvent::Kind::Forced,
         "!!! --force-device: " + candidate.location + " failed the '" + profile->id +
             "' probes (" + verdict.detail + "); booting anyway !!!");
    report.probe_failure = verdict.detail;
    report.forced = true;
    return ok();
  }
  emit(sink, PushEvent::Kind::ProfileMatched,
       candidate.location + " matches profile '" + profile->id + "'");
  for (const auto& step : profile->probe)
    report.probes.push_back(describe_step(step));
  report.also_matches = report_other_matches(driver, candidate, *profile, request);
  report.profile_matched = true;
  return ok();
}

// Step 6: download, then boot once the digest matched.
Result<void> download_and_boot(Driver& driver, const Candidate& candidate,
                               const BootRequest& request, const MappedFile& image,
                               DigestCheck& digest) {
  const auto& sink = request.on_event;
  const std::uint64_t total = image.size();
  emit(sink, PushEvent::Kind::DownloadStarted,
       "sending " + request.image.filename().string() + " (" + std::to_string(total) + " bytes)", 0,
       total);
  TRY(driver.download(image.bytes(), [&](std::uint64_t sent, std::uint64_t) {
    emit(sink, PushEvent::Kind::DownloadProgress, {}, sent, total);
  }));
  // The mapping follows the file: a write during the transfer sent other bytes.
  TRY(image.check_unchanged());
  // The digest was computed while the bytes went out; only a match may boot.
  TRY_CTX(digest.wait(),
          "not booting " + candidate.location + " (the download only filled its RAM)");
  emit(sink, PushEvent::Kind::Booting, "booting");
  TRY(driver.boot());
  emit(sink, PushEvent::Kind::Booted, "boot OKAY");
  return ok();
}

Result<BootReport> prove_and_boot(const BootRequest& request, const PushSettings& settings,
                                  const std::optional<profiles::DeviceProfile>& profile,
                                  const MappedFile& image, DigestCheck& digest) {
  const auto& sink = request.on_event;
  BootReport report;
  report.image = request.image;
  report.image_bytes = image.size();
  if (profile)
    report.profile_id = profile->id;
  const FoundDevice found = TRY(find_device(request, settings, profile, report));
  const Candidate& candidate = found.candidate;

  emit(sink, PushEvent::Kind::Opening, "opening " + candidate.location);
  auto announce = [&](const std::string& text) { emit(sink, PushEvent::Kind::Waiting, text); };
  auto transport = TRY(open_waiting(candidate, found.ctx, settings, announce));
  Driver driver(*transport, settings.driver);
  driver.set_message_handler([&](MessageKind kind, std::string_view text) {
    emit(sink,
         kind == MessageKind::Info ? PushEvent::Kind::BootloaderInfo
                                   : PushEvent::Kind::BootloaderText,
         std::string(text));
  });
  TRY(prove_device(driver, candidate, request, profile, report));
  report.serial = device_serial(driver, candidate);

  // 4. Size check (download() checks again before any byte goes out).
  auto limit = TRY(driver.max_download_size());
  report.max_download_size = limit;
  if (limit && image.size() > *limit)
    return Error(request.image.string() + " is " + std::to_string(image.size()) + " bytes but " +
                     candidate.location + " accepts at most " + std::to_string(*limit) + " bytes (max-download-size)",
                 ErrorKind::Invalid);
  // 5. Nothing but getvar was sent so far.
  TRY(image.check_unchanged());
  report.image_checked = digest.checked();
  if (request.check == CheckOnly::Yes) {
    TRY(digest.wait());
    report.image_sha512 = digest.sha512();
    report.checked_only = true;
    report.sent = driver.sent_commands();
    return report;
  }
  TRY(download_and_boot(driver, candidate, request, image, digest));
  report.image_sha512 = digest.sha512();
  report.booted = true;
  report.sent = driver.sent_commands();

  // 7. Hand-off.
  if (request.then_command)
    TRY(run_handoff(*request.then_command, report.serial, candidate.location,
                    profile ? profile->id : "", sink));
  report.bootloader_port = candidate.usb ? candidate.usb->port_path : std::string();
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

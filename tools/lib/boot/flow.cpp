#include "boot/flow.hpp"

#include "artifact_cache/store.hpp"
#include "artifact_cache/tool_identity.hpp"
#include "boot/personalize.hpp"
#include "bootimg/bootimg.hpp"
#include "bootimg/devpro.hpp"
#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "fastboot/push_console.hpp"
#include "pipeline/progress.hpp"
#include "profiles/profiles.hpp"
#include "smoo/rootfs.hpp"
#include "stage0/payloads.hpp"

#include <algorithm>
#include <thread>
#include <unistd.h>

namespace fastboop::boot {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Every kernel encoding a Device Profile can ask for is an arm64 Image, so
// the device-side programs are aarch64 ones.
constexpr std::string_view kDeviceArch = "aarch64";

// The tools the CMake functions run for the same generations, next to this
// program (a build tree's bin/, an install's bindir): their bytes are in the
// CMake functions' keys, and they are built from the same library code we
// run here, so the keys match and either side's entries serve the other.
// Without them, our own binary keys the entries.
fs::path generator_binary(const std::string& tool) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return {};
  const fs::path exe(std::string(self, static_cast<std::size_t>(n)));
  const fs::path sibling = exe.parent_path() / tool;
  std::error_code ec;
  return fs::is_regular_file(sibling, ec) ? sibling : exe;
}

std::string describe(const fastboot::DetectedDevice& d) {
  return d.candidate.location + (d.serial.empty() ? "" : " serial=" + d.serial);
}

std::string verdict_list(const fastboot::DetectedDevice& d) {
  std::string out;
  for (const auto& v : d.verdicts)
    out += "\n  " + v.profile_id + ": " + (v.passed ? "matches" : v.detail);
  return out;
}

// Detection, repeated while --wait allows it and no device answered.
Result<std::vector<fastboot::DetectedDevice>>
detect(const BootRequest& r, const std::vector<profiles::DeviceProfile>& pool) {
  std::vector<fastboot::DeviceSpec> specs;
  if (r.target)
    specs.push_back(*r.target);
  const bool forever = r.push.timeout.count() == 0;
  const auto deadline = Clock::now() + r.push.timeout;
  bool announced = false;
  for (;;) {
    auto devices = TRY(fastboot::detect_devices(specs, pool, r.push));
    const bool answered =
        std::any_of(devices.begin(), devices.end(), [](const auto& d) { return d.error.empty(); });
    if (answered || r.push.wait == fastboot::WaitMode::NoWait ||
        (!forever && Clock::now() >= deadline))
      return devices;
    if (!announced) {
      log::info("waiting for a fastboot device…");
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

struct PoolEntry {
  profiles::DeviceProfile profile;
  std::string source;
};

Result<std::vector<PoolEntry>> profile_pool(const BootRequest& r) {
  std::vector<PoolEntry> pool;
  if (r.device_profile) {
    auto loaded = TRY(profiles::find_device_profile(*r.device_profile));
    pool.push_back({std::move(loaded.profile), std::move(loaded.source)});
    return pool;
  }
  for (auto& loaded : TRY(profiles::load_device_profile_pool()))
    pool.push_back({std::move(loaded.profile), std::move(loaded.source)});
  return pool;
}

// --- the artifact cache ------------------------------------------------------

// The CMake functions' key for a stage0 (add_fastboop_stage0 as
// add_fastboop_boot_image calls it: CMDLINE goes to the boot image), plus
// what only `fastboop boot` can ask for, appended only when asked.
struct Stage0Key {
  std::string text;
  fs::path tool; // the generator (--key-tool)
  std::vector<fs::path> files;
  std::vector<fs::path> dirs;
  std::optional<artifact_cache::KeyInput> source_bytes; // a manifest compiled in memory
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items)
    out += (out.empty() ? "" : "|") + i;
  return out;
}

Result<Stage0Key> stage0_key(const BootRequest& r, const stage0::OpenedSource& source,
                             const PoolEntry& device, const fs::path& init,
                             const std::optional<fs::path>& gadget) {
  Stage0Key k;
  const bool url = r.source.rfind("http://", 0) == 0 || r.source.rfind("https://", 0) == 0;
  // Built from bytes nobody checked: never filed under a digest, where a
  // verified run would find it.
  if (r.unverified_ranged_reads)
    return Error("--unverified-ranged-reads: an image built from unchecked bytes of " + r.source +
                     " is not filed under its claimed digest",
                 ErrorKind::Unsupported);
  if (url) {
    if (!r.expect_sha512)
      return Error("no --expect-sha512 for " + r.source +
                       ", so its content is unknown before it is read",
                   ErrorKind::Unsupported);
    k.text = "rootfs-sha512=" + r.expect_sha512->substr(r.expect_sha512->rfind(':') + 1) + "|";
  }
  const auto& b = r.stage0;
  k.text += "device=" + device.profile.id + "|modules=" + joined(b.modules) +
            "|root=" + b.root_device.value_or("") + "|compress=" + b.compress.value_or("") +
            "|settings=" + joined(b.settings) + "|cmdline=";
  k.tool = generator_binary("fastboop-stage0");
  if (source.profile_bytes)
    k.source_bytes = artifact_cache::KeyInput{r.source, "/",
                                              artifact_cache::cache_digest(*source.profile_bytes)};
  else if (!source.host_file.empty())
    k.files.push_back(source.host_file);
  else if (!source.host_root.empty())
    k.dirs.push_back(source.host_root);
  if (gadget)
    k.files.push_back(*gadget);
  if (b.dtb)
    k.files.push_back(*b.dtb);
  k.files.push_back(init);
  if (profiles::device_profile_source_is_file(device.source))
    k.dirs.push_back(fs::path(device.source).parent_path());
  // Beyond the CMake functions' options.
  if (b.serial == stage0::SerialConsole::On)
    k.text += "|serial=1";
  if (!b.dtbos.empty()) {
    k.text += "|dtbos=" + std::to_string(b.dtbos.size());
    for (const auto& d : b.dtbos)
      k.files.push_back(d);
  }
  if (b.augment) {
    k.text += "|augment=1";
    k.files.push_back(*b.augment);
  }
  return k;
}

Result<std::string> key_of(const std::string& cache, const std::string& kind, const Stage0Key& k) {
  // The CMake functions' order: the tool, KEY_FILES (the source first), KEY_DIRS.
  std::vector<artifact_cache::KeyInput> inputs{TRY(artifact_cache::tool_input(cache, k.tool))};
  if (k.source_bytes)
    inputs.push_back(*k.source_bytes);
  for (const auto& f : k.files)
    inputs.push_back(TRY(artifact_cache::file_input(cache, f)));
  for (const auto& d : k.dirs)
    for (auto& in : TRY(artifact_cache::directory_inputs(cache, d)))
      inputs.push_back(std::move(in));
  return artifact_cache::cache_key(kind, k.text, inputs);
}

std::vector<std::string> regular_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file())
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A generation into `dir`; `what` names it in messages.
using Generate = std::function<Result<void>(const fs::path& dir)>;

// Through the cache when there is one (hit: nothing runs), else into a
// private directory that lives as long as the returned Entry is used.
Result<artifact_cache::Entry> cached(const std::string& cache, const std::string& kind,
                                     const std::string& key, const std::string& what,
                                     const std::vector<std::string>& names,
                                     const Generate& generate) {
  if (auto hit = TRY(artifact_cache::find_entry(cache, kind, key))) {
    log::info("cache hit: " + what + " (" + kind + " " + key + ")");
    return std::move(*hit);
  }
  log::info("generating " + what + " (cache key " + key + ")");
  auto insertion = TRY(artifact_cache::Insertion::begin(cache, kind, key));
  TRY(generate(insertion.dir()));
  return insertion.commit(names.empty() ? regular_files(insertion.dir()) : names);
}

// A scratch directory removed at the end of the run (no cache, personalised images).
class ScratchDir {
public:
  static Result<ScratchDir> create() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/fastboop-boot-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      return Error("cannot create a scratch directory under " + tmpl, ErrorKind::Io);
    return ScratchDir(tmpl);
  }
  ScratchDir(ScratchDir&& o) noexcept : m_path(std::exchange(o.m_path, {})) {}
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!m_path.empty())
      fs::remove_all(m_path, ec);
  }
  const fs::path& path() const { return m_path; }

private:
  explicit ScratchDir(fs::path p) : m_path(std::move(p)) {}
  fs::path m_path;
};

// --- the steps -----------------------------------------------------------------

struct Payloads {
  fs::path init;
  std::optional<fs::path> gadget;
};

// Step 1: before any device is touched or byte fetched.
Result<Payloads> locate_payloads(const BootRequest& r) {
  Payloads p;
  p.init = TRY(stage0::find_payload(
      {stage0::Payload::Stage0Init, r.stage0_payload, std::string(kDeviceArch), "--stage0"}));
  // The root comes over USB unless it is on the device's own storage.
  if (!r.stage0.root_device || r.smoo_gadget)
    p.gadget = TRY(stage0::find_payload(
        {stage0::Payload::SmooGadget, r.smoo_gadget, std::string(kDeviceArch), "--smoo-gadget"}));
  return p;
}

Result<stage0::SourceOptions> source_options(const BootRequest& r) {
  return stage0::make_source_options({.offline = r.offline,
                                      .local_artifacts = r.local_artifacts,
                                      .expect_sha512 = r.expect_sha512,
                                      .unverified_ranged_reads = r.unverified_ranged_reads,
                                      .boot_profile = r.boot_profile});
}

// stage0::open_source holds SOURCE to --boot-profile (a directory, an image
// without a Boot Profile, another profile's id are refused there).
Result<stage0::OpenedSource> open_source(const BootRequest& r, pipeline::FetchProgress& progress) {
  stage0::SourceOptions o = TRY(source_options(r));
  if (progress.enabled())
    o.on_fetch = progress.callback();
  return stage0::open_source(r.source, o);
}

// Steps 3-5: the boot image and its sidecar for the device kind.
struct BuiltImage {
  fs::path image;
  fs::path sidecar;
  std::optional<ScratchDir> scratch; // holds them when there is no cache
};

Result<BuiltImage> build_image(const BootRequest& r, const PoolEntry& device,
                               const Payloads& payloads) {
  pipeline::FetchProgress progress;
  auto source = TRY(open_source(r, progress));
  stage0::BuildRequest b = r.stage0;
  b.stage0_init = payloads.init.string();
  if (payloads.gadget)
    b.smoo_gadget = payloads.gadget->string();
  const Generate build_stage0 = [&](const fs::path& dir) -> Result<void> {
    auto options = TRY(stage0::make_stage0_options(b, source, device.profile));
    auto result = TRY(stage0::build_stage0(*source.fs, std::move(options)));
    TRY(stage0::write_stage0_outputs(result, device.profile.id, dir, std::nullopt));
    log::info("stage0 for " + device.profile.id + ": " + std::to_string(result.initrd.size()) +
              " bytes, " + std::to_string(result.modules.load_order.size()) + " modules, kernel " +
              result.kver);
    return ok();
  };
  const auto pack = [&](const fs::path& stage0_dir, const fs::path& out_dir) -> Result<void> {
    return bootimg::build_devpro_image(device.profile,
                                       {stage0_dir, out_dir / "boot.img", r.cmdline_append, {}});
  };

  std::string cache = r.cache_dir;
  std::optional<Stage0Key> key;
  if (!cache.empty()) {
    auto k = stage0_key(r, source, device, payloads.init, payloads.gadget);
    if (k)
      key = std::move(*k);
    else {
      log::warn("not caching: " + k.error().message());
      cache.clear();
    }
  }
  if (cache.empty()) {
    BuiltImage out;
    out.scratch.emplace(TRY(ScratchDir::create()));
    const fs::path stage0_dir = out.scratch->path() / "stage0";
    fs::create_directories(stage0_dir);
    TRY(build_stage0(stage0_dir));
    TRY(pack(stage0_dir, out.scratch->path()));
    out.image = out.scratch->path() / "boot.img";
    out.sidecar = out.scratch->path() / "boot.img.json";
    return out;
  }

  const std::string s0key = TRY(key_of(cache, "stage0", *key));
  const auto stage0 =
      TRY(cached(cache, "stage0", s0key, "stage0 for " + device.profile.id, {}, build_stage0));
  // add_fastboop_boot_image's key: the bootimg tool, the stage0 directory's
  // files (named, the manifest's digests), the DevPro directory.
  std::vector<artifact_cache::KeyInput> inputs{
      TRY(artifact_cache::tool_input(cache, generator_binary("fastboop-bootimg")))};
  for (const auto& [name, digest] : stage0.files)
    inputs.push_back(TRY(artifact_cache::entry_file_input(cache, stage0.dir, name, digest)));
  if (profiles::device_profile_source_is_file(device.source))
    for (auto& in :
         TRY(artifact_cache::directory_inputs(cache, fs::path(device.source).parent_path())))
      inputs.push_back(std::move(in));
  const std::string bkey =
      artifact_cache::cache_key("bootimg", device.profile.id + "|" + r.cmdline_append, inputs);
  auto entry = TRY(cached(cache, "bootimg", bkey, "boot.img for " + device.profile.id,
                          {"boot.img", "boot.img.json"},
                          [&](const fs::path& dir) { return pack(stage0.dir, dir); }));
  // The CMake functions name the image after their OUTPUT: take the one the
  // entry holds with its sidecar.
  for (const auto& [name, digest] : entry.files)
    if (entry.has(name + ".json"))
      return BuiltImage{entry.file(name), entry.file(name + ".json"), std::nullopt};
  return Error("artifact cache entry " + entry.dir.string() +
               " holds no boot image with its sidecar");
}

std::vector<std::string> per_boot_tokens(const BootRequest& r) {
  std::vector<std::string> tokens;
  if (r.clock == HostClock::On)
    tokens.push_back(clock_token(std::chrono::system_clock::now()));
  if (r.firstboot == FirstBootSettings::On)
    for (auto& t : firstboot_tokens(read_host_settings(current_host())))
      tokens.push_back(std::move(t));
  return tokens;
}

Result<void> copy_out(const BuiltImage& built, const fs::path& output) {
  const Bytes image = TRY(read_file(built.image, std::uint64_t{1} << 32));
  const Bytes sidecar = TRY(read_file(built.sidecar, 1 << 24));
  TRY(write_file_atomic(output, image));
  TRY(write_file_atomic(fs::path(output.string() + ".json"), sidecar));
  log::info("wrote " + output.string() + " and " + output.string() + ".json");
  return ok();
}

// Step 7: serve until interrupted (Ctrl-C); the phone re-enumerates as the
// smoo gadget on the port the bootloader used.
Result<void> serve_root(smoo::ServedRootfs& served, const IdentifiedDevice& device) {
  smoo::SignalStop stop;
  auto options = served.serve_options();
  if (device.target && device.target->kind == fastboot::DeviceSpec::Kind::UsbPath)
    options.preferred_port = device.target->value;
  log::info("serving " + served.describe() + " over smoo until interrupted (Ctrl-C)");
  const auto stats = TRY(smoo::serve_rootfs(served, options, stop.token()));
  log::info(stats.summary());
  return ok();
}

} // namespace

Result<IdentifiedDevice> identify_device(const BootRequest& r) {
  const auto pool = TRY(profile_pool(r));
  std::vector<profiles::DeviceProfile> profiles;
  for (const auto& p : pool)
    profiles.push_back(p.profile);
  const auto devices = TRY(detect(r, profiles));
  if (devices.empty())
    return Error(
        r.target
            ? "no fastboot device at " + r.target->text()
            : std::string(
                  "no fastboot device found (use --wait to wait for one, -s for a network device)"),
        ErrorKind::Device);
  std::vector<const fastboot::DetectedDevice*> answering;
  for (const auto& d : devices)
    if (d.error.empty())
      answering.push_back(&d);
  if (answering.empty())
    return Error(describe(devices.front()) + ": " + devices.front().error, ErrorKind::Device);
  if (answering.size() > 1) {
    std::string list;
    for (const auto* d : answering)
      list += " " + describe(*d);
    return Error("several fastboot devices are attached:" + list + "; choose one with -s",
                 ErrorKind::Usage);
  }
  const auto& d = *answering.front();
  const auto ids = d.matched_ids();
  if (ids.empty()) {
    if (r.device_profile)
      return Error(describe(d) + " is not a '" + *r.device_profile + "' device:" + verdict_list(d) +
                       "\nnothing but getvar was sent",
                   ErrorKind::Invalid);
    return Error(describe(d) + " matches no Device Profile:" + verdict_list(d) +
                     "\nnothing but getvar was sent; add a Device Profile for it "
                     "($FASTBOOP_SCHEMA_PATH) or pass "
                     "--device-profile",
                 ErrorKind::Device);
  }
  if (ids.size() > 1) {
    std::string list;
    for (const auto& v : d.verdicts)
      if (v.passed)
        list += "\n  " + v.profile_id + " (" + v.display_name + ")";
    return Error(
        describe(d) + " matches several Device Profiles:" + list +
            "\nthey cannot be told apart by their probes; choose one with --device-profile",
        ErrorKind::Usage);
  }
  IdentifiedDevice out;
  for (const auto& p : pool)
    if (p.profile.id == ids.front()) {
      out.profile = p.profile;
      out.profile_source = p.source;
    }
  out.description = describe(d);
  out.target = d.candidate.network ? *d.candidate.network
                                   : TRY(fastboot::parse_device_spec(d.candidate.location));
  log::info(out.description + " is a '" + out.profile.id + "' (" + out.profile_source + ")");
  return out;
}

Result<void> run_boot(const BootRequest& r) {
  const Payloads payloads = TRY(locate_payloads(r));
  // A channel's Device Profiles take part in identifying the device.
  const auto channel_options = TRY(source_options(r));
  TRY(stage0::load_channel_device_profiles(r.source, channel_options));
  IdentifiedDevice device;
  if (r.output && r.device_profile) {
    // Building for a file needs no device at all.
    auto loaded = TRY(profiles::find_device_profile(*r.device_profile));
    device.profile = std::move(loaded.profile);
    device.profile_source = std::move(loaded.source);
  } else {
    device = TRY(identify_device(r));
  }
  // The root the device will ask for, opened as bytes before anything is
  // built or sent (a directory cannot be served, a dead URL fails here).
  std::optional<smoo::ServedRootfs> served;
  if (!r.output && r.serve == Serve::On && !r.stage0.root_device) {
    auto options = TRY(source_options(r));
    served.emplace(TRY_CTX(smoo::ServedRootfs::open(r.source, std::move(options)),
                           "serving the root over smoo (or pass --root-device, or --no-serve)"));
  }
  const BuiltImage built = TRY(build_image(r, {device.profile, device.profile_source}, payloads));
  if (r.output)
    return copy_out(built, *r.output);

  fastboot::BootRequest push;
  push.image = built.image;
  push.device_profile_id = device.profile.id;
  push.target = device.target;
  // This flow opened the root itself (before anything was built) and serves
  // it below; the pusher must not serve it a second time.
  push.root.serve = fastboot::ServeRoot::Never;
  const auto tokens = per_boot_tokens(r);
  std::optional<ScratchDir> personal;
  if (!tokens.empty()) {
    // The cached image stays as it is; the copy that goes out carries them.
    std::string line;
    for (const auto& t : tokens)
      line += (line.empty() ? "" : " ") + t;
    Bytes image = TRY(read_file(built.image, std::uint64_t{1} << 32));
    TRY_CTX(bootimg::append_boot_cmdline(image, line),
            "appending the per-boot settings to " + built.image.string());
    const std::string sidecar = TRY(read_text_file(built.sidecar, 1 << 24));
    const std::string restamped =
        TRY(bootimg::restamp_sidecar(sidecar, image, built.sidecar.string()));
    personal.emplace(TRY(ScratchDir::create()));
    push.image = personal->path() / "boot.img";
    TRY(write_file_atomic(push.image, image));
    TRY(write_file_atomic(personal->path() / "boot.img.json", restamped));
    log::info("per-boot kernel command line: " + line);
  }
  fastboot::PushConsole console;
  push.on_event = console.sink();
  TRY(fastboot::boot_on_device(push, r.push));
  if (!served)
    return ok();
  return serve_root(*served, device);
}

} // namespace fastboop::boot

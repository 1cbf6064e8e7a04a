#include "pid1.hpp"

#include "plan.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <set>

namespace fastboop::stage0_init {

namespace {

using stage0::Stage0Settings;

constexpr std::size_t kSmallFileLimit = 64 * 1024;
constexpr std::size_t kBigFileLimit = 16 * 1024 * 1024; // modules.dep, mountinfo
constexpr unsigned kPollMs = 50;
constexpr int kBindAttempts = 40; // 2 s of kPollMs
constexpr std::string_view kOverlayLower = "/lower";
constexpr std::string_view kOverlayUpper = "/upper";
constexpr std::string_view kNewRoot = "/newroot";
constexpr std::string_view kLiveMedium = "/medium"; // the squashfs holding a nested root image

struct StepOutcome {
  bool skipped = false;
  std::string detail;
};
StepOutcome done(std::string detail = {}) {
  return {false, std::move(detail)};
}
StepOutcome skipped(std::string why) {
  return {true, std::move(why)};
}

Error sys_error(const std::string& what, int err) {
  return Error(what + ": " + errno_text(err));
}

Result<void> check(int err, const std::string& what) {
  if (err != 0)
    return sys_error(what, err);
  return ok();
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty())
      out += sep;
    out += part;
  }
  return out;
}

class Runtime {
public:
  explicit Runtime(Sys& sys) : m_sys(sys) {}

  RunResult run() {
    load_settings();
    RunResult result;
    result.on_failure = m_settings.on_failure;
    using StepFn = Result<StepOutcome> (Runtime::*)();
    static constexpr std::array<StepFn, std::size(kStepNames)> kSteps = {
        &Runtime::step_mounts,      &Runtime::step_settings,      &Runtime::step_modules,
        &Runtime::step_gadget,      &Runtime::step_smoo,          &Runtime::step_root_wait,
        &Runtime::step_root_mount,  &Runtime::step_ostree_detect, &Runtime::step_fstab,
        &Runtime::step_switch_root, &Runtime::step_ostree,        &Runtime::step_credentials,
        &Runtime::step_plymouth,    &Runtime::step_exec_init};
    for (std::size_t i = 0; i < kSteps.size(); ++i) {
      m_step = kStepNames[i];
      log("step " + m_step);
      const std::uint64_t started = m_sys.now_ms();
      Result<StepOutcome> outcome = (this->*kSteps[i])();
      const std::string took = " (" + std::to_string(m_sys.now_ms() - started) + " ms)";
      if (!outcome.ok()) {
        result.failed_step = m_step;
        result.cause = outcome.error().message();
        m_sys.log(result.failure_line(), true);
        return result;
      }
      if (outcome->skipped)
        log("step " + m_step + " skipped: " + outcome->detail);
      else
        log("step " + m_step + " ok" + (outcome->detail.empty() ? "" : ": " + outcome->detail) +
            took);
    }
    result.exec_ok = true;
    return result;
  }

private:
  void log(const std::string& line) { m_sys.log("stage0: " + line, false); }
  void detail(const std::string& line) { log(m_step + ": " + line); }
  void warn(const std::string& line) { log(m_step + ": warning: " + line); }

  void mkdir_p(const std::string& path) {
    for (std::size_t i = 1; i <= path.size(); ++i)
      if (i == path.size() || path[i] == '/')
        m_sys.mkdir(path.substr(0, i), 0755);
  }

  Result<std::string> read(const std::string& path, std::size_t limit = kSmallFileLimit) {
    std::string data;
    const int err = m_sys.read_file(path, data, limit);
    if (err != 0)
      return sys_error("read " + path, err);
    return data;
  }

  bool exists(const std::string& path) { return m_sys.stat(path) != FileType::Missing; }

  // Polls `ready` every kPollMs until it holds or `timeout_s` passes. While the
  // gadget runs, its exit is fatal: nothing else would ever make `ready` true.
  // `state`, when given, says on a timeout what was last seen.
  template <typename F>
  Result<void> wait_for(const std::string& what, std::uint32_t timeout_s, F ready,
                        const std::string* state = nullptr) {
    const std::uint64_t start = m_sys.now_ms();
    for (;;) {
      if (ready())
        return ok();
      if (m_child_pid > 0) {
        ChildStatus child = m_sys.poll_child(m_child_pid);
        if (child.exited) {
          m_child_pid = -1;
          return Error("smoo-gadget exited with status " + std::to_string(child.status) +
                       " while waiting for " + what);
        }
      }
      if (m_sys.now_ms() - start >= std::uint64_t(timeout_s) * 1000)
        return Error(what + " not ready after " + std::to_string(timeout_s) + " s" +
                     (state && !state->empty() ? ": " + *state : std::string()));
      m_sys.sleep_ms(kPollMs);
    }
  }

  // Before any step, so on_failure is known even if mounting /proc fails. The
  // warnings are logged by the settings step, once the console is set up.
  void load_settings() {
    const std::string dir = "/" + std::string(stage0::kSettingsDir);
    std::vector<DirEntry> entries;
    std::vector<stage0::SettingsFile> files;
    if (const int err = m_sys.list_dir(dir, entries); err != 0) {
      m_settings_warnings.push_back("cannot list " + dir + ": " + errno_text(err));
    }
    std::sort(entries.begin(), entries.end(),
              [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    for (const DirEntry& entry : entries) {
      if (entry.type != FileType::Regular)
        continue; // symlinks and directories are not settings
      std::string content;
      if (const int err = m_sys.read_file(dir + "/" + entry.name, content, kSmallFileLimit)) {
        m_settings_warnings.push_back("cannot read " + dir + "/" + entry.name + ": " +
                                      errno_text(err) + "; skipped");
        continue;
      }
      files.push_back({entry.name, std::move(content)});
    }
    stage0::ParsedSettings parsed = stage0::parse_settings_files(files);
    m_settings = std::move(parsed.settings);
    m_settings_count = files.size();
    for (std::string& w : parsed.warnings)
      m_settings_warnings.push_back(std::move(w));
  }

  // 1. /proc, /sys, /dev, /run.
  Result<StepOutcome> step_mounts() {
    for (const char* dir : {"/proc", "/sys", "/dev", "/run"})
      m_sys.mkdir(dir, 0755);
    TRY(check(m_sys.mount("proc", "/proc", "proc", 0, ""), "mount proc on /proc"));
    TRY(check(m_sys.mount("sysfs", "/sys", "sysfs", 0, ""), "mount sysfs on /sys"));
    TRY(check(m_sys.mount("devtmpfs", "/dev", "devtmpfs", 0, ""), "mount devtmpfs on /dev"));
    m_sys.attach_console();
    TRY(check(m_sys.mount("tmpfs", "/run", "tmpfs", 0, ""), "mount tmpfs on /run"));
    return done("/proc /sys /dev /run");
  }

  Result<StepOutcome> step_settings() {
    for (const std::string& w : m_settings_warnings)
      warn(w);
    if (!m_settings.rootfs)
      return Error("/etc/stage0/stage0.rootfs is missing or not 'erofs'/'ext4'");
    std::string summary = std::to_string(m_settings_count) + " files, rootfs " +
                          std::string(stage0::to_string(*m_settings.rootfs));
    summary += m_settings.root_device.empty() ? ", root from smoo"
                                              : ", root device " + m_settings.root_device;
    summary += ", on_failure " + std::string(stage0::to_string(m_settings.on_failure));
    return done(summary);
  }

  // 2. The module load list, dependencies first, through finit_module.
  Result<StepOutcome> step_modules() {
    const std::string list_path = "/" + std::string(stage0::kModuleListPath);
    std::string list_text;
    if (const int err = m_sys.read_file(list_path, list_text, kSmallFileLimit); err != 0) {
      if (err == 2 /* ENOENT */)
        return skipped("no " + list_path);
      return sys_error("read " + list_path, err);
    }
    const std::vector<std::string> list = stage0::parse_module_list(list_text);
    if (list.empty())
      return skipped(list_path + " lists no modules");

    const std::string release = std::string(stage0::trim(TRY(read("/proc/sys/kernel/osrelease"))));
    m_module_base = "/lib/modules/" + release;
    m_modules = ModuleIndex::parse(TRY(read(m_module_base + "/modules.dep", kBigFileLimit)));
    std::string builtin_text;
    if (m_sys.read_file(m_module_base + "/modules.builtin", builtin_text, kBigFileLimit) != 0)
      builtin_text.clear(); // optional
    const std::set<std::string> builtin = parse_modules_builtin(builtin_text);

    std::size_t loaded_before = m_loaded.size();
    for (const std::string& name : list) {
      if (builtin.count(module_name_key(name))) {
        detail(name + ": built in");
        continue;
      }
      const std::string* path = m_modules.path_of(name);
      if (!path)
        return Error(name + ": not in " + m_module_base + "/modules.dep");
      TRY_CTX(load_module(*path, 0), name);
    }
    return done(std::to_string(m_loaded.size() - loaded_before) + " module files from " +
                m_module_base);
  }

  Result<void> load_module(const std::string& relpath, int depth) {
    if (m_loaded.count(relpath))
      return ok();
    if (depth > 64 || m_loading.count(relpath))
      return Error("dependency cycle at " + relpath);
    m_loading.insert(relpath);
    for (const std::string& dep : m_modules.deps_of(relpath))
      TRY(load_module(dep, depth + 1));
    m_loading.erase(relpath);
    const std::string path = m_module_base + "/" + relpath;
    const int flags = module_is_compressed(relpath) ? kModuleInitCompressedFile : 0;
    const int err = m_sys.finit_module(path, flags);
    if (err != 0 && err != 17 /* EEXIST: loaded or built in */)
      return sys_error("load " + path + (flags ? " (compressed)" : ""), err);
    detail("loaded " + module_name_key(relpath) + (err ? " (already present)" : ""));
    m_loaded.insert(relpath);
    return ok();
  }

  std::vector<std::string> udc_names() {
    std::vector<DirEntry> entries;
    std::vector<std::string> names;
    if (m_sys.list_dir("/sys/class/udc", entries) == 0)
      for (const DirEntry& e : entries)
        if (e.name != "." && e.name != "..")
          names.push_back(e.name);
    std::sort(names.begin(), names.end());
    return names;
  }

  // 3. configfs gadget (spec §4.5).
  // Without /bin/smoo-gadget (local root) but with smoo.acm, the gadget carries
  // only the CDC-ACM console and is bound here: nothing else would bind it,
  // and serial-getty@ttyGS0 is enabled in the final root either way.
  Result<StepOutcome> step_gadget() {
    m_have_gadget = exists(std::string(kSmooGadgetPath));
    const bool acm_only = !m_have_gadget && m_settings.acm;
    if (!m_have_gadget && !acm_only)
      return skipped("no " + std::string(kSmooGadgetPath) + " in the initramfs");
    mkdir_p(std::string(kConfigfsRoot));
    TRY(check(m_sys.mount("configfs", std::string(kConfigfsRoot), "configfs", 0, ""),
              "mount configfs on " + std::string(kConfigfsRoot)));
    if (m_sys.stat(std::string(kGadgetRoot)) != FileType::Directory)
      return Error(std::string(kGadgetRoot) + " missing (is libcomposite loaded?)");

    const std::uint32_t udc_timeout =
        m_settings.udc_timeout_s.value_or(stage0::kDefaultUdcTimeoutSeconds);
    const std::string wanted = m_settings.udc;
    TRY(wait_for(wanted.empty() ? std::string("a UDC in /sys/class/udc") : "UDC " + wanted,
                 udc_timeout, [&] {
                   std::vector<std::string> udcs = udc_names();
                   return wanted.empty() ? !udcs.empty()
                                         : std::count(udcs.begin(), udcs.end(), wanted) > 0;
                 }));

    std::string name;
    for (int n = 0; n < 100 && name.empty(); ++n)
      if (!exists(std::string(kGadgetRoot) + "/usb-gadget" + std::to_string(n)))
        name = "usb-gadget" + std::to_string(n);
    if (name.empty())
      return Error("no free usb-gadget<N> name in " + std::string(kGadgetRoot));
    m_layout = gadget_layout(name);
    const GadgetFunctions functions = acm_only ? GadgetFunctions::AcmOnly : GadgetFunctions::Smoo;
    for (const GadgetOp& op : gadget_plan(m_settings, m_layout, functions)) {
      switch (op.kind) {
      case GadgetOp::Kind::Mkdir:
        TRY(check(m_sys.mkdir(op.path, 0755), "mkdir " + op.path));
        break;
      case GadgetOp::Kind::Write:
        TRY(check(m_sys.write_file(op.path, op.value, Create::No, 0), "write " + op.path));
        break;
      case GadgetOp::Kind::Symlink:
        TRY(check(m_sys.symlink(op.value, op.path), "symlink " + op.path));
        break;
      }
    }
    char ids[32];
    std::snprintf(ids, sizeof ids, "%04x:%04x",
                  unsigned(m_settings.vendor_id.value_or(stage0::kDefaultVendorId)),
                  unsigned(m_settings.product_id.value_or(stage0::kDefaultProductId)));
    if (acm_only) {
      const std::string udc = TRY(bind_udc());
      start_kmsg_forwarder();
      return done(m_layout.dir + " " + ids + " acm only, bound to " + udc);
    }
    return done(m_layout.dir + " " + ids + (m_settings.acm ? " +acm" : ""));
  }

  // Writes the UDC name (the setting, else the first one) into the gadget's
  // UDC attribute. ep1 shows up a moment before FunctionFS marks its
  // descriptors ready, and a bind in that window fails (ENODEV, then EBUSY),
  // so it is retried briefly.
  Result<std::string> bind_udc() {
    std::string udc = m_settings.udc;
    if (udc.empty()) {
      std::vector<std::string> udcs = udc_names();
      if (udcs.empty())
        return Error("no UDC in /sys/class/udc");
      udc = udcs.front();
    }
    int bind_err = 0;
    for (int attempt = 0; attempt < kBindAttempts; ++attempt) {
      bind_err = m_sys.write_file(m_layout.dir + "/UDC", udc, Create::No, 0);
      if (bind_err != 19 /* ENODEV */ && bind_err != 16 /* EBUSY */)
        break;
      ++m_bind_retries;
      m_sys.sleep_ms(kPollMs);
    }
    TRY(check(bind_err, "bind " + m_layout.dir + "/UDC to " + udc));
    if (m_bind_retries > 0)
      detail("UDC bind succeeded after " + std::to_string(m_bind_retries) + " retries");
    return udc;
  }

  void start_kmsg_forwarder() {
    int forwarder = -1;
    if (const int fork_err = m_sys.start_kmsg_forwarder(forwarder); fork_err != 0)
      warn("kmsg forwarder to /dev/ttyGS0 not started: " + errno_text(fork_err));
    else
      detail("kmsg -> /dev/ttyGS0 forwarder pid " + std::to_string(forwarder));
  }

  // 4. FunctionFS, the smoo gadget, ep1, then the UDC bind.
  Result<StepOutcome> step_smoo() {
    if (!m_have_gadget)
      return skipped("no " + std::string(kSmooGadgetPath) + " in the initramfs");
    const int err = m_sys.mkdir(m_layout.ffs_dir, 0755);
    if (err != 0 && err != 17 /* EEXIST */)
      return sys_error("mkdir " + m_layout.ffs_dir, err);
    TRY(check(m_sys.mount(m_layout.ffs_instance, m_layout.ffs_dir, "functionfs", 0, ""),
              "mount functionfs " + m_layout.ffs_instance + " on " + m_layout.ffs_dir));
    mkdir_p("/run/smoo");

    const std::vector<std::string> argv = smoo_arguments(m_settings, m_layout.ffs_dir);
    std::vector<std::string> env;
    if (!m_settings.smoo_log.empty())
      env.push_back("RUST_LOG=" + m_settings.smoo_log);
    detail("exec " + join(argv, " "));
    int pid = -1;
    TRY(check(m_sys.spawn(argv[0], argv, env, pid), "start " + argv[0]));
    m_child_pid = pid;

    const std::string ep1 = m_layout.ffs_dir + "/ep1";
    TRY(wait_for(ep1, m_settings.ep1_timeout_s.value_or(stage0::kDefaultEp1TimeoutSeconds),
                 [&] { return exists(ep1); }));
    const std::string udc = TRY(bind_udc());
    if (m_settings.acm)
      start_kmsg_forwarder();
    return done("smoo-gadget pid " + std::to_string(pid) + ", bound to " + udc);
  }

  // 5. The lower root's block device.
  Result<StepOutcome> step_root_wait() {
    const bool local = !m_settings.root_device.empty();
    m_root_device = local ? m_settings.root_device : std::string(kUblkDevice);
    const std::uint32_t timeout =
        local ? m_settings.root_device_timeout_s.value_or(stage0::kDefaultRootDeviceTimeoutSeconds)
              : m_settings.ublk_timeout_s.value_or(stage0::kDefaultUblkTimeoutSeconds);
    if (!local && !m_have_gadget)
      return Error("no stage0.root_device and no " + std::string(kSmooGadgetPath) +
                   ": nothing can provide " + m_root_device);
    // The node is not enough: a ublk disk's node appears before the device
    // opens (ENXIO until its partition scan ends), so wait for an open with a
    // size, as the mount will need.
    std::string state;
    std::uint64_t bytes = 0;
    TRY(wait_for(
        "block device " + m_root_device, timeout,
        [&] {
          const FileType type = m_sys.stat(m_root_device);
          if (type != FileType::BlockDevice) {
            state = type == FileType::Missing ? "no such node" : "not a block device";
            return false;
          }
          if (const int err = m_sys.block_device_size(m_root_device, bytes); err != 0) {
            state = "open: " + std::string(std::strerror(err));
            return false;
          }
          state = "size 0";
          return bytes > 0;
        },
        &state));
    return done(m_root_device + ", " + std::to_string(bytes) + " bytes");
  }

  // 6a. Lower (read-only), upper (tmpfs), overlay.
  Result<StepOutcome> step_root_mount() {
    for (std::string_view dir : {kOverlayLower, kOverlayUpper, kNewRoot})
      mkdir_p(std::string(dir));
    std::string fstype(stage0::to_string(*m_settings.rootfs));
    std::string lower_device = m_root_device;
    if (m_settings.root_offset || m_settings.root_size) {
      // A byte range of the device (a live ISO's squashfs on a disk holding
      // the whole ISO): a read-only loop device shows just that range.
      const std::uint64_t offset = m_settings.root_offset.value_or(0);
      const std::uint64_t size = m_settings.root_size.value_or(0);
      const std::string range = "bytes " + std::to_string(offset) + "+" +
                                (size ? std::to_string(size) : std::string("(to the end)")) +
                                " of " + m_root_device;
      TRY(check(m_sys.loop_attach(m_root_device, offset, size, lower_device),
                "attach a loop device to " + range));
      detail(range + " on " + lower_device);
    }
    if (!m_settings.rootfs_image.empty()) {
      // A live ISO's nested root: the device holds a filesystem (squashfs)
      // whose file is the root image, attached through a loop device.
      if (!m_settings.rootfs_image_type)
        return Error(std::string(stage0::key::kRootfsImageType) + " is required with " +
                     std::string(stage0::key::kRootfsImage));
      mkdir_p(std::string(kLiveMedium));
      TRY(check(m_sys.mount(lower_device, std::string(kLiveMedium), fstype, kMsRdonly, ""),
                "mount " + lower_device + " (" + fstype + ") read-only on " +
                    std::string(kLiveMedium)));
      const std::string image = std::string(kLiveMedium) + m_settings.rootfs_image;
      TRY(check(m_sys.loop_attach(image, 0, 0, lower_device), "attach a loop device to " + image));
      fstype = std::string(stage0::to_string(*m_settings.rootfs_image_type));
    }
    const bool ext4 = fstype == "ext4";
    // ext4: "noload" so the read-only lower root never replays its journal.
    TRY(check(m_sys.mount(lower_device, std::string(kOverlayLower), fstype, kMsRdonly, ext4 ? "noload" : ""),
              "mount " + lower_device + " (" + fstype + ") read-only on /lower"));
    TRY(check(m_sys.mount("tmpfs", std::string(kOverlayUpper), "tmpfs", 0, ""),
              "mount tmpfs on /upper"));
    m_sys.mkdir("/upper/upper", 0755);
    m_sys.mkdir("/upper/work", 0755);
    if (!filesystems_has(TRY(read("/proc/filesystems")), "overlay"))
      return Error("overlayfs not available in the kernel (no 'overlay' in /proc/filesystems)");
    TRY(check(m_sys.mount("overlay", std::string(kNewRoot), "overlay", 0,
                          "lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work"),
              "mount overlay on /newroot"));
    // A shared / would make the MS_MOVE below fail with EINVAL.
    TRY(check(m_sys.mount("", "/", "", kMsPrivate | kMsRec, ""), "make / private"));
    return done(lower_device + " (" + fstype + ") + tmpfs -> /newroot");
  }

  // OSTree deployment checks while the root is still at /newroot (spec §4.10).
  Result<StepOutcome> step_ostree_detect() {
    m_final_root = std::string(kNewRoot);
    if (m_settings.ostree.empty())
      return skipped("no ostree setting");
    const std::string rel = TRY(normalize_ostree_path(m_settings.ostree));
    const std::string link = std::string(kNewRoot) + "/" + rel;
    if (m_sys.lstat(link) != FileType::Symlink)
      return Error(link + " is not a symlink");
    std::string canonical;
    TRY(check(m_sys.realpath(link, canonical), "resolve " + link));
    const std::string prefix = std::string(kNewRoot) + "/";
    if (canonical.compare(0, prefix.size(), prefix) != 0)
      return Error(link + " resolves to " + canonical + ", outside " + std::string(kNewRoot));
    m_deployment = canonical.substr(prefix.size());
    if (m_sys.stat(canonical) != FileType::Directory)
      return Error(canonical + " is not a directory");
    m_stateroot_var = TRY(ostree_stateroot_var(m_deployment));
    if (m_sys.stat(prefix + m_stateroot_var) != FileType::Directory)
      return Error(prefix + m_stateroot_var + " is not a directory");
    m_bind_boot = m_sys.lstat(prefix + "boot/loader") == FileType::Symlink &&
                  m_sys.stat(canonical + "/boot") == FileType::Directory;
    m_final_root = canonical;
    return done("deployment " + m_deployment);
  }

  Result<StepOutcome> step_fstab() {
    if (!m_settings.yeet_fstab)
      return skipped("stage0.yeetfstab is off");
    const std::string fstab = m_final_root + "/etc/fstab";
    const int err = m_sys.unlink(fstab);
    if (err == 2 /* ENOENT */)
      return done("no /etc/fstab");
    TRY(check(err, "remove " + fstab));
    return done("removed /etc/fstab");
  }

  // 6b. Bind the API filesystems, move /newroot over /, chroot.
  Result<StepOutcome> step_switch_root() {
    for (const char* dir : {"/proc", "/sys", "/dev", "/run"})
      m_sys.mkdir(m_final_root + dir, 0755);
    std::string mountinfo;
    m_sys.read_file("/proc/self/mountinfo", mountinfo, kBigFileLimit);
    struct Bind {
      const char* dir;
      unsigned long flags;
    };
    // /run is not recursive: only the tmpfs itself, none of its submounts.
    for (const Bind& b : {Bind{"/proc", kMsBind | kMsRec}, Bind{"/sys", kMsBind | kMsRec},
                          Bind{"/dev", kMsBind | kMsRec}, Bind{"/run", kMsBind}}) {
      const std::string target = m_final_root + b.dir;
      if (!exists(b.dir) || mountinfo_has_mount_point(mountinfo, target))
        continue;
      TRY(check(m_sys.mount(b.dir, target, "", b.flags, ""),
                "bind " + std::string(b.dir) + " on " + target));
    }
    TRY(check(m_sys.chdir(std::string(kNewRoot)), "chdir /newroot"));
    TRY(check(m_sys.mount(std::string(kNewRoot), "/", "", kMsMove, ""), "move /newroot to /"));
    TRY(check(m_sys.chroot("."), "chroot into the new root"));
    TRY(check(m_sys.chdir("/"), "chdir /"));
    return done("MS_MOVE /newroot -> /, chroot");
  }

  // OSTree handoff inside the new root: sysroot, var, boot, second chroot.
  Result<StepOutcome> step_ostree() {
    if (m_deployment.empty())
      return skipped("no ostree setting");
    const std::string deploy = "/" + m_deployment;
    const std::string sysroot = deploy + "/sysroot";
    const FileType sysroot_type = m_sys.lstat(sysroot);
    if (sysroot_type == FileType::Missing)
      TRY(check(m_sys.mkdir(sysroot, 0755), "mkdir " + sysroot));
    else if (sysroot_type != FileType::Directory)
      return Error(sysroot + " exists and is not a directory");
    const std::string var = "/" + m_stateroot_var;
    if (m_sys.stat(var) != FileType::Directory ||
        m_sys.stat(deploy + "/var") != FileType::Directory)
      return Error(var + " and " + deploy + "/var must both be directories");
    TRY(check(m_sys.mount("/", sysroot, "", kMsBind, ""), "bind / on " + sysroot));
    TRY(check(m_sys.mount(var, deploy + "/var", "", kMsBind, ""), "bind " + var));
    if (m_bind_boot)
      TRY(check(m_sys.mount("/boot", deploy + "/boot", "", kMsBind, ""), "bind /boot"));
    TRY(check(m_sys.mount("none", sysroot, "", kMsPrivate, ""), "make " + sysroot + " private"));
    const std::string handoff = "/run/fastboop-stage0-root";
    mkdir_p(handoff);
    TRY(check(m_sys.mount(deploy, handoff, "", kMsBind | kMsRec, ""), "bind " + deploy));
    TRY(check(m_sys.chroot(handoff), "chroot " + handoff));
    TRY(check(m_sys.chdir("/"), "chdir /"));
    mkdir_p("/run/ostree");
    TRY(check(m_sys.write_file("/run/ostree-booted", "", Create::Yes, 0640),
              "create /run/ostree-booted"));
    TRY(check(m_sys.chmod("/run/ostree-booted", 0640), "chmod /run/ostree-booted"));
    return done(deploy);
  }

  // Staging inside the final root: getty for ACM, machine-id, firstboot.
  Result<StepOutcome> step_credentials() {
    // The final root (after the OSTree handoff too) must see a working /proc.
    std::string probe;
    if (m_sys.read_file("/proc/self/mountinfo", probe, kBigFileLimit) != 0) {
      m_sys.mkdir("/proc", 0755);
      m_sys.mount("proc", "/proc", "proc", 0, "");
      TRY(check(m_sys.read_file("/proc/self/mountinfo", probe, kBigFileLimit),
                "read /proc/self/mountinfo in the new root"));
    }
    mkdir_p("/run/systemd/system");
    if (m_settings.acm)
      stage_serial_getty();
    mkdir_p("/run/credstore");
    std::array<std::uint8_t, 16> id{};
    bool have_id = true;
    if (!m_settings.serial.empty()) {
      id = machine_id_from_serial(m_settings.serial);
    } else if (const int err = m_sys.random_bytes(id.data(), id.size()); err != 0) {
      warn("no random machine-id: " + errno_text(err));
      have_id = false;
    }
    std::vector<std::string> staged;
    if (have_id) {
      const int err = m_sys.write_file("/run/credstore/system.machine_id", format_machine_id(id),
                                       Create::Yes, 0644);
      if (err != 0)
        warn("write /run/credstore/system.machine_id: " + errno_text(err));
      else
        staged.push_back("system.machine_id");
    }
    const std::pair<std::string_view, const std::string*> firstboot[] = {
        {stage0::key::kLocale, &m_settings.firstboot_locale},
        {stage0::key::kLocaleMessages, &m_settings.firstboot_locale_messages},
        {stage0::key::kKeymap, &m_settings.firstboot_keymap},
        {stage0::key::kTimezone, &m_settings.firstboot_timezone}};
    for (const auto& [name, value] : firstboot) {
      if (value->empty())
        continue;
      const std::string path = "/run/credstore/" + std::string(name);
      TRY(check(m_sys.write_file(path, *value, Create::Yes, 0644), "write " + path));
      staged.push_back(std::string(name));
    }
    return done(staged.empty() ? std::string("nothing staged") : join(staged, " "));
  }

  void stage_serial_getty() {
    std::string unit;
    for (const char* candidate : {"/lib/systemd/system/serial-getty@.service",
                                  "/usr/lib/systemd/system/serial-getty@.service"})
      if (exists(candidate)) {
        unit = candidate;
        break;
      }
    if (unit.empty()) {
      warn("no serial-getty@.service; no login on ttyGS0");
      return;
    }
    const std::string wants = "/run/systemd/system/getty.target.wants";
    const std::string link = wants + "/serial-getty@ttyGS0.service";
    mkdir_p(wants);
    if (m_sys.lstat(link) == FileType::Missing)
      if (const int err = m_sys.symlink(unit, link); err != 0)
        warn("symlink " + link + ": " + errno_text(err));
  }

  Result<StepOutcome> step_plymouth() {
    std::vector<std::string> requested;
    for (const char* unit : {"plymouth-start.service", "plymouth-read-write.service"}) {
      std::string found;
      for (const char* dir :
           {"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}) {
        const std::string candidate = std::string(dir) + "/" + unit;
        if (exists(candidate)) {
          found = candidate;
          break;
        }
      }
      if (found.empty())
        continue;
      const std::string wants = "/run/systemd/system/sysinit.target.wants";
      const std::string link = wants + "/" + unit;
      mkdir_p(wants);
      if (m_sys.lstat(link) == FileType::Missing)
        if (const int err = m_sys.symlink(found, link); err != 0) {
          warn("symlink " + link + ": " + errno_text(err));
          continue;
        }
      requested.push_back(unit);
    }
    if (requested.empty())
      return skipped("no Plymouth units in the root");
    return done(join(requested, " "));
  }

  // 7. The first init that exists, with argv = [path] and the inherited environment.
  Result<StepOutcome> step_exec_init() {
    std::vector<std::string> candidates;
    if (!m_settings.init.empty())
      candidates = {m_settings.init};
    else
      candidates = {"/lib/systemd/systemd", "/usr/lib/systemd/systemd", "/sbin/init"};
    for (const std::string& init : candidates) {
      if (!exists(init))
        continue;
      detail("exec " + init);
      TRY(check(m_sys.exec(init, {init}), "exec " + init));
      return done(init);
    }
    return Error("no init in the new root (tried " + join(candidates, ", ") + ")");
  }

  Sys& m_sys;
  Stage0Settings m_settings;
  std::vector<std::string> m_settings_warnings;
  std::size_t m_settings_count = 0;
  std::string m_step;
  std::string m_module_base;
  ModuleIndex m_modules;
  std::set<std::string> m_loaded;
  std::set<std::string> m_loading;
  bool m_have_gadget = false;
  GadgetLayout m_layout;
  int m_child_pid = -1;
  int m_bind_retries = 0;
  std::string m_root_device;
  std::string m_final_root;
  std::string m_deployment;
  std::string m_stateroot_var;
  bool m_bind_boot = false;
};

} // namespace

std::string RunResult::failure_line() const {
  return "stage0: FATAL: step " + failed_step + " failed: " + cause +
         " (on_failure=" + std::string(stage0::to_string(on_failure)) + ")";
}

RunResult run_pid1(Sys& sys) {
  return Runtime(sys).run();
}

} // namespace fastboop::stage0_init

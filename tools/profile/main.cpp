// fastboop-profile: check, compile and show Device Profiles and Boot Profiles.
// The work is in libfastboop (tools/lib/profiles); this is argument handling.
#include "common/cli.hpp"
#include "common/file_io.hpp"
#include "common/log.hpp"
#include "draft/draft.hpp"
#include "pipeline/pipeline.hpp"
#include "profiles/channel.hpp"
#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <unistd.h>

using namespace fastboop;
using namespace fastboop::profiles;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t max_input_bytes = std::uint64_t{256} << 20;

Result<Bytes> read_input(const std::string& path) {
  if (path != "-")
    return read_file(path, max_input_bytes);
  Bytes data;
  std::uint8_t buf[65536];
  while (true) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0)
      return Error("cannot read stdin", ErrorKind::Io);
    if (n == 0)
      break;
    data.insert(data.end(), buf, buf + n);
    if (data.size() > max_input_bytes)
      return Error("stdin is larger than " + std::to_string(max_input_bytes) + " bytes");
  }
  return data;
}

Result<void> write_stdout(ByteSpan data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, data.data() + done, data.size() - done);
    if (n <= 0)
      return Error("cannot write to stdout", ErrorKind::Io);
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

// Binary artifacts go to a file atomically, or to stdout unless it is a TTY.
Result<void> write_binary(const std::string& output, ByteSpan data) {
  if (output == "-") {
    if (cli::stdout_is_tty())
      return Error("output is binary and stdout is a terminal; use -o FILE", ErrorKind::Usage);
    return write_stdout(data);
  }
  return write_file_atomic(output, data);
}

Result<void> write_text(const std::string& output, const std::string& text) {
  if (output == "-")
    return write_stdout(as_bytes(text));
  return write_file_atomic(output, text);
}

std::string display(const std::string& path) { return path == "-" ? std::string("stdin") : path; }

// Relative `file` paths and overlay files resolve against `base_dir` when
// given, else the manifest's directory (the CWD for stdin). This differs from
// upstream, which resolves against the CWD (spec §7 N8), on purpose: a
// manifest then compiles the same from any directory.
fs::path manifest_base_dir(const std::string& input, const std::string& base_dir) {
  if (!base_dir.empty())
    return base_dir;
  if (input == "-")
    return fs::current_path();
  fs::path dir = fs::path(input).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// Compile manifest bytes already read (stdin can be read only once).
Result<BootProfile> compile_manifest_bytes(ByteSpan text, const std::string& input, const std::string& base_dir = {},
                                           std::vector<fs::path>* files_read = nullptr) {
  const fs::path dir = manifest_base_dir(input, base_dir);
  log::debug(display(input) + ": relative paths resolve against " + dir.string());
  return compile_boot_profile_manifest_text(as_chars(text), display(input), dir, ManifestInputs::Resolve,
                                            files_read);
}

Result<BootProfile> compile_manifest(const std::string& input, const std::string& base_dir = {},
                                     std::vector<fs::path>* files_read = nullptr) {
  auto text = TRY(read_input(input));
  return compile_manifest_bytes(text, input, base_dir, files_read);
}

Result<DeviceProfile> parse_devpro(const std::string& input) {
  auto text = TRY(read_input(input));
  return parse_device_profile(as_chars(text), display(input));
}

// check: every file must load; DevPros are then checked for ambiguity among
// themselves and against the search path (a checked id replaces the pool's).
Result<void> run_check(const std::vector<std::string>& files, bool strict, bool json) {
  std::vector<DeviceProfile> checked;
  std::size_t failures = 0;
  ErrorKind failure_kind = ErrorKind::Invalid;
  nlohmann::ordered_json json_files = nlohmann::ordered_json::array();
  for (const auto& file : files) {
    log::debug("checking " + display(file));
    auto bytes = read_input(file);
    auto report = [&]() -> Result<std::string> {
      const auto& data = TRY(bytes);
      const ByteSpan span(data);
      const std::string name = display(file);
      if (span.size() >= 8 && as_chars(span.first(8)) == "FBOODEVP") {
        auto p = TRY_CTX(decode_device_profile(span), name);
        checked.push_back(p);
        return "device profile '" + p.id + "' (FBOODEVP)";
      }
      if (span.size() >= 8 && as_chars(span.first(8)) == "FBOOPROF") {
        auto p = TRY_CTX(decode_boot_profile(span), name);
        TRY_CTX(validate_boot_profile(p), name);
        return "boot profile '" + p.id + "' (FBOOPROF)";
      }
      const auto kind = TRY(classify_source(as_chars(span), name));
      if (kind == SourceKind::BootProfileManifest) {
        auto p = TRY(compile_manifest_bytes(span, file));
        return "boot profile manifest '" + p.id + "'";
      }
      auto p = TRY(parse_device_profile(as_chars(span), name));
      checked.push_back(p);
      return "device profile '" + p.id + "'";
    }();
    nlohmann::ordered_json entry = {{"file", display(file)}, {"ok", report.ok()}};
    if (report) {
      // The result of the command: stdout, like every tool's report.
      if (!json && !cli::quiet())
        std::printf("%s: ok: %s\n", display(file).c_str(), report->c_str());
      entry["what"] = *report;
    } else {
      std::fprintf(stderr, "fastboop-profile: error: %s\n", report.error().message().c_str());
      entry["error"] = report.error().message();
      ++failures;
      // One kind for all failures (e.g. every file missing) keeps its exit code.
      failure_kind = failures == 1 || failure_kind == report.error().kind() ? report.error().kind()
                                                                            : ErrorKind::Invalid;
    }
    json_files.push_back(std::move(entry));
  }
  std::vector<DeviceProfile> all = checked;
  if (auto pool = load_device_profile_pool(); pool) {
    log::debug("ambiguity check against " + std::to_string(pool->size()) + " device profile(s) on the search path");
    for (const auto& loaded : *pool) {
      const bool replaced = std::any_of(checked.begin(), checked.end(),
                                        [&](const DeviceProfile& c) { return c.id == loaded.profile.id; });
      if (!replaced)
        all.push_back(loaded.profile);
    }
  } else {
    log::warn("device profile search path: " + pool.error().message());
  }
  std::size_t ambiguous = 0;
  nlohmann::ordered_json json_ambiguities = nlohmann::ordered_json::array();
  for (const auto& a : find_ambiguities(all)) {
    const auto involves = [&](const std::string& id) {
      return std::any_of(checked.begin(), checked.end(), [&](const DeviceProfile& c) { return c.id == id; });
    };
    if (!involves(a.first) && !involves(a.second))
      continue;
    // Declared by both profiles (known_overlaps): reported, never an error.
    if (!a.known.empty()) {
      log::info("device profiles '" + a.first + "' and '" + a.second +
                "' cannot be told apart by probing (" + a.reason +
                "), as both declare: " + a.known +
                "; detect and boot say so and need --device-profile "
                "or the image's boot.img.json to choose");
      continue;
    }
    ++ambiguous;
    json_ambiguities.push_back({{"first", a.first}, {"second", a.second}, {"reason", a.reason}});
    // Through the logger, so -q silences the warning (but not the --strict error).
    const std::string text = "device profiles '" + a.first + "' and '" + a.second + "' are ambiguous: " + a.reason;
    if (strict)
      log::error(text);
    else
      log::warn(text);
  }
  if (json) {
    nlohmann::ordered_json j;
    j["ok"] = failures == 0 && !(strict && ambiguous > 0);
    j["files"] = json_files;
    j["ambiguities"] = json_ambiguities;
    TRY(write_text("-", j.dump(2) + "\n"));
  }
  if (failures > 0)
    return Error(std::to_string(failures) + " of " + std::to_string(files.size()) +
                     " file(s) failed the check",
                 failure_kind);
  if (strict && ambiguous > 0)
    return Error(std::to_string(ambiguous) + " ambiguous device profile pair(s) (--strict)");
  return ok();
}

Result<void> run_list(bool json) {
  auto all = TRY(load_all_device_profiles());
  auto pool = TRY(load_device_profile_pool());
  if (json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& p : pool) {
      nlohmann::ordered_json overrides = nlohmann::ordered_json::array();
      for (const auto& other : all)
        if (other.profile.id == p.profile.id && other.source != p.source)
          overrides.push_back(other.source);
      list.push_back(
          {{"id", p.profile.id},
           {"display_name", p.profile.display_name ? nlohmann::ordered_json(*p.profile.display_name)
                                                   : nlohmann::ordered_json(nullptr)},
           {"source", p.source},
           {"overrides", overrides}});
    }
    return write_text("-", list.dump(2) + "\n");
  }
  std::string out;
  for (const auto& p : pool) {
    std::string line = p.profile.id;
    line.resize(std::max<std::size_t>(line.size() + 1, 32), ' ');
    std::string name = p.profile.display_name.value_or("");
    name.resize(std::max<std::size_t>(name.size() + 1, 36), ' ');
    line += name + p.source;
    for (const auto& other : all)
      if (other.profile.id == p.profile.id && other.source != p.source)
        line += " (overrides " + other.source + ")";
    out += line + "\n";
  }
  return write_text("-", out);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Check, compile and show Device Profiles (DevPro) and Boot Profiles; pack them into channels.",
               "fastboop-profile"};
  cli::add_common_options(
      app, {.examples =
                {{"fastboop-profile list", "List every Device Profile on the search path"},
                 {"fastboop-profile check devprofiles.d/oneplus-fajita.yaml",
                  "Check a Device Profile (ok lines on stdout; --json for scripts)"},
                 {"fastboop-profile compile bootprofiles/example.yaml --base-dir . -o example.fbp",
                  "Compile a Boot Profile manifest for fastboop-stage0 build"},
                 {"fastboop-profile show example.fbp", "Show a compiled profile as YAML"}},
            .environment = {{"FASTBOOP_SCHEMA_PATH",
                             "Extra Device Profile directories, searched first (colon-separated)"},
                            {"FASTBOOP_DEVPRO_SYSTEM_DIRS",
                             "Replaces the system Device Profile directories (empty: none)"},
                            {"FASTBOOP_HTTP_CONNECT_TIMEOUT, FASTBOOP_HTTP_STALL_TIMEOUT, FASTBOOP_HTTP_ATTEMPTS",
                             "http timeouts (seconds) and attempts for compile --optimize and optimize (defaults 10, "
                             "30, 5); every retry is logged"}}});
  app.require_subcommand(1);

  std::vector<std::string> check_files;
  bool strict = false;
  auto* check = app.add_subcommand("check", "Check DevPro YAML/JSON, Boot Profile manifests and compiled profiles; "
                                            "report device profiles that probing cannot tell apart");
  check->add_option("FILE", check_files, "Files to check ('-' for stdin)")->required();
  check->add_flag("--strict", strict, "Ambiguous device profiles are an error, not a warning");
  bool check_json = false;
  check->add_flag("--json", check_json,
                  "Print {\"ok\", \"files\": [...], \"ambiguities\": [...]} on stdout");

  std::string manifest;
  std::string output = "-";
  auto* compile = app.add_subcommand("compile", "Compile a Boot Profile manifest (YAML/JSON) to FBOOPROF v0");
  compile->add_option("MANIFEST", manifest, "Manifest file ('-' for stdin; relative paths then resolve "
                                            "against the current directory)")
      ->required();
  compile->add_option("-o,--output", output, "Output file ('-' = stdout, refused on a terminal)");
  std::string base_dir;
  compile->add_option("--base-dir", base_dir, "Directory that relative file paths in the manifest resolve "
                                              "against (default: the manifest's directory)");

  std::string depfile;
  compile->add_option("--depfile", depfile, "Write a Make/Ninja depfile listing the manifest and every file read");
  bool optimize_after = false;
  compile->add_flag("--optimize", optimize_after,
                    "Append a FBPHINT0 pipeline-hints record and a FBBLKTB0 block-hash table record (see "
                    "optimize) to the compiled profile");
  std::vector<std::string> local_artifacts;
  std::string cache_dir;

  std::string optimize_input;
  std::string optimize_output = "-";
  std::uint32_t hash_block_size = fastboop::pipeline::kDefaultHashBlockSize;
  auto* optimize = app.add_subcommand(
      "optimize", "Collect pipeline hints (sparse chunk maps, tar entry offsets, content digests) and a block-hash "
                  "table of every http, file and casync artifact (SHA-256 per 64 KiB block, so every block a partial "
                  "read fetches is checked) for a compiled Boot Profile, and write one FBPHINT0 record followed by "
                  "one FBBLKTB0 record (upstream readers stop at the second with a warning); reads whole stage "
                  "outputs");
  optimize->add_option("INPUT", optimize_input, "Compiled Boot Profile (FBOOPROF; '-' for stdin)")->required();
  optimize->add_option("-o,--output", optimize_output, "Output file ('-' = stdout, refused on a terminal)");
  for (auto* sub : {compile, optimize}) {
    sub->add_option("--local-artifact", local_artifacts,
                    "A local file that replaces any stage with the same content digest (repeatable)");
    sub->add_option("--cache-dir", cache_dir, "Cache for downloads and materialized stage outputs");
    sub->add_option("--hash-block-size", hash_block_size,
                    "Block size of the block-hash tables in bytes (a power of two, 4096 to 16777216; default "
                    "65536, the http fetch unit, so checking fetches nothing extra)");
  }

  std::string devpro;
  std::string devpro_output = "-";
  auto* compile_devpro = app.add_subcommand("compile-devpro", "Compile a Device Profile (YAML/JSON) to FBOODEVP v0");
  compile_devpro->add_option("YAML", devpro, "Device profile ('-' for stdin)")->required();
  compile_devpro->add_option("-o,--output", devpro_output, "Output file ('-' = stdout, refused on a terminal)");

  std::string show_input;
  std::string show_output = "-";
  bool json = false;
  auto* show = app.add_subcommand("show", "Show compiled profiles (FBOODEVP, FBOOPROF, FBPHINT0 records, a channel's "
                                          "records) as YAML that compiles back to the same bytes, or a DevPro source");
  show->add_option("FILE", show_input, "File or channel URL to show ('-' for stdin)")->required();
  show->add_flag("--json", json, "JSON instead of YAML");
  show->add_option("-o,--output", show_output, "Output file ('-' = stdout)");

  auto* channel = app.add_subcommand(
      "channel", "Write channels: one file (or URL, once published) holding compiled profiles and, optionally, "
                 "the image they boot");
  channel->require_subcommand(1);
  ChannelPackRequest pack_request;
  std::vector<std::string> pack_records;
  std::string pack_artifact, pack_output;
  bool pack_index = false;
  auto* pack = channel->add_subcommand(
      "pack", "Concatenate compiled records (compile, compile-devpro, optimize outputs) and optionally the "
              "artifact (the rootfs image) into a channel");
  pack->add_option("RECORDS", pack_records,
                   "Files of compiled records, or Device Profile YAML/JSON, in the order to write them")
      ->required();
  pack->add_option("--artifact", pack_artifact, "The image appended after the records (read as the rootfs)");
  pack->add_flag("--index", pack_index,
                 "Start the channel with a FBCHIDX0 index, so readers (over http) find every record at once");
  pack->add_option("-o,--output", pack_output, "Output file")->required();
  std::string pack_depfile;
  pack->add_option("--depfile", pack_depfile, "Write a Make/Ninja depfile listing every file read");
  std::string index_input, index_output;
  auto* index = channel->add_subcommand(
      "index", "Put a FBCHIDX0 index in front of a channel (records and artifact copied unchanged)");
  index->add_option("CHANNEL", index_input, "Channel file")->required();
  index->add_option("-o,--output", index_output, "Output file")->required();

  auto* list = app.add_subcommand("list", "List every Device Profile on the search path with its source");
  bool list_json = false;
  list->add_flag("--json", list_json, "JSON array of {id, display_name, source, overrides}");

  draft::DraftRequest draft_request;
  std::string draft_id, draft_device, draft_image, draft_deviceinfo, draft_output = "-";
  bool draft_live = false, draft_serial = false;
  auto* draft_cmd = app.add_subcommand(
      "draft", "Draft a Device Profile for a new device from the device itself (getvar only), a stock boot image "
               "and/or a postmarketOS deviceinfo file; every field says where it came from");
  draft_cmd->add_flag("--device", draft_live, "Read the device in fastboot mode (getvar:all, or well-known "
                                              "variables one by one; nothing else is sent)");
  draft_cmd->add_option("-s", draft_device, "With --device: SERIAL, usb:BUS-PORT, tcp:HOST[:PORT], udp:HOST[:PORT]");
  draft_cmd->add_option("--boot-image", draft_image, "The device's stock boot.img (boot constraints)")
      ->check(CLI::ExistingFile);
  draft_cmd->add_option("--deviceinfo", draft_deviceinfo, "A postmarketOS deviceinfo file")->check(CLI::ExistingFile);
  std::string draft_usb;
  draft_cmd->add_option("--usb-id", draft_usb, "VID:PID of the bootloader, for a device read over tcp:/udp:");
  draft_cmd->add_option("--id", draft_id, "Profile id (default: deviceinfo codename, else the product variable)");
  draft_cmd->add_flag("--allow-serial-probe", draft_serial,
                      "Let the serial number be a probe (the profile then fits this one unit only)");
  draft_cmd->add_option("-o,--output", draft_output, "Output YAML file ('-' = stdout)");

  const auto optimize_options = [&]() {
    OptimizeOptions o;
    o.cache_dir = cache_dir;
    o.hash_block_size = hash_block_size;
    for (const auto& a : local_artifacts)
      o.local_artifacts.emplace_back(a);
    return o;
  };

  return cli::run(app, argc, argv, [&]() -> Result<void> {
    if (*check)
      return run_check(check_files, strict, check_json);
    if (*compile) {
      std::vector<fs::path> files_read;
      auto profile = TRY(compile_manifest(manifest, base_dir, &files_read));
      auto bytes = TRY(encode_boot_profile(profile));
      if (optimize_after) {
        // The hashed local files serve as local artifacts, so stages resolve
        // the same way compile resolved them (not against the CWD).
        auto options = optimize_options();
        for (const auto& f : files_read)
          options.local_artifacts.push_back(f);
        auto hints = TRY(optimize_boot_profile(profile, options));
        append(bytes, hints);
      }
      TRY(write_binary(output, bytes));
      if (!depfile.empty()) {
        if (output == "-")
          return Error("--depfile needs -o FILE", ErrorKind::Usage);
        std::vector<std::string> deps;
        if (manifest != "-")
          deps.push_back(manifest);
        for (const auto& f : files_read)
          deps.push_back(f.string());
        TRY(write_depfile(depfile, output, deps));
      }
      return ok();
    }
    if (*optimize) {
      auto bytes = TRY(read_input(optimize_input));
      auto profile = TRY_CTX(decode_boot_profile(bytes), display(optimize_input));
      auto hints = TRY(optimize_boot_profile(profile, optimize_options()));
      return write_binary(optimize_output, hints);
    }
    if (*compile_devpro) {
      auto profile = TRY(parse_devpro(devpro));
      auto bytes = TRY(encode_device_profile(profile));
      return write_binary(devpro_output, bytes);
    }
    if (*show) {
      // A channel (a path or URL starting with records, indexed or with an
      // artifact) is read through the pipeline: only its head is fetched.
      pipeline::BlockSourcePtr source;
      const bool url = show_input.starts_with("http://") || show_input.starts_with("https://");
      std::error_code ec;
      if (show_input == "-")
        source = pipeline::make_memory_source(TRY(read_input(show_input)), "stdin");
      else if (!url && !fs::exists(show_input, ec))
        return Error(show_input + ": no such file", ErrorKind::NotFound);
      else
        source = TRY(pipeline::open_detect_terminal(show_input)).source;
      Bytes magic(static_cast<std::size_t>(std::min<std::uint64_t>(source->size(), 8)));
      TRY(source->read_at(0, magic));
      if (starts_with_channel_record(magic)) {
        auto shown = TRY(show_channel(*source, display(show_input), json));
        log::info(shown.summary);
        return write_text(show_output, shown.records);
      }
      auto bytes = TRY(pipeline::read_bytes(*source, 0, static_cast<std::size_t>(std::min<std::uint64_t>(
                                                              source->size(), std::uint64_t{64} << 20))));
      auto text = TRY(show_bytes(bytes, display(show_input), json ? ShowFormat::Json : ShowFormat::Yaml));
      return write_text(show_output, text);
    }
    if (*pack) {
      for (const auto& r : pack_records)
        pack_request.record_files.emplace_back(r);
      if (!pack_artifact.empty())
        pack_request.artifact = pack_artifact;
      pack_request.indexing = pack_index ? ChannelIndexing::Index : ChannelIndexing::None;
      if (!pack_depfile.empty())
        TRY(check_output_path(pack_depfile));
      TRY(pack_channel(pack_request, pack_output));
      if (pack_depfile.empty())
        return ok();
      std::vector<std::string> deps = pack_records;
      if (!pack_artifact.empty())
        deps.push_back(pack_artifact);
      return write_depfile(pack_depfile, pack_output, deps);
    }
    if (*index)
      return index_channel_file(index_input, index_output);
    if (*list)
      return run_list(list_json);
    if (*draft_cmd) {
      if (!draft_device.empty() && !draft_live)
        return Error("-s names the device for --device; add --device", ErrorKind::Usage);
      if (!draft_id.empty())
        draft_request.id = draft_id;
      if (!draft_usb.empty()) {
        unsigned vid = 0, pid = 0;
        char tail = 0;
        if (std::sscanf(draft_usb.c_str(), "%x:%x%c", &vid, &pid, &tail) != 2 || vid > 0xffff || pid > 0xffff)
          return Error("--usb-id: expected VID:PID in hex, e.g. 18d1:d00d, not '" + draft_usb + "'",
                       ErrorKind::Usage);
        draft_request.usb_ids = UsbMatch{static_cast<std::uint16_t>(vid), static_cast<std::uint16_t>(pid)};
      }
      draft_request.read_device = draft_live ? draft::ReadDevice::Yes : draft::ReadDevice::No;
      if (!draft_device.empty())
        draft_request.device = draft_device;
      if (!draft_image.empty())
        draft_request.boot_image = draft_image;
      if (!draft_deviceinfo.empty())
        draft_request.deviceinfo = draft_deviceinfo;
      draft_request.serial = draft_serial ? draft::SerialProbes::Allow : draft::SerialProbes::Never;
      auto drafted = TRY(draft::draft_from_sources(draft_request));
      for (const auto& c : drafted.conflicts)
        log::warn("conflict: " + c);
      for (const auto& u : drafted.unmapped)
        log::warn("not mapped: deviceinfo_" + u);
      for (const auto& a : drafted.ambiguous_with)
        log::warn("cannot be told apart from " + a);
      return write_text(draft_output, drafted.yaml);
    }
    return Error("no subcommand", ErrorKind::Usage);
  });
}

// fastboop-cache: the artifact cache the CMake functions run every generation
// through (`run`), and its statistics (`stats`). The work is in
// artifact_cache/run.hpp; this parses arguments and reports.
#include "artifact_cache/run.hpp"
#include "artifact_cache/store.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/version.hpp"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace fastboop;
using namespace fastboop::artifact_cache;

namespace {

constexpr const char* kHelp =
    "Usage: fastboop-cache run [--OPTION=VALUE]... -- <command>...\n"
    "       fastboop-cache stats [--zero] [--cache-dir=DIR]\n"
    "\n"
    "run: one generation through the content-addressed artifact cache: the key from the\n"
    "inputs' contents, a verified local hit copied into place, else a verified hit from the\n"
    "remote cache (stored locally), else <command> runs and its outputs are stored (and\n"
    "uploaded). The fastboop CMake functions (add_fastboop_stage0, add_fastboop_boot_image)\n"
    "run every generation through it; there is no need to run it by hand.\n"
    "  --cache-dir=DIR        local cache (empty: no cache, the command just runs)\n"
    "  --kind=KIND            entry kind (stage0, bootimg)\n"
    "  --key-tool=PROGRAM     the generator: its GNU build-id is part of the key, or its\n"
    "                         bytes when it has none (repeatable; before the key files)\n"
    "  --key-file=FILE        a file whose bytes are part of the key (repeatable)\n"
    "  --key-dir=DIR          a directory whose files are (repeatable)\n"
    "  --key-text=TEXT        the non-path options in the key ('|'-separated)\n"
    "  --output=FILE          a file the command writes (repeatable), or\n"
    "  --output-dir=DIR       the directory whose files it writes\n"
    "  --stamp=FILE           touched on success\n"
    "  --depfile=FILE --depfile-target=TARGET  the command's depfile, and its target\n"
    "  --memo-dir=DIR         this build tree's digest records\n"
    "  --remote=URL           remote cache (default: $FASTBOOP_REMOTE_CACHE)\n"
    "  --remote-read-only     never upload (also FASTBOOP_REMOTE_CACHE_READ_ONLY=1)\n"
    "\n"
    "stats: local hits, remote hits, misses and bytes moved, summed over every run since\n"
    "the last --zero, for the cache in --cache-dir (default: $FASTBOOP_CACHE_DIR, else\n"
    "$XDG_CACHE_HOME/fastboop/artifacts, else ~/.cache/fastboop/artifacts).\n"
    "\n"
    "Environment: FASTBOOP_REMOTE_CACHE_NETRC (a netrc file for the remote's credentials,\n"
    "default ~/.netrc), FASTBOOP_REMOTE_CACHE_TOKEN (a bearer token).\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help\n"
    "  --version      show the version\n";

int usage(const std::string& why) {
  std::fprintf(stderr, "fastboop-cache: %s\n(fastboop-cache --help shows the usage)\n",
               why.c_str());
  return 2;
}

struct RunArguments {
  RunRequest request;
  std::string remote;
  bool read_only = false;
};

// --name=value options up to "--", then the command.
std::optional<std::string> parse_run(const std::vector<std::string>& args, RunArguments& out) {
  RunRequest& r = out.request;
  const std::pair<std::string_view, std::string RunRequest::*> single[] = {
      {"cache-dir", &RunRequest::cache_dir}, {"kind", &RunRequest::kind},
      {"key-text", &RunRequest::key_text},   {"output-dir", &RunRequest::output_dir},
      {"stamp", &RunRequest::stamp},         {"depfile", &RunRequest::depfile},
      {"depfile-target", &RunRequest::depfile_target}, {"memo-dir", &RunRequest::memo_dir}};
  const std::pair<std::string_view, std::vector<std::string> RunRequest::*> repeated[] = {
      {"key-tool", &RunRequest::key_tools},
      {"key-file", &RunRequest::key_files},
      {"key-dir", &RunRequest::key_dirs},
      {"output", &RunRequest::outputs}};
  std::size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    if (a == "--remote-read-only") {
      out.read_only = true;
      continue;
    }
    const std::size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos)
      return "unexpected argument '" + a + "' (options are --name=value)";
    const std::string_view name = std::string_view(a).substr(2, eq - 2);
    const std::string value = a.substr(eq + 1);
    bool known = false;
    for (const auto& [n, member] : single)
      if (n == name) {
        r.*member = value;
        known = true;
      }
    for (const auto& [n, member] : repeated)
      if (n == name) {
        (r.*member).push_back(value);
        known = true;
      }
    if (name == "remote") {
      out.remote = value;
      known = true;
    }
    if (!known)
      return "unknown option --" + std::string(name);
  }
  if (i == args.size() || i + 1 == args.size())
    return std::string("no command after --");
  r.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  if (!r.cache_dir.empty() && r.kind.empty())
    return std::string("--kind is required with a cache");
  if (!r.output_dir.empty() && !r.outputs.empty())
    return std::string("give --output or --output-dir, not both");
  return std::nullopt;
}

int run(const std::vector<std::string>& args) {
  RunArguments a;
  if (auto why = parse_run(args, a))
    return usage(*why);
  std::unique_ptr<RemoteCache> remote;
  auto config = RemoteConfig::from_environment(a.remote, a.read_only);
  if (!config.url.empty() && !a.request.cache_dir.empty())
    remote = std::make_unique<RemoteCache>(std::move(config));
  Counters counters;
  auto outcome = run_cached(a.request, remote.get(), counters);
  add_to_stats(a.request.cache_dir, counters);
  if (!outcome) {
    std::fprintf(stderr, "fastboop: %s\n", outcome.error().message().c_str());
    return cli::exit_code_for(outcome.error());
  }
  return 0;
}

int stats(const std::vector<std::string>& args) {
  std::string dir = default_cache_dir();
  bool zero = false;
  for (const auto& a : args) {
    if (a == "--zero")
      zero = true;
    else if (a.rfind("--cache-dir=", 0) == 0)
      dir = a.substr(12);
    else
      return usage("unexpected argument '" + a + "'");
  }
  if (dir.empty())
    return usage("no cache (FASTBOOP_CACHE_DIR is empty)");
  if (zero) {
    if (auto z = zero_stats(dir); !z) {
      std::fprintf(stderr, "fastboop-cache: %s\n", z.error().message().c_str());
      return cli::exit_code_for(z.error());
    }
    return 0;
  }
  std::printf("cache directory  %s\n%s", dir.c_str(), format_stats(read_stats(dir)).c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("fastboop-cache %s\n", std::string(version_string()).c_str());
    return 0;
  }
  log::init_from_env();
  if (!args.empty() && args[0] == "run")
    return run({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "stats")
    return stats({args.begin() + 1, args.end()});
  return usage(args.empty() ? "no subcommand (run, stats)" : "unknown subcommand '" + args[0] + "'");
}

#include "common/cli.hpp"

#include "common/log.hpp"
#include "common/version.hpp"

#include <cstdio>
#include <unistd.h>

namespace fastboop::cli {

namespace {
int g_verbose = 0;
bool g_quiet = false;
} // namespace

void add_common_options(CLI::App& app) {
  app.set_version_flag("--version", std::string(version_string()));
  app.add_flag("-v,--verbose", g_verbose, "More output (repeat for more)");
  app.add_flag("-q,--quiet", g_quiet, "Only errors");
  app.require_subcommand(0);
}

int exit_code_for(const Error& error) {
  return error.kind() == ErrorKind::Usage ? exit_usage : exit_invalid;
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

int run(CLI::App& app, int argc, char** argv, const std::function<Result<void>()>& body) {
  log::init_from_env();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  }
  if (g_quiet)
    log::set_level(log::Level::Error);
  else if (g_verbose == 1)
    log::set_level(log::Level::Debug);
  else if (g_verbose >= 2)
    log::set_level(log::Level::Trace);
  auto result = body();
  if (!result) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), result.error().message().c_str());
    return exit_code_for(result.error());
  }
  return exit_ok;
}

} // namespace fastboop::cli

#include "common/cli.hpp"

#include "common/log.hpp"
#include "common/version.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unistd.h>

namespace fastboop::cli {

namespace {

int g_verbose = 0;
bool g_quiet = false;
ToolDoc g_doc; // one app per process

constexpr ExitCodeRow kExitCodes[] = {
    {Exit::Ok, "success"},
    {Exit::Failed, "failure: invalid input data, or a check that failed"},
    {Exit::Usage, "usage error: bad command line"},
    {Exit::MissingInput, "missing input: a named file, directory or device profile does not exist"},
    {Exit::System, "system error: the operating system refused (permissions, disk full, I/O)"},
    {Exit::Device, "device error: no device, or the device or its transport failed"},
    {Exit::Network, "network error: a download failed after its retries"},
    {Exit::Unsupported, "unsupported: a valid input that fastboop does not handle"},
};

constexpr std::string_view kGenerateMan = "--generate-man-page";
constexpr std::string_view kGenerateBash = "--generate-bash-completion";

// The options a subcommand may take from its parent (accepted anywhere).
bool is_common_option(const CLI::Option* o) {
  return o->check_lname("verbose") || o->check_lname("quiet") || o->check_lname("help") ||
         o->check_lname("version");
}

bool visible(const CLI::Option* o) {
  return !o->get_group().empty();
}

// A flag takes no value (CLI11 gives it no type name).
bool is_flag(const CLI::Option* o) {
  return o->get_type_name().empty();
}

std::string exit_code_text() {
  std::string s = "Exit codes:\n";
  for (const auto& row : kExitCodes)
    s += "  " + std::to_string(static_cast<int>(row.code)) + "  " + std::string(row.meaning) + "\n";
  return s;
}

std::string app_footer() {
  std::string s;
  if (!g_doc.examples.empty()) {
    s += "Examples:\n";
    for (const auto& e : g_doc.examples)
      s += "  " + e.command + "\n      " + e.what + "\n";
    s += "\n";
  }
  if (!g_doc.environment.empty()) {
    s += "Environment:\n";
    for (const auto& e : g_doc.environment)
      s += "  " + e.name + "\n      " + e.meaning + "\n";
    s += "\n";
  }
  return s + exit_code_text();
}

template <typename F> void for_each_subcommand(CLI::App& app, const F& f) {
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    f(*sub);
    for_each_subcommand(*sub, f);
  }
}

// Conventions that must hold for subcommands added after add_common_options:
// -v/-q after the subcommand, the exit codes (and nothing inherited from the
// parent's footer) at the end of each subcommand's --help.
void finish_definitions(CLI::App& app) {
  app.footer(app_footer);
  for_each_subcommand(app, [](CLI::App& sub) {
    sub.fallthrough();
    sub.footer(std::string());
    sub.footer(exit_code_text);
  });
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({}))
    names.push_back(sub->get_name());
  return names;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string s;
  for (const auto& x : v)
    s += (s.empty() ? "" : std::string(sep)) + x;
  return s;
}

// CLI11's message, made specific where CLI11 is vague: an unknown word where
// a subcommand is required is named.
std::string parse_error_message(CLI::App& app, const CLI::ParseError& e) {
  if (app.get_subcommands().empty() && app.get_require_subcommand_min() > 0) {
    const std::string choices = " (one of: " + join(subcommand_names(app), ", ") + ")";
    for (const auto& word : app.remaining()) {
      if (word.empty())
        continue;
      if (word[0] != '-')
        return "unknown subcommand '" + word + "'" + choices;
      return "unknown option '" + word + "'; a subcommand is required" + choices;
    }
  }
  return e.what();
}

// A subcommand's run must not silently ignore options of the parent that
// fallthrough let through (e.g. fastboop-bootimg's pack options after `info`).
Result<void> check_parent_options(const CLI::App& app) {
  const auto subs = app.get_subcommands();
  if (subs.empty())
    return ok();
  for (const CLI::Option* o : app.get_options()) {
    if (o->count() == 0 || is_common_option(o))
      continue;
    return Error(o->get_name() + " is an option of " + app.get_name() +
                     " without a subcommand; it does not apply to '" + subs.front()->get_name() +
                     "'",
                 ErrorKind::Usage);
  }
  return ok();
}

// --- man page --------------------------------------------------------------

std::string roff_escape(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\''))
      out += "\\&";
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    line_start = c == '\n';
  }
  return out;
}

std::string first_line(std::string_view text) {
  auto nl = text.find('\n');
  std::string line(text.substr(0, nl));
  while (!line.empty() && (line.back() == '.' || line.back() == ' '))
    line.pop_back();
  return line;
}

// "fastboop-x: does things" and "Does things" both give "does things".
std::string purpose(const CLI::App& app) {
  std::string line = first_line(app.get_description());
  const std::string prefix = app.get_name() + ": ";
  if (line.rfind(prefix, 0) == 0)
    line = line.substr(prefix.size());
  if (!line.empty() && line[0] >= 'A' && line[0] <= 'Z' &&
      !(line.size() > 1 && line[1] >= 'A' && line[1] <= 'Z'))
    line[0] = static_cast<char>(line[0] - 'A' + 'a');
  return line;
}

std::string option_label(const CLI::Option* o) {
  std::string names;
  for (const auto& s : o->get_snames())
    names += (names.empty() ? "" : ", ") + std::string("-") + s;
  for (const auto& l : o->get_lnames())
    names += (names.empty() ? "" : ", ") + std::string("--") + l;
  if (is_flag(o))
    return "\\fB" + roff_escape(names) + "\\fR";
  return "\\fB" + roff_escape(names) + "\\fR \\fI" + roff_escape(o->get_type_name()) + "\\fR";
}

std::string man_options(const CLI::App& app) {
  std::string s;
  for (const CLI::Option* o : app.get_options()) {
    if (!visible(o) || o->get_positional())
      continue;
    std::string text = o->get_description();
    if (!o->get_default_str().empty())
      text += " (default: " + o->get_default_str() + ")";
    s += ".TP\n" + option_label(o) + "\n" + roff_escape(text) + "\n";
  }
  return s;
}

std::string man_positionals(const CLI::App& app) {
  std::string s;
  for (const CLI::Option* o : app.get_options()) {
    if (!o->get_positional())
      continue;
    s += ".TP\n\\fI" + roff_escape(o->get_name(true)) + "\\fR" +
         (o->get_items_expected_max() > 1 ? "..." : "") + "\n" + roff_escape(o->get_description()) +
         (o->get_required() ? "" : " (optional)") + "\n";
  }
  return s;
}

std::string usage_line(const CLI::App& app, const std::string& path) {
  std::string s = "\\fB" + roff_escape(path) + "\\fR [\\fIOPTIONS\\fR]";
  for (const CLI::Option* o : app.get_options()) {
    if (!o->get_positional())
      continue;
    std::string p = "\\fI" + roff_escape(o->get_name(true)) + "\\fR" +
                    (o->get_items_expected_max() > 1 ? "..." : "");
    s += " " + (o->get_required() ? p : "[" + p + "]");
  }
  if (!app.get_subcommands({}).empty())
    s += app.get_require_subcommand_min() > 0 ? " \\fISUBCOMMAND\\fR ..."
                                              : " [\\fISUBCOMMAND\\fR ...]";
  return s;
}

void man_subcommands(const CLI::App& app, const std::string& path, std::string& out) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    const std::string sub_path = path + " " + sub->get_name();
    out += ".SS \"" + roff_escape(sub_path) + "\"\n" + usage_line(*sub, sub_path) + "\n.PP\n" +
           roff_escape(sub->get_description()) + "\n" + man_positionals(*sub) + man_options(*sub);
    man_subcommands(*sub, sub_path, out);
  }
}

// --- bash completion ---------------------------------------------------------

std::string option_words(const CLI::App& app) {
  std::string s;
  for (const CLI::Option* o : app.get_options()) {
    if (!visible(o) || o->get_positional())
      continue;
    for (const auto& n : o->get_snames())
      s += (s.empty() ? "-" : " -") + n;
    for (const auto& n : o->get_lnames())
      s += (s.empty() ? "--" : " --") + n;
  }
  return s;
}

// Options that take a value: the next word is that value (a file, mostly).
void value_options(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_positional() || is_flag(o))
      continue;
    for (const auto& n : o->get_snames())
      out.push_back("-" + n);
    for (const auto& n : o->get_lnames())
      out.push_back("--" + n);
  }
  for (const CLI::App* sub : app.get_subcommands({}))
    value_options(*sub, out);
}

std::string shell_identifier(std::string_view name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '_';
  return s;
}

} // namespace

std::span<const ExitCodeRow> exit_codes() {
  return kExitCodes;
}

void add_common_options(CLI::App& app, ToolDoc doc) {
  g_doc = std::move(doc);
  app.set_version_flag("--version", app.get_name() + " " + std::string(version_string()),
                       "Print the tool name and version, then exit");
  app.add_flag("-v,--verbose", g_verbose, "More output (repeat for more); accepted anywhere");
  app.add_flag("-q,--quiet", g_quiet,
               "Only errors (no progress, no bootloader messages); accepted anywhere");
  app.require_subcommand(0);
  app.fallthrough();
  app.footer(app_footer);
}

int exit_code_for(const Error& error) {
  switch (error.kind()) {
  case ErrorKind::Invalid:
    return static_cast<int>(Exit::Failed);
  case ErrorKind::Usage:
    return static_cast<int>(Exit::Usage);
  case ErrorKind::NotFound:
    return static_cast<int>(Exit::MissingInput);
  case ErrorKind::Io:
    return static_cast<int>(Exit::System);
  case ErrorKind::Device:
    return static_cast<int>(Exit::Device);
  case ErrorKind::Network:
    return static_cast<int>(Exit::Network);
  case ErrorKind::Unsupported:
    return static_cast<int>(Exit::Unsupported);
  }
  return static_cast<int>(Exit::Failed);
}

bool quiet() {
  return !log::enabled(log::Level::Info);
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

int run(CLI::App& app, int argc, char** argv, const std::function<Result<void>()>& body) {
  finish_definitions(app);
  const std::string tool = app.get_name();
  if (argc == 2 && argv[1] == kGenerateMan) {
    std::fputs(man_page(app, man_page_date()).c_str(), stdout);
    return exit_ok;
  }
  if (argc == 2 && argv[1] == kGenerateBash) {
    std::fputs(bash_completion(app).c_str(), stdout);
    return exit_ok;
  }
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
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for usage.\n", tool.c_str(),
                 parse_error_message(app, e).c_str(), tool.c_str());
    return exit_usage;
  }
  if (g_quiet)
    log::set_level(log::Level::Error);
  else if (g_verbose == 1)
    log::set_level(log::Level::Debug);
  else if (g_verbose >= 2)
    log::set_level(log::Level::Trace);
  auto result = check_parent_options(app);
  if (result)
    result = body();
  if (!result) {
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), result.error().message().c_str());
    return exit_code_for(result.error());
  }
  return exit_ok;
}

std::string man_page_date() {
  std::time_t t = 0;
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e)
    t = static_cast<std::time_t>(std::strtoll(e, nullptr, 10));
  else
    t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string man_page(const CLI::App& app, std::string_view date) {
  const std::string name = app.get_name();
  std::string upper;
  for (char c : name)
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string s = ".\\\" Generated by " + name + " " + std::string(kGenerateMan) +
                  " from its command-line definitions; do not edit.\n";
  s += ".TH " + upper + " 1 \"" + std::string(date) + "\" \"fastboop " +
       std::string(version_string()) + "\" \"User Commands\"\n";
  s += ".SH NAME\n" + roff_escape(name) + " \\- " + roff_escape(purpose(app)) + "\n";
  s += ".SH SYNOPSIS\n" + usage_line(app, name) + "\n";
  s += ".SH DESCRIPTION\n" + roff_escape(app.get_description()) + "\n";
  const std::string positionals = man_positionals(app);
  if (!positionals.empty())
    s += ".SH ARGUMENTS\n" + positionals;
  s += ".SH OPTIONS\n" + man_options(app);
  if (!app.get_subcommands({}).empty()) {
    s += ".SH SUBCOMMANDS\n";
    man_subcommands(app, name, s);
  }
  s += ".SH ENVIRONMENT\n.TP\n\\fBFASTBOOP_LOG\\fR\n" +
       roff_escape("error, warn, info (default), debug or trace; -v and -q override it") + "\n";
  for (const auto& e : g_doc.environment)
    s += ".TP\n\\fB" + roff_escape(e.name) + "\\fR\n" + roff_escape(e.meaning) + "\n";
  s += ".SH EXIT STATUS\n";
  for (const auto& row : kExitCodes)
    s += ".TP\n\\fB" + std::to_string(static_cast<int>(row.code)) + "\\fR\n" +
         roff_escape(row.meaning) + "\n";
  if (!g_doc.examples.empty()) {
    s += ".SH EXAMPLES\n";
    for (const auto& e : g_doc.examples)
      s += ".PP\n" + roff_escape(e.what) + "\n.PP\n.RS 4\n.nf\n" + roff_escape(e.command) +
           "\n.fi\n.RE\n";
  }
  s += ".SH SEE ALSO\n";
  std::string see;
  for (std::string_view other :
       {"fastboop-profile", "fastboop-stage0", "fastboop-bootimg", "fastboop-push"})
    if (other != name)
      see += (see.empty() ? "" : ",\n") + std::string("\\fB") + roff_escape(other) + "\\fR(1)";
  s += see + "\n";
  return s;
}

std::string bash_completion(const CLI::App& app) {
  const std::string name = app.get_name();
  const std::string fn = "_" + shell_identifier(name);
  std::vector<std::string> takes_value;
  value_options(app, takes_value);
  std::sort(takes_value.begin(), takes_value.end());
  takes_value.erase(std::unique(takes_value.begin(), takes_value.end()), takes_value.end());
  const auto subs = subcommand_names(app);
  std::string s = "# bash completion for " + name + ", generated by " + name + " " +
                  std::string(kGenerateBash) + " from its command-line definitions.\n";
  s += fn + "() {\n";
  s += "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub= i\n";
  s += "  for ((i = 1; i < COMP_CWORD; i++)); do\n";
  s += "    case ${COMP_WORDS[i]} in\n";
  if (!subs.empty())
    s += "      " + join(subs, "|") + ") sub=${COMP_WORDS[i]}; break ;;\n";
  s += "    esac\n  done\n";
  if (!takes_value.empty()) {
    s += "  case $prev in\n    " + join(takes_value, "|") + ")\n";
    s += "      COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n  esac\n";
  }
  s += "  local opts\n  case $sub in\n";
  const std::string common = option_words(app);
  for (const CLI::App* sub : app.get_subcommands({}))
    s += "    " + sub->get_name() + ") opts=\"" + option_words(*sub) +
         " -v --verbose -q --quiet\" ;;\n";
  s += "    *) opts=\"" + common + "\" ;;\n  esac\n";
  s += "  if [[ $cur == -* ]]; then\n    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n    "
       "return\n  fi\n";
  if (!subs.empty())
    s += "  if [[ -z $sub ]]; then\n    COMPREPLY=($(compgen -W \"" + join(subs, " ") +
         "\" -- \"$cur\"))\n" +
         (app.get_require_subcommand_min() > 0 ? "    return\n"
                                               : "    [[ ${#COMPREPLY[@]} -gt 0 ]] && return\n") +
         "  fi\n";
  s += "  COMPREPLY=($(compgen -f -- \"$cur\"))\n}\n";
  s += "complete -o filenames -F " + fn + " " + name + "\n";
  return s;
}

} // namespace fastboop::cli

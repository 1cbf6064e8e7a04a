// One set of command-line conventions for every tool (tools/lib/common/cli.hpp),
// checked on the built binaries: the exit-code table in every --help and man
// page and the codes themselves across tools, --version, -v/-q anywhere,
// "<tool>: error:" on CLI11's own messages, unknown subcommands named, both
// mkbootimg spellings, --json outputs, and the generated man pages and bash
// completion (issue 16, items 13-18).
#include "common/cli.hpp"
#include "common/version.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The tools with man pages, from CMake (FASTBOOP_DOCUMENTED_TOOLS): a new
// tool is checked without editing this file.
std::vector<std::string> documented_tools() {
  std::vector<std::string> tools;
  const std::string list = FASTBOOP_DOCUMENTED_TOOLS;
  for (std::size_t at = 0; at <= list.size();) {
    const auto comma = std::min(list.find(',', at), list.size());
    if (comma > at)
      tools.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return tools;
}

const std::vector<std::string> kTools = documented_tools();

ProcessOutput tool(const std::string& name, std::vector<std::string> args) {
  args.insert(args.begin(), tool_path(name).string());
  return run(args);
}

std::string out_of(const ProcessOutput& p) {
  return std::string(as_chars(p.out));
}

// The subcommands as CLI11's own help formatter lists them (an independent
// rendering of the same definitions the generators walk).
std::vector<std::string> help_subcommands(const std::string& name) {
  auto help = tool(name, {"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  std::vector<std::string> subs;
  const std::string text = out_of(help);
  auto at = text.find("Subcommands:\n");
  if (at == std::string::npos)
    return subs;
  std::istringstream lines(text.substr(at + 13));
  for (std::string line; std::getline(lines, line) && line.rfind("  ", 0) == 0;)
    subs.push_back(line.substr(2, line.find(' ', 2) - 2));
  return subs;
}

int code(cli::Exit e) {
  return static_cast<int>(e);
}

TEST(CliConventions, EveryHelpEndsWithTheOneExitCodeTable) {
  for (const auto& name : kTools) {
    std::vector<std::vector<std::string>> helps = {{"--help"}};
    for (const auto& sub : help_subcommands(name))
      helps.push_back({sub, "--help"});
    for (const auto& args : helps) {
      auto h = tool(name, args);
      ASSERT_EQ(h.exit_code, 0) << name << " " << args.front() << ": " << h.err;
      const std::string text = out_of(h);
      const auto table = text.find("Exit codes:\n");
      ASSERT_NE(table, std::string::npos) << name << " " << args.front() << "\n" << text;
      for (const auto& row : cli::exit_codes())
        EXPECT_THAT(text.substr(table), HasSubstr("  " + std::to_string(code(row.code)) + "  " +
                                                  std::string(row.meaning)))
            << name << " " << args.front();
      // Nothing after the table: no footer inherited from the parent (the
      // vendor_boot fragment line once ended every bootimg subcommand's help).
      EXPECT_THAT(text.substr(text.rfind(std::string(cli::exit_codes().back().meaning))),
                  Not(HasSubstr("vendor_boot")))
          << name << " " << args.front();
    }
  }
}

TEST(CliConventions, Stage0BuildHelpSaysWhatASourceIs) {
  auto h = tool("fastboop-stage0", {"build", "--help"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_THAT(out_of(h), HasSubstr("SOURCE (a rootfs directory, image, URL, compiled Boot Profile or Boot Profile manifest)"));
  EXPECT_THAT(out_of(h), Not(HasSubstr("SOURCE (a rootfs directory)")));
}

TEST(CliConventions, VersionIsTheSameFormatEverywhere) {
  std::vector<std::string> all = kTools;
  all.push_back("fastboop-cache");
  for (const auto& name : all) {
    auto v = tool(name, {"--version"});
    EXPECT_EQ(v.exit_code, 0) << name;
    EXPECT_EQ(out_of(v), name + " " + std::string(version_string()) + "\n") << name;
  }
}

TEST(CliConventions, ParseErrorsCarryTheToolNameAndExitTwo) {
  for (const auto& name : kTools) {
    auto r = tool(name, {"--no-such-option"});
    EXPECT_EQ(r.exit_code, code(cli::Exit::Usage)) << name;
    EXPECT_THAT(r.err, StartsWith(name + ": error: ")) << name;
    EXPECT_THAT(r.err, HasSubstr("--no-such-option")) << name;
  }
}

TEST(CliConventions, UnknownSubcommandIsNamed) {
  auto r = tool("fastboop-profile", {"frobnicate"});
  EXPECT_EQ(r.exit_code, code(cli::Exit::Usage));
  EXPECT_THAT(
      r.err, HasSubstr("fastboop-profile: error: unknown subcommand 'frobnicate' (one of: check,"));
  auto s = tool("fastboop-stage0", {"frobnicate", "x"});
  EXPECT_EQ(s.exit_code, code(cli::Exit::Usage));
  EXPECT_THAT(s.err, HasSubstr("unknown subcommand 'frobnicate'"));
}

TEST(CliConventions, VerboseAndQuietAreAcceptedAfterTheSubcommand) {
  const std::string devpro = (source_dir() / "devprofiles.d" / "oneplus-fajita.yaml").string();
  for (const std::vector<std::string>& args : {std::vector<std::string>{"check", devpro, "-q"},
                                               {"-q", "check", devpro},
                                               {"check", "-v", devpro}}) {
    auto r = tool("fastboop-profile", args);
    EXPECT_EQ(r.exit_code, 0) << args.front() << ": " << r.err;
  }
  // -q: errors only, so no ok line; -v: debug lines.
  EXPECT_EQ(out_of(tool("fastboop-profile", {"check", devpro, "-q"})), "");
  EXPECT_THAT(tool("fastboop-profile", {"check", devpro, "-v"}).err, HasSubstr("debug: "));
  auto push = tool("fastboop-push", {"detect", "--json", "-q"});
  EXPECT_EQ(push.exit_code, 0) << push.err;
  auto bootimg = tool("fastboop-bootimg", {"info", "/nonexistent.img", "-q"});
  EXPECT_EQ(bootimg.exit_code, code(cli::Exit::MissingInput)) << bootimg.err;
}

TEST(CliConventions, CheckReportsOkLinesOnStdout) {
  const std::string devpro = (source_dir() / "devprofiles.d" / "oneplus-fajita.yaml").string();
  auto r = tool("fastboop-profile", {"check", devpro});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(out_of(r), devpro + ": ok: device profile 'oneplus-fajita'\n");
  EXPECT_THAT(r.err, Not(HasSubstr(": ok: ")));
}

TEST(CliConventions, MissingInputIsExitThreeInEveryTool) {
  TempDir dir;
  const std::string missing = (dir / "missing").string();
  struct Case {
    std::string tool;
    std::vector<std::string> args;
  } cases[] = {
      {"fastboop-profile", {"check", missing + ".yaml"}},
      {"fastboop-profile", {"compile", missing + ".yaml", "-o", (dir / "x.fbp").string()}},
      {"fastboop-profile", {"show", missing + ".fbp"}},
      {"fastboop-stage0", {"inspect", missing}},
      {"fastboop-stage0",
       {"build", (source_dir() / "tools").string(), "--device-profile", "no-such-device", "-o",
        (dir / "out").string()}},
      {"fastboop-bootimg", {"info", missing + ".img"}},
      {"fastboop-bootimg", {"--kernel", missing, "-o", (dir / "boot.img").string()}},
      {"fastboop-push", {"boot", missing + ".img", "--device-profile", "oneplus-fajita"}},
  };
  for (const auto& c : cases) {
    auto r = tool(c.tool, c.args);
    EXPECT_EQ(r.exit_code, code(cli::Exit::MissingInput))
        << c.tool << " " << c.args.front() << ": " << r.err;
    EXPECT_THAT(r.err, StartsWith(c.tool + ": error: ")) << r.err;
  }
}

TEST(CliConventions, BadOptionValuesAreUsageErrorsAlike) {
  TempDir dir;
  test::write_file(dir / "kernel", random_bytes(4096, 1));
  const std::string k = (dir / "kernel").string(), o = (dir / "boot.img").string();
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--pagesize", "4097"},
                                              {"--os_version", "1.2.3.4"},
                                              {"--header_version", "x"},
                                              {"--kernel-offset", "0xZZ"}}) {
    std::vector<std::string> args = {"--kernel", k, "-o", o};
    args.insert(args.end(), bad.begin(), bad.end());
    auto r = tool("fastboop-bootimg", args);
    EXPECT_EQ(r.exit_code, code(cli::Exit::Usage)) << bad.front() << ": " << r.err;
  }
}

TEST(CliConventions, DeviceAndNetworkFailuresHaveTheirCodes) {
  auto device = tool("fastboop-push", {"getvar", "product", "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(device.exit_code, code(cli::Exit::Device)) << device.err;
  auto network = tool("fastboop-stage0",
                      {"inspect", "http://127.0.0.1:1/rootfs.erofs", "--http-attempts", "1"});
  EXPECT_EQ(network.exit_code, code(cli::Exit::Network)) << network.err;
  EXPECT_THAT(network.err, HasSubstr("http://127.0.0.1:1/rootfs.erofs"));
}

TEST(CliConventions, SubcommandsDoNotSilentlyTakeTheParentsOptions) {
  TempDir dir;
  auto r = tool("fastboop-bootimg", {"info", "x.img", "--kernel", "k"});
  EXPECT_EQ(r.exit_code, code(cli::Exit::Usage)) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--kernel"));
}

TEST(CliConventions, BootimgTakesBothSpellingsOfEveryMkbootimgFlag) {
  TempDir dir;
  test::write_file(dir / "kernel", random_bytes(5000, 2));
  test::write_file(dir / "ramdisk", random_bytes(3000, 3));
  const std::string k = (dir / "kernel").string(), rd = (dir / "ramdisk").string();
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"kernel_offset", "0x00010000"}, {"ramdisk_offset", "0x02000000"},
      {"second_offset", "0x00f00000"}, {"tags_offset", "0x00000200"},
      {"header_version", "1"},         {"os_version", "12.0.0"},
      {"os_patch_level", "2024-01"}};
  auto pack = [&](const std::string& out, bool dashes) {
    std::vector<std::string> args = {"--kernel", k, "--ramdisk", rd, "-o", (dir / out).string()};
    for (const auto& [flag, value] : flags) {
      std::string name = flag;
      if (dashes)
        std::replace(name.begin(), name.end(), '_', '-');
      args.push_back("--" + name);
      args.push_back(value);
    }
    return tool("fastboop-bootimg", args);
  };
  auto underscores = pack("u.img", false);
  ASSERT_EQ(underscores.exit_code, 0) << underscores.err;
  auto dashes = pack("d.img", true);
  ASSERT_EQ(dashes.exit_code, 0) << dashes.err;
  EXPECT_EQ(read_file(dir / "u.img"), read_file(dir / "d.img"));
  auto info = tool("fastboop-bootimg", {"info", (dir / "d.img").string(), "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(out_of(info), HasSubstr("12.0.0")) << "the dashed --os-version took effect";
  // The help shows both spellings.
  EXPECT_THAT(out_of(tool("fastboop-bootimg", {"--help"})),
              HasSubstr("--kernel_offset,--kernel-offset"));
}

TEST(CliConventions, JsonOutputsParse) {
  const std::string devpro = (source_dir() / "devprofiles.d" / "oneplus-fajita.yaml").string();
  auto check = tool("fastboop-profile", {"check", devpro, "--json"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  auto c = nlohmann::json::parse(out_of(check));
  EXPECT_TRUE(c["ok"].get<bool>());
  ASSERT_EQ(c["files"].size(), 1u);
  EXPECT_EQ(c["files"][0]["file"], devpro);
  auto list = tool("fastboop-profile", {"list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto l = nlohmann::json::parse(out_of(list));
  ASSERT_TRUE(l.is_array());
  bool fajita = false;
  for (const auto& p : l)
    fajita |= p["id"] == "oneplus-fajita";
  EXPECT_TRUE(fajita) << l.dump();
  // No device attached: an empty array, not an error, for scripts.
  auto detect = tool("fastboop-push", {"detect", "--json"});
  EXPECT_EQ(detect.exit_code, 0) << detect.err;
  EXPECT_EQ(out_of(detect), "[]\n");
}

TEST(CliConventions, BootimgAnalyzeJsonIsTheSkeleton) {
  TempDir dir;
  test::write_file(dir / "kernel", random_bytes(5000, 4));
  auto packed = tool("fastboop-bootimg",
                     {"--kernel", (dir / "kernel").string(), "--header_version", "1", "--pagesize",
                      "4096", "--board", "stock", "-o", (dir / "boot.img").string()});
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  auto yaml = tool("fastboop-bootimg", {"analyze", (dir / "boot.img").string()});
  auto json = tool("fastboop-bootimg", {"analyze", "--json", (dir / "boot.img").string()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(out_of(json));
  const auto& bootimg = j["devpro"]["boot"]["fastboot_boot"]["android_bootimg"];
  EXPECT_EQ(bootimg["header_version"], 1);
  EXPECT_EQ(bootimg["page_size"], 4096);
  EXPECT_EQ(bootimg["board"], "stock");
  EXPECT_THAT(out_of(yaml), HasSubstr("board: \"stock\""));
  EXPECT_FALSE(j["notes"].empty());
}

// --- man pages and bash completion ----------------------------------------------

std::filesystem::path man_page(const std::string& name) {
  return binary_dir() / "man" / (name + ".1");
}

TEST(CliDocs, ManPagesRenderWithPurposeEverySubcommandExitCodesAndExamples) {
  FASTBOOP_REQUIRE_PROGRAM("man");
  for (const auto& name : kTools) {
    ASSERT_TRUE(std::filesystem::exists(man_page(name)))
        << man_page(name) << " is not built in the default tree";
    auto rendered = run({"env", "MANWIDTH=200", "man", "-P", "cat", "-l", man_page(name).string()});
    ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
    // man renders to a pipe without formatting escapes; collapse runs of spaces.
    std::string text;
    for (char ch : out_of(rendered))
      if (!(ch == ' ' && !text.empty() && text.back() == ' '))
        text += ch;
    EXPECT_THAT(text, HasSubstr("NAME\n " + name + " - ")) << text.substr(0, 300);
    EXPECT_THAT(text, Not(HasSubstr(name + " - " + name))) << "NAME needs a purpose";
    for (const auto& sub : help_subcommands(name))
      EXPECT_THAT(text, HasSubstr(name + " " + sub)) << name << " lacks subcommand " << sub;
    EXPECT_THAT(text, HasSubstr("EXIT STATUS"));
    for (const auto& row : cli::exit_codes())
      EXPECT_THAT(text, HasSubstr(std::string(row.meaning).substr(0, 20))) << name;
    EXPECT_THAT(text, HasSubstr("EXAMPLES"));
    EXPECT_THAT(text, Not(HasSubstr("1970"))) << "dated from the last commit or SOURCE_DATE_EPOCH";
  }
  // Every subcommand's options are in the page (help2man's pages had none).
  auto push = test::read_text(man_page("fastboop-push"));
  EXPECT_THAT(push, HasSubstr("\\-\\-force\\-device"));
  EXPECT_THAT(push, HasSubstr("\\-\\-then"));
  EXPECT_FALSE(std::filesystem::exists(man_page("fastboop-cache")))
      << "internal helper, no page";
}

TEST(CliDocs, ManPageDateComesFromSourceDateEpoch) {
  auto page = run({"env", "SOURCE_DATE_EPOCH=1700000000", tool_path("fastboop-push").string(),
                   "--generate-man-page"});
  ASSERT_EQ(page.exit_code, 0) << page.err;
  EXPECT_THAT(out_of(page), HasSubstr(".TH FASTBOOP-PUSH 1 \"2023-11-14\""));
  // The built pages carry the last commit's date (or SOURCE_DATE_EPOCH).
  auto git = run({"git", "-C", source_dir().string(), "log", "-1", "--format=%cs"});
  if (git.exit_code == 0 && std::getenv("SOURCE_DATE_EPOCH") == nullptr) {
    std::string day = out_of(git);
    day.pop_back();
    EXPECT_THAT(test::read_text(man_page("fastboop-push")), HasSubstr("\"" + day + "\""));
  }
}

// Runs the installed-style completion function for a command line and returns
// what bash would offer.
std::string complete(const std::string& name, const std::vector<std::string>& words) {
  const auto file = binary_dir() / "bash-completion" / name;
  std::string array;
  for (const auto& w : words)
    array += " '" + w + "'";
  std::string fn = "_" + name;
  std::replace(fn.begin(), fn.end(), '-', '_');
  auto r = run({"bash", "-c",
                "source '" + file.string() + "'; COMP_WORDS=(" + name + array +
                    "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); " + fn +
                    "; printf '%s\\n' \"${COMPREPLY[@]}\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out_of(r);
}

TEST(CliDocs, BashCompletionOffersSubcommandsAndTheirOptions) {
  for (const auto& name : kTools) {
    ASSERT_TRUE(std::filesystem::exists(binary_dir() / "bash-completion" / name)) << name;
    const std::string subs = complete(name, {""});
    for (const auto& sub : help_subcommands(name))
      EXPECT_THAT(subs, HasSubstr(sub + "\n")) << name;
  }
  const std::string boot = complete("fastboop-push", {"boot", "--"});
  for (const char* opt :
       {"--check\n", "--json\n", "--device-profile\n", "--force-device\n", "--verbose\n"})
    EXPECT_THAT(boot, HasSubstr(opt));
  EXPECT_THAT(boot, Not(HasSubstr("--strict"))) << "another subcommand's option";
  EXPECT_EQ(complete("fastboop-profile", {"com"}), "compile\ncompile-devpro\n");
  EXPECT_THAT(complete("fastboop-bootimg", {"--kernel-o"}), HasSubstr("--kernel-offset\n"));
}

} // namespace
} // namespace fastboop::test

// Every documented command runs as written (issue 16, item 6): the command
// lines in the tools' --help "Examples:" sections (also the man pages'
// EXAMPLES), in README.md, and in the comments of bootprofiles/ and examples/
// are extracted here and run against the bundled example rootfs (Debian's
// arm64 kernel package + a tiny init, examples/rootfs/make-rootfs.sh). Only
// what the test machine cannot have is adapted, each in rewrite() below: a
// device is the fastboot emulator (tests/push) instead, placeholders like DIR
// name the fixture. A new documented command is picked up and run without
// touching this file.
#include "emulator.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <gmock/gmock.h>
#include <regex>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

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

struct Documented {
  std::string where; // file or "<tool> --help"
  std::string command;
};

// "#   fastboop-x ..." / "#   make -C ..." comment lines, and README's
// indented or fenced shell lines that start with a tool.
std::vector<Documented> from_file(const fs::path& path, const std::string& label) {
  std::vector<Documented> out;
  std::ifstream in(path);
  static const std::regex comment(R"(^#\s+((fastboop-[a-z0-9-]+|make -C|cmake) .*)$)");
  static const std::regex code(R"(^(?:    |\t)((fastboop-[a-z0-9-]+) .*)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, comment) || std::regex_match(line, m, code))
      out.push_back({label, m[1]});
  }
  return out;
}

std::vector<Documented> from_help(const std::string& tool) {
  std::vector<Documented> out;
  auto help = run({tool_path(tool).string(), "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  const std::string text(as_chars(help.out));
  auto at = text.find("\nExamples:\n");
  if (at == std::string::npos)
    return out;
  std::istringstream lines(text.substr(at + 11));
  for (std::string line; std::getline(lines, line) && !line.empty();)
    if (line.rfind("  " + tool + " ", 0) == 0)
      out.push_back({tool + " --help", line.substr(2)});
  return out;
}

std::vector<Documented> all_documented() {
  std::vector<Documented> all;
  // The example Boot Profile's own commands first: later ones use their outputs.
  for (const auto& e : fs::directory_iterator(source_dir() / "bootprofiles"))
    for (auto& d : from_file(e.path(), "bootprofiles/" + e.path().filename().string()))
      all.push_back(d);
  for (const auto& tool : kTools)
    for (auto& d : from_help(tool))
      all.push_back(d);
  for (const auto& e : fs::recursive_directory_iterator(source_dir() / "examples"))
    if (e.is_regular_file())
      for (auto& d : from_file(e.path(), fs::relative(e.path(), source_dir()).string()))
        all.push_back(d);
  for (auto& d : from_file(source_dir() / "README.md", "README.md"))
    all.push_back(d);
  return all;
}

// What the test machine cannot have, as close as it gets. Returns "" for a
// documented command run by another test instead.
std::string rewrite(std::string c, const Emulator& emu, const fs::path& fixture) {
  // examples/cmake-distro's configure + build: ctest cmake.examples runs
  // exactly these (two build trees, a shared cache, no-op rebuild).
  if (c.rfind("cmake ", 0) == 0)
    return "";
  const std::string udp = emu.udp_target();
  // A device: the emulator answering as a DragonBoard 410c.
  c = std::regex_replace(c, std::regex(R"(-s udp:[0-9.]+\b)"), "-s " + udp);
  if (c.rfind("fastboop-push boot ", 0) == 0 && c.find(" -s ") == std::string::npos)
    c += " -s " + udp;
  if (c.rfind("fastboop-push getvar ", 0) == 0 && c.find(" -s ") == std::string::npos)
    c += " -s " + udp;
  // Placeholders.
  c = std::regex_replace(c, std::regex(R"(\bDIR\b)"), ".");
  c = std::regex_replace(c, std::regex("<dir with the tools>"), (binary_dir() / "bin").string());
  c = std::regex_replace(c, std::regex("<rootfs image>"), (fixture / "rootfs.erofs").string());
  // The Makefile example runs from the source tree; its outputs go to the fixture.
  if (c.rfind("make -C examples/makefile", 0) == 0)
    c = "make -C " + (source_dir() / "examples" / "makefile").string() + c.substr(25) +
        " OUT=" + (fixture / "make-out").string() + " --no-print-directory";
  return c;
}

TEST(DocumentedCommands, RunAsWrittenAgainstTheBundledExample) {
  FASTBOOP_REQUIRE_PROGRAM("aarch64-linux-gnu-gcc");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("make");
  TempDir f;
  // The bundled example rootfs (cached under ~/.cache/fastboop-test).
  auto rootfs = run({(source_dir() / "examples" / "rootfs" / "make-rootfs.sh").string(),
                     (f / "rootfs.erofs").string()});
  ASSERT_EQ(rootfs.exit_code, 0) << rootfs.err;
  // Relative paths in the docs are relative to the source tree; a copy keeps
  // the test's outputs out of it.
  fs::copy(source_dir() / "bootprofiles", f / "bootprofiles");
  fs::copy(source_dir() / "devprofiles.d", f / "devprofiles.d");
  // Inputs the docs name generically: a stage0 directory, boot images, a
  // kernel, ramdisk and DTB (from the example rootfs, through the tools).
  const std::string bin = (binary_dir() / "bin").string();
  auto prep = sh("cd '" + f.path().string() + "' && export PATH='" + bin + "':$PATH && " +
                 "fastboop-stage0 build rootfs.erofs --device-profile arrow-db410c --root-device /dev/mmcblk1 -o stage0 && "
                 "fastboop-bootimg --device-profile arrow-db410c --stage0 stage0 -o boot.img && "
                 "cp boot.img stock-boot.img && cp stage0/kernel Image.gz && cp "
                 "stage0/devicetree.dtb board.dtb && "
                 "cp stage0/stage0.cpio* initrd.img");
  ASSERT_EQ(prep.exit_code, 0) << prep.err;

  Emulator emu({"--var", "max-download-size=0x10000000", "--var", "product=MSM8916", "--var",
                "variant=SBC eMMC", "--var", "serialno=DOCS0001"});
  const auto documented = all_documented();
  std::map<std::string, int> per_tool_help;
  for (const auto& d : documented) {
    const std::string command = rewrite(d.command, emu, f.path());
    if (command.empty()) {
      std::printf("documented, run by cmake.examples: %s (%s)\n", d.command.c_str(), d.where.c_str());
      continue;
    }
    SCOPED_TRACE(d.where + ": " + d.command +
                 (command != d.command ? "  (run as: " + command + ")" : ""));
    auto r = sh("cd '" + f.path().string() + "' && export PATH='" + bin + "':$PATH && " + command +
                " </dev/null");
    EXPECT_EQ(r.exit_code, 0) << r.err << std::string(as_chars(r.out)).substr(0, 2000);
    if (d.where.find("--help") != std::string::npos)
      ++per_tool_help[d.where];
  }
  // Every tool documents examples, and the example Boot Profile's chain ran
  // through to a boot image for its own featured device.
  for (const auto& tool : kTools)
    EXPECT_GT(per_tool_help[tool + " --help"], 0) << tool << " --help has no Examples";
  EXPECT_TRUE(fs::exists(f / "fajita-boot.img"));
  // The emulator saw only getvar, download and boot.
  for (const auto& cmd : emu.commands())
    EXPECT_TRUE(cmd.rfind("getvar:", 0) == 0 || cmd.rfind("download:", 0) == 0 || cmd == "boot")
        << cmd;
  EXPECT_THAT(emu.commands(), ::testing::Contains("boot"))
      << "the documented boot ran against the emulator";
}

} // namespace
} // namespace fastboop::test

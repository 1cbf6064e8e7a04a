// fastboop-profile, run as a program on good and bad files: messages, exit
// codes, atomic outputs, round-trips through show.
#include "test_support.hpp"

#include <filesystem>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

std::string tool() { return FASTBOOP_PROFILE_TOOL; }
fs::path source_dir() { return FASTBOOP_PROFILES_SOURCE_DIR; }

ProcessOutput profile(std::vector<std::string> args, ByteSpan stdin_data = {}) {
  args.insert(args.begin(), tool());
  return test::run(args, stdin_data);
}

std::string out_text(const ProcessOutput& o) { return std::string(o.out.begin(), o.out.end()); }

const char* const devpro_yaml = R"(id: cli-dev
display_name: CLI test
devicetree_name: qcom/x
match:
  - fastboot: {vid: 0x18d1, pid: 0xd00d}
probe:
  - {fastboot.getvar: product, equals: sdm845}
  - {fastboot.getvar: partition-type:op2, equals: raw}
  - {fastboot.getvar: secret, not_exists: }
boot:
  fastboot_boot:
    android_bootimg:
      header_version: 2
      page_size: 4096
      kernel: {encoding: image.gz}
)";

const std::string digest = "sha512:" + std::string(128, '1');

} // namespace

TEST(ProfileCli, HelpAndUsage) {
  auto help = profile({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(out_text(help), HasSubstr("compile-devpro"));
  for (const char* sub : {"check", "compile", "compile-devpro", "show", "list"}) {
    auto h = profile({sub, "--help"});
    EXPECT_EQ(h.exit_code, 0) << sub;
    EXPECT_THAT(out_text(h), HasSubstr("Usage")) << sub;
  }
  EXPECT_EQ(profile({}).exit_code, 2);
  EXPECT_EQ(profile({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(profile({"compile"}).exit_code, 2);
  EXPECT_EQ(profile({"show", "x", "--bogus"}).exit_code, 2);
}

TEST(ProfileCli, CompileDevproShowRoundTrip) {
  test::TempDir tmp;
  test::write_file(tmp / "d.yaml", devpro_yaml);
  auto r = profile({"compile-devpro", (tmp / "d.yaml").string(), "-o", (tmp / "d.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Bytes bin = test::read_file(tmp / "d.bin");
  EXPECT_EQ(std::string(bin.begin(), bin.begin() + 8), "FBOODEVP");

  auto shown = profile({"show", (tmp / "d.bin").string(), "-o", (tmp / "shown.yaml").string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  auto again = profile({"compile-devpro", (tmp / "shown.yaml").string(), "-o", (tmp / "again.bin").string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::read_file(tmp / "again.bin"), bin);
  // not_exists survives the trip (upstream bug B1).
  const Bytes shown_yaml = test::read_file(tmp / "shown.yaml");
  EXPECT_THAT(std::string(shown_yaml.begin(), shown_yaml.end()), HasSubstr("not_exists: null"));

  auto json = profile({"show", "--json", (tmp / "d.bin").string()});
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_THAT(out_text(json), HasSubstr("\"fastboot.getvar\": \"secret\""));
  // stdin in, stdout out (stdout is a pipe here, so binary output is allowed).
  auto piped = profile({"compile-devpro", "-"}, as_bytes(devpro_yaml));
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, bin);
}

TEST(ProfileCli, InvalidInputExitsOneWithLocatedMessageAndNoOutput) {
  test::TempDir tmp;
  std::string bad = devpro_yaml;
  bad.replace(bad.find("equals: raw"), 11, "equal: raw");
  test::write_file(tmp / "bad.yaml", bad);
  auto r = profile({"compile-devpro", (tmp / "bad.yaml").string(), "-o", (tmp / "out.bin").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("fastboop-profile: error: " + (tmp / "bad.yaml").string() +
                               ": line 8, column 43: probe[1]: unknown key 'equal'"));
  EXPECT_FALSE(fs::exists(tmp / "out.bin"));

  auto missing = profile({"show", (tmp / "nope.bin").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nope.bin"));

  test::write_file(tmp / "m.yaml", "id: m\nrootfs:\n  ext4:\n    mbr: {index: 0, partuuid: x-01, file: r.img}\n");
  test::write_file(tmp / "r.img", "image");
  // A failed compile leaves an existing output untouched.
  test::write_file(tmp / "m.fbp", "previous");
  auto m = profile({"compile", (tmp / "m.yaml").string(), "-o", (tmp / "m.fbp").string()});
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_THAT(m.err, HasSubstr("rootfs.ext4.mbr: pipeline mbr step must specify exactly one selector (partuuid or "
                               "index); found 2"));
  auto prev = test::read_file(tmp / "m.fbp");
  EXPECT_EQ(std::string(prev.begin(), prev.end()), "previous");
}

TEST(ProfileCli, CompileManifestShowCompileIsByteIdentical) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  test::TempDir tmp;
  fs::create_directories(tmp / "work" / "images");
  test::write_file(tmp / "work" / "images" / "rootfs.simg", "sparse-image-bytes");
  test::write_file(tmp / "work" / "m.yaml", "id: cli\nrootfs:\n  ext4:\n    gpt:\n      partlabel: userdata\n"
                                            "      android_sparseimg: {file: images/rootfs.simg}\n"
                                            "kernel:\n  path: /vmlinuz\n  fat: {mbr: {index: 0, source: {http: "
                                            "https://h/boot.img, content: {digest: '" +
                                                digest +
                                                "', size_bytes: 5}}}}\n"
                                                "dt_overlays:\n  - \"/dts-v1/; /plugin/; / { fragment@0 { "
                                                "target-path = \\\"/\\\"; __overlay__ { x = <1>; }; }; };\"\n"
                                                "stage0:\n  devices:\n    oneplus-fajita: {extra_cmdline: quiet}\n");
  // Relative paths resolve against the manifest's directory, not the CWD.
  auto r = test::sh("cd / && '" + tool() + "' compile '" + (tmp / "work" / "m.yaml").string() + "' -o '" +
                    (tmp / "a.fbp").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown = profile({"show", (tmp / "a.fbp").string(), "-o", (tmp / "shown.yaml").string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  // The shown manifest carries content for every leaf, so it compiles anywhere.
  auto again = profile({"compile", (tmp / "shown.yaml").string(), "-o", (tmp / "b.fbp").string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::read_file(tmp / "a.fbp"), test::read_file(tmp / "b.fbp"));
  auto json = profile({"show", "--json", (tmp / "a.fbp").string(), "-o", (tmp / "shown.json").string()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto from_json = profile({"compile", (tmp / "shown.json").string(), "-o", (tmp / "c.fbp").string()});
  ASSERT_EQ(from_json.exit_code, 0) << from_json.err;
  EXPECT_EQ(test::read_file(tmp / "a.fbp"), test::read_file(tmp / "c.fbp"));

  // --base-dir moves relative resolution.
  fs::create_directories(tmp / "other" / "images");
  test::write_file(tmp / "other" / "images" / "rootfs.simg", "different");
  auto based = profile({"compile", (tmp / "work" / "m.yaml").string(), "--base-dir", (tmp / "other").string(), "-o",
                        (tmp / "d.fbp").string()});
  ASSERT_EQ(based.exit_code, 0) << based.err;
  EXPECT_NE(test::read_file(tmp / "a.fbp"), test::read_file(tmp / "d.fbp"));
}

TEST(ProfileCli, BinaryOutputToTerminalRefused) {
  FASTBOOP_REQUIRE_PROGRAM("script");
  test::TempDir tmp;
  test::write_file(tmp / "d.yaml", devpro_yaml);
  // `script` gives the tool a pseudo-terminal as stdout.
  auto r = test::run({"script", "-qec", "'" + tool() + "' compile-devpro '" + (tmp / "d.yaml").string() + "'",
                      "/dev/null"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(out_text(r), HasSubstr("output is binary and stdout is a terminal; use -o FILE"));
}

TEST(ProfileCli, CheckReportsAmbiguityWarningOrStrictError) {
  test::TempDir tmp;
  const fs::path builtin = source_dir() / "devprofiles.d";
  auto r = profile({"check", (builtin / "oneplus-enchilada.yaml").string(), (builtin / "oneplus-fajita.yaml").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: device profiles 'oneplus-enchilada' and 'oneplus-fajita' are ambiguous: both "
                               "match USB 18d1:d00d and their probes accept exactly the same devices"));
  auto strict = profile({"check", "--strict", (builtin / "oneplus-fajita.yaml").string()});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_THAT(strict.err, HasSubstr("error: device profiles 'oneplus-enchilada' and 'oneplus-fajita' are ambiguous"));
  // A distinguishable profile checks clean, even with --strict.
  auto sargo = profile({"check", "--strict", (builtin / "google-sargo.yaml").string()});
  EXPECT_EQ(sargo.exit_code, 0) << sargo.err;
  EXPECT_THAT(sargo.err, ::testing::Not(HasSubstr("ambiguous")));

  // Manifests and broken files.
  test::write_file(tmp / "m.yaml", "id: m\nrootfs: {erofs: {file: r, content: {digest: '" + digest +
                                       "', size_bytes: 1}}}\n");
  test::write_file(tmp / "bad.yaml", "id: m\nrootfs: {fat: {file: r, content: {digest: '" + digest +
                                         "', size_bytes: 1}}}\n");
  auto mixed = profile({"check", (tmp / "m.yaml").string(), (tmp / "bad.yaml").string()});
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_THAT(mixed.err, HasSubstr("rootfs filesystem 'fat' is not supported"));
  EXPECT_THAT(mixed.err, HasSubstr("1 of 2 file(s) failed the check"));
}

TEST(ProfileCli, ListShowsSourcesAndOverrides) {
  test::TempDir tmp;
  fs::create_directories(tmp / "schema");
  std::string mine = devpro_yaml;
  mine.replace(mine.find("id: cli-dev"), 11, "id: google-sargo");
  test::write_file(tmp / "schema" / "sargo.yaml", mine);
  auto r = test::sh("FASTBOOP_SCHEMA_PATH='" + (tmp / "schema").string() + "' XDG_CONFIG_HOME='" +
                    (tmp / "xdg").string() + "' '" + tool() + "' list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string out = out_text(r);
  EXPECT_THAT(out, HasSubstr("oneplus-fajita"));
  EXPECT_THAT(out, HasSubstr("builtin:oneplus-fajita.yaml"));
  EXPECT_THAT(out, HasSubstr((tmp / "schema" / "sargo.yaml").string() + " (overrides builtin:google-sargo.yaml)"));
  EXPECT_THAT(out, HasSubstr("CLI test"));
}

TEST(ProfileCli, BundledExampleCompiles) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  test::TempDir tmp;
  test::write_file(tmp / "rootfs.erofs", "not really erofs, hashed only");
  auto r = profile({"compile", (source_dir() / "bootprofiles" / "example.yaml").string(), "--base-dir",
                    tmp.path().string(), "-o", (tmp / "example.fbp").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown = profile({"show", (tmp / "example.fbp").string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(out_text(shown), HasSubstr("oneplus-fajita"));
  EXPECT_THAT(out_text(shown), HasSubstr("fastboop,example = \"oneplus-fajita\";"));
}

// fastboop-profile, run as a program on good and bad files: messages, exit
// codes, atomic outputs, round-trips through show.
#include "common/hash.hpp"
#include "test_support.hpp"

#include <algorithm>
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

  // A missing input has its own exit code (cli::Exit::MissingInput).
  auto missing = profile({"show", (tmp / "nope.bin").string()});
  EXPECT_EQ(missing.exit_code, 3);
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

// Issue 16 item 5: `check` and `compile-devpro` refuse what the packer would:
// a page size it does not accept, an id that is not an id.
TEST(ProfileCli, CheckAndCompileDevproRefuseWhatThePackerWouldIssue16Item5) {
  test::TempDir tmp;
  std::string bad = devpro_yaml;
  bad.replace(bad.find("page_size: 4096"), 15, "page_size: 4097");
  test::write_file(tmp / "page.yaml", bad);
  std::string bad_id = devpro_yaml;
  bad_id.replace(bad_id.find("id: cli-dev"), 11, "id: \"Bad Id!\"");
  test::write_file(tmp / "id.yaml", bad_id);
  for (const auto& [file, message] :
       {std::pair<std::string, std::string>{"page.yaml", "page_size 4097 is not one of"},
        {"id.yaml", "id 'Bad Id!' must start with a lower-case letter"}}) {
    SCOPED_TRACE(file);
    auto check = profile({"check", (tmp / file).string()});
    EXPECT_EQ(check.exit_code, 1);
    EXPECT_THAT(check.err, HasSubstr(message));
    auto compiled =
        profile({"compile-devpro", (tmp / file).string(), "-o", (tmp / "out.bin").string()});
    EXPECT_EQ(compiled.exit_code, 1);
    EXPECT_THAT(compiled.err, HasSubstr(message));
    EXPECT_FALSE(fs::exists(tmp / "out.bin"));
  }
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
  // The built-ins without their known_overlaps declarations (as upstream ships them).
  auto undeclared = [&](const std::string& id) {
    std::string text(as_chars(test::read_file(builtin / (id + ".yaml"))));
    text = text.substr(0, text.find("\n# Probing cannot tell")) + "\n";
    const auto path = tmp / (id + ".yaml");
    test::write_file(path, text);
    return path.string();
  };
  auto r = profile({"check", undeclared("oneplus-enchilada"), undeclared("oneplus-fajita")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: device profiles 'oneplus-enchilada' and 'oneplus-fajita' are ambiguous: both "
                               "match USB 18d1:d00d and their probes accept exactly the same devices"));
  // Partial overlaps are reported too: an axolotl answering op2=raw passes the OnePlus probes.
  EXPECT_THAT(r.err, HasSubstr("warning: device profiles 'oneplus-enchilada' and 'shift-axolotl' are ambiguous: both "
                               "match USB 18d1:d00d and their probes overlap; a device answering getvar "
                               "product=\"sdm845\", partition-type:op2=\"raw\", serialno=\"S6MQ\" passes both"));
  auto strict = profile({"check", "--strict", undeclared("oneplus-fajita")});
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

// Issue 16 item 4: the built-ins' overlaps are declared in both profiles of
// each pair (known_overlaps, with the reason), so `check --strict` on every
// built-in passes and says why each pair cannot be told apart.
TEST(ProfileCli, StrictCheckOfTheBuiltinsPassesAndNamesTheDeclaredOverlapsIssue16Item4) {
  const fs::path builtin = source_dir() / "devprofiles.d";
  std::vector<std::string> args = {"check", "--strict"};
  for (const auto& e : fs::directory_iterator(builtin))
    if (e.path().extension() == ".yaml")
      args.push_back(e.path().string());
  ASSERT_EQ(args.size(), 10u);
  auto r = profile(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("error")));
  for (const char* pair :
       {"'oneplus-enchilada' and 'oneplus-fajita'", "'oneplus-enchilada' and 'shift-axolotl'",
        "'oneplus-fajita' and 'shift-axolotl'",
        "'xiaomi-beryllium-ebbg' and 'xiaomi-beryllium-tianma'"})
    EXPECT_THAT(r.err, HasSubstr(std::string("device profiles ") + pair +
                                 " cannot be told apart by probing"));
  EXPECT_THAT(r.err, HasSubstr("cannot be told apart over fastboot"));
  // One side alone cannot settle a pair: a user profile declaring an overlap
  // with a built-in that does not declare it back is still an error.
  test::TempDir tmp;
  std::string mine(as_chars(test::read_file(builtin / "google-sargo.yaml")));
  mine.replace(mine.find("id: google-sargo"), 16, "id: my-sargo");
  mine += "known_overlaps:\n  - id: google-sargo\n    reason: same phone\n";
  test::write_file(tmp / "my-sargo.yaml", mine);
  auto one_sided = profile({"check", "--strict", (tmp / "my-sargo.yaml").string()});
  EXPECT_EQ(one_sided.exit_code, 1) << one_sided.err;
  EXPECT_THAT(one_sided.err, HasSubstr("'google-sargo' and 'my-sargo' are ambiguous"));
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

// optimize (spec §3.8) on a real Android sparse image made by img2simg; the
// hashed local files act as local artifacts, so it works from any CWD.
TEST(ProfileCli, OptimizeCollectsSparseHintsDeterministically) {
  FASTBOOP_REQUIRE_PROGRAM("img2simg");
  test::TempDir tmp;
  fs::create_directories(tmp / "src");
  Bytes raw(4096 * 4, 0);
  std::copy_n("ABCDEFGH", 8, raw.begin());
  const Bytes tail = test::random_bytes(4096, 7);
  std::copy(tail.begin(), tail.end(), raw.begin() + 3 * 4096);
  test::write_file(tmp / "raw.img", raw);
  auto simg = test::run({"img2simg", (tmp / "raw.img").string(), (tmp / "src" / "r.simg").string()});
  ASSERT_EQ(simg.exit_code, 0) << simg.err;
  test::write_file(tmp / "src" / "m.yaml", "id: o\nrootfs:\n  ext4:\n    android_sparseimg: {file: r.simg}\n"
                                           "kernel:\n  path: /vmlinuz\n  fat: {file: r.simg}\n");
  const std::string cache = (tmp / "cache").string();
  auto a = test::sh("cd / && '" + tool() + "' compile '" + (tmp / "src" / "m.yaml").string() +
                    "' --optimize --cache-dir '" + cache + "' -o '" + (tmp / "a.fbp").string() + "' --depfile '" +
                    (tmp / "a.d").string() + "'");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = profile({"compile", (tmp / "src" / "m.yaml").string(), "--optimize", "--cache-dir", cache, "-o",
                    (tmp / "b.fbp").string()});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(test::read_file(tmp / "a.fbp"), test::read_file(tmp / "b.fbp"));
  const Bytes dep = test::read_file(tmp / "a.d");
  EXPECT_THAT(std::string(dep.begin(), dep.end()), HasSubstr((tmp / "src" / "r.simg").string()));

  auto shown = profile({"show", (tmp / "a.fbp").string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const std::string text = out_text(shown);
  EXPECT_THAT(text, HasSubstr("--- # boot_profile o"));
  EXPECT_THAT(text, HasSubstr("pipeline_identity: android_sparseimg{source=file{path=len:6:r.simg;}}"));
  EXPECT_THAT(text, HasSubstr("total_blks: 4"));
  EXPECT_THAT(text, HasSubstr("digest: sha512:" + sha512_hex(raw)));

  // optimize alone writes just the record; the profile plus it is the same channel head.
  auto c = profile({"optimize", (tmp / "a.fbp").string(), "--local-artifact", (tmp / "src" / "r.simg").string(),
                    "--cache-dir", cache, "-o", (tmp / "hints.bin").string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const Bytes hints = test::read_file(tmp / "hints.bin");
  EXPECT_EQ(std::string(hints.begin(), hints.begin() + 8), "FBPHINT0");
  const Bytes full = test::read_file(tmp / "a.fbp");
  ASSERT_GT(full.size(), hints.size());
  EXPECT_TRUE(std::equal(hints.begin(), hints.end(), full.end() - static_cast<std::ptrdiff_t>(hints.size())));
}

// `check -` reads stdin once: a manifest on stdin compiles from the bytes
// already read, with relative paths against the current directory.
TEST(ProfileCli, CheckManifestFromStdin) {
  test::TempDir tmp;
  test::write_file(tmp / "r.img", "rootfs bytes");
  test::write_file(tmp / "m.yaml", "id: piped\nrootfs: {erofs: {file: r.img}}\n");
  auto r = test::sh("cd '" + tmp.path().string() + "' && '" + tool() + "' check - < m.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(out_text(r), HasSubstr("stdin: ok: boot profile manifest 'piped'"));
  // From another directory the relative file is not there: a missing input.
  auto elsewhere = test::sh("cd / && '" + tool() + "' check - < '" + (tmp / "m.yaml").string() + "'");
  EXPECT_EQ(elsewhere.exit_code, 3);
  EXPECT_THAT(elsewhere.err, HasSubstr("stdin: rootfs.erofs.file: cannot hash"));
  // A DevPro on stdin still works.
  auto devpro = profile({"check", "-"}, as_bytes(devpro_yaml));
  EXPECT_EQ(devpro.exit_code, 0) << devpro.err;
  EXPECT_THAT(out_text(devpro), HasSubstr("stdin: ok: device profile 'cli-dev'"));
}

// Deliberate difference from upstream (spec §7 N8): relative `file` paths in a
// manifest resolve against the manifest's directory (or --base-dir), not the
// current directory, so a manifest compiles the same from anywhere.
TEST(ProfileCli, RelativeFilePathsResolveAgainstManifestDirNotCwdUnlikeUpstreamN8) {
  test::TempDir tmp;
  fs::create_directories(tmp / "manifests");
  fs::create_directories(tmp / "cwd");
  test::write_file(tmp / "manifests" / "r.img", "next to the manifest");
  test::write_file(tmp / "cwd" / "r.img", "in the current directory");
  test::write_file(tmp / "manifests" / "m.yaml", "id: n8\nrootfs: {erofs: {file: r.img}}\n");
  auto r = test::sh("cd '" + (tmp / "cwd").string() + "' && '" + tool() + "' compile ../manifests/m.yaml -o m.fbp");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown = profile({"show", (tmp / "cwd" / "m.fbp").string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(out_text(shown), HasSubstr(sha512_hex(as_bytes("next to the manifest"))));
  EXPECT_THAT(out_text(shown), ::testing::Not(HasSubstr(sha512_hex(as_bytes("in the current directory")))));
  // --base-dir . brings back upstream's CWD behaviour when wanted.
  auto cwd = test::sh("cd '" + (tmp / "cwd").string() + "' && '" + tool() +
                      "' compile ../manifests/m.yaml --base-dir . -o c.fbp && '" + tool() + "' show c.fbp");
  ASSERT_EQ(cwd.exit_code, 0) << cwd.err;
  EXPECT_THAT(out_text(cwd), HasSubstr(sha512_hex(as_bytes("in the current directory"))));
}

// A manifest without rootfs is a manifest missing rootfs, not a DevPro missing
// devicetree_name; a map with neither schema's keys names both.
TEST(ProfileCli, ManifestWithoutRootfsIsStillAManifest) {
  test::TempDir tmp;
  test::write_file(tmp / "m.yaml", "id: m\nkernel: {path: /k, fat: {http: https://h/k, content: {digest: '" + digest +
                                       "', size_bytes: 1}}}\n");
  auto r = profile({"check", (tmp / "m.yaml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr((tmp / "m.yaml").string() + ": line 1, column 1: missing required key 'rootfs'"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("devicetree_name")));
  test::write_file(tmp / "s.yaml", "id: m\nstage0: {kernel_modules: [erofs]}\n");
  EXPECT_THAT(profile({"check", (tmp / "s.yaml").string()}).err, HasSubstr("missing required key 'rootfs'"));
  // A DevPro with a stray stage0 is still read as a DevPro (and told why).
  std::string stray = devpro_yaml;
  stray += "stage0: {kernel_modules: [x]}\n";
  test::write_file(tmp / "d.yaml", stray);
  EXPECT_THAT(profile({"check", (tmp / "d.yaml").string()}).err,
              HasSubstr("stage0 settings are not part of a Device Profile"));
  test::write_file(tmp / "n.yaml", "id: m\ndisplay_name: M\n");
  auto neither = profile({"check", (tmp / "n.yaml").string()});
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_THAT(neither.err, HasSubstr((tmp / "n.yaml").string() + ": neither a Device Profile (needs devicetree_name, "
                                     "match, probe, boot) nor a Boot Profile manifest (needs rootfs)"));
}

// Logging levels: -q, -v and FASTBOOP_LOG (tools/lib/common/log.cpp, cli.cpp).
TEST(ProfileCli, LogLevels) {
  // The built-in without its known_overlaps, so its ambiguity is a warning.
  test::TempDir tmp;
  const fs::path enchilada = tmp / "oneplus-enchilada.yaml";
  std::string text(
      as_chars(test::read_file(source_dir() / "devprofiles.d" / "oneplus-enchilada.yaml")));
  test::write_file(enchilada, text.substr(0, text.find("\n# Probing cannot tell")) + "\n");
  const std::string ambiguity = "warning: device profiles 'oneplus-enchilada' and 'oneplus-fajita' are ambiguous";
  auto normal = profile({"check", enchilada.string()});
  ASSERT_EQ(normal.exit_code, 0) << normal.err;
  // The ok line is the command's result: stdout (issue 16 item 18).
  EXPECT_THAT(out_text(normal), HasSubstr(enchilada.string() + ": ok: device profile 'oneplus-enchilada'"));
  EXPECT_THAT(normal.err, HasSubstr(ambiguity));
  EXPECT_THAT(normal.err, ::testing::Not(HasSubstr("debug: ")));

  // -q: nothing at all for a valid file, warnings included (before or after the subcommand).
  for (const auto& args : {std::vector<std::string>{"-q", "check", enchilada.string()},
                           std::vector<std::string>{"check", enchilada.string(), "--quiet"}}) {
    auto quiet = profile(args);
    EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_EQ(quiet.err, "");
    EXPECT_TRUE(quiet.out.empty());
  }
  // ... but errors still show.
  auto quiet_strict = profile({"-q", "check", "--strict", enchilada.string()});
  EXPECT_EQ(quiet_strict.exit_code, 1);
  EXPECT_THAT(quiet_strict.err, HasSubstr("error: device profiles 'oneplus-enchilada' and 'oneplus-fajita' are ambiguous"));
  EXPECT_THAT(quiet_strict.err, ::testing::Not(HasSubstr(": ok: ")));

  // -v and FASTBOOP_LOG=debug show debug lines.
  auto verbose = profile({"-v", "check", enchilada.string()});
  EXPECT_EQ(verbose.exit_code, 0) << verbose.err;
  EXPECT_THAT(verbose.err, HasSubstr("debug: checking " + enchilada.string()));
  EXPECT_THAT(verbose.err, HasSubstr("debug: ambiguity check against 8 device profile(s) on the search path"));
  auto env_debug = test::run({"env", "FASTBOOP_LOG=debug", tool(), "check", enchilada.string()});
  EXPECT_EQ(env_debug.exit_code, 0) << env_debug.err;
  EXPECT_THAT(env_debug.err, HasSubstr("debug: checking " + enchilada.string()));
  EXPECT_THAT(env_debug.err, HasSubstr(ambiguity));
  // FASTBOOP_LOG=error silences the ok line and the warning; -v overrides it.
  auto env_error = test::run({"env", "FASTBOOP_LOG=error", tool(), "check", enchilada.string()});
  EXPECT_EQ(env_error.exit_code, 0);
  EXPECT_EQ(env_error.err, "");
  EXPECT_TRUE(env_error.out.empty());
  auto env_then_v = test::run({"env", "FASTBOOP_LOG=error", tool(), "-v", "check", enchilada.string()});
  EXPECT_THAT(env_then_v.err, HasSubstr("debug: checking"));

  // A bad FASTBOOP_LOG is a warning and the default level stays.
  auto bad = test::run({"env", "FASTBOOP_LOG=chatty", tool(), "check", enchilada.string()});
  EXPECT_EQ(bad.exit_code, 0) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("warning: FASTBOOP_LOG=chatty is not one of error, warn, info, debug, trace; ignored"));
  EXPECT_THAT(out_text(bad), HasSubstr(": ok: device profile 'oneplus-enchilada'"));
  EXPECT_THAT(bad.err, ::testing::Not(HasSubstr("debug: ")));
}

// The CLI tests see no host-installed DevPros (hermetic_env.cpp), so list
// shows exactly the built-ins plus what the test adds at the system level.
TEST(ProfileCli, ListIsHermeticAndShowsSystemDirs) {
  test::TempDir tmp;
  fs::create_directories(tmp / "sys");
  std::string mine = devpro_yaml;
  test::write_file(tmp / "sys" / "cli.yaml", mine);
  auto r = test::run({"env", "FASTBOOP_DEVPRO_SYSTEM_DIRS=" + (tmp / "sys").string(), tool(), "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string out = out_text(r);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 9) << out; // eight built-ins + cli-dev
  EXPECT_THAT(out, HasSubstr((tmp / "sys" / "cli.yaml").string()));
  auto plain = profile({"list"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const std::string plain_out = out_text(plain);
  EXPECT_EQ(std::count(plain_out.begin(), plain_out.end(), '\n'), 8) << plain_out;
  EXPECT_THAT(plain_out, ::testing::Not(HasSubstr("/usr/share/fastboop")));
}

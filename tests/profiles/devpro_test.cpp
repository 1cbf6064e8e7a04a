// Device Profile parsing (strict schema, tagged probe steps), the built-ins,
// the search path and probe evaluation.
#include "profiles/profiles.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::profiles;
using ::testing::HasSubstr;

namespace {

const char* const minimal = R"(id: dev
display_name: D
devicetree_name: qcom/x
match:
  - fastboot: {vid: 0x18d1, pid: 0xd00d}
probe:
  - fastboot.getvar: product
    equals: sdm845
boot:
  fastboot_boot:
    android_bootimg:
      header_version: 2
      page_size: 4096
      kernel:
        encoding: image.gz
)";

std::string with_probe(const std::string& step) {
  return std::string(R"(id: dev
devicetree_name: qcom/x
match: []
probe:
  - )") + step + R"(
boot: {fastboot_boot: {android_bootimg: {header_version: 0, page_size: 2048, kernel: {encoding: image}}}}
)";
}

std::string with_bootimg(const std::string& fields) {
  return "id: dev\ndevicetree_name: x\nmatch: []\nprobe: []\nboot:\n  fastboot_boot:\n    android_bootimg:\n"
         "      kernel: {encoding: image}\n" +
         fields;
}

std::string parse_error(const std::string& text) {
  auto r = parse_device_profile(text, "t.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? std::string() : r.error().message();
}

class ScopedEnv {
public:
  // nullopt unsets the variable for the scope.
  ScopedEnv(const char* name, const std::optional<std::string>& value) : m_name(name) {
    if (const char* old = std::getenv(name))
      m_old = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (m_old)
      ::setenv(m_name, m_old->c_str(), 1);
    else
      ::unsetenv(m_name);
  }

private:
  const char* m_name;
  std::optional<std::string> m_old;
};

} // namespace

TEST(DevproParse, Minimal) {
  auto r = parse_device_profile(minimal, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->id, "dev");
  EXPECT_EQ(r->display_name, "D");
  ASSERT_EQ(r->match.size(), 1u);
  EXPECT_EQ(r->match[0].vid, 0x18d1);
  EXPECT_EQ(r->match[0].pid, 0xd00d);
  ASSERT_EQ(r->probe.size(), 1u);
  EXPECT_EQ(r->probe[0].op, ProbeOp::Equals);
  EXPECT_EQ(r->boot.header_version, 2u);
  EXPECT_EQ(r->boot.kernel_encoding, KernelEncoding::ImageGz);
}

TEST(DevproParse, JsonInput) {
  const char* json = R"({"id": "j", "devicetree_name": "qcom/j",
    "match": [{"fastboot": {"vid": 6353, "pid": 53261}}],
    "probe": [{"fastboot.getvar": "product", "starts_with": "sdm"}, {"fastboot.getvar": "v", "exists": null}],
    "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 1, "page_size": 4096,
      "kernel": {"encoding": "image+dtb"}}}}})";
  auto r = parse_device_profile(json, "j.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->match[0].vid, 6353);
  EXPECT_EQ(r->probe[1].op, ProbeOp::Exists);
  // JSON strings are strings: a quoted number is not an integer.
  EXPECT_THAT(parse_error(R"({"id": "j", "devicetree_name": "x", "match": [{"fastboot": {"vid": "1", "pid": 2}}],
    "probe": [], "boot": {}})"),
              HasSubstr("match[0].fastboot.vid: expected an unsigned integer, found a quoted string"));
}

TEST(DevproParse, IntegerLiterals) {
  auto value = [](const std::string& lit) -> std::optional<std::uint64_t> {
    auto r = parse_device_profile(with_bootimg("      header_version: 0\n      page_size: " + lit + "\n"), "t");
    if (!r)
      return std::nullopt;
    return r->boot.page_size;
  };
  EXPECT_EQ(value("0x1000"), 4096u);
  EXPECT_EQ(value("0o10000"), 4096u);
  EXPECT_EQ(value("0b1000000000000"), 4096u);
  EXPECT_EQ(value("+4096"), 4096u);
  EXPECT_EQ(value("4096"), 4096u);
  // The largest u32 parses, then fails the packer's page-size rule (issue 16
  // item 5); one more is out of range.
  EXPECT_EQ(value("4294967295"), std::nullopt);
  EXPECT_THAT(parse_error(with_bootimg("      header_version: 0\n      page_size: 4294967295\n")),
              HasSubstr("page_size 4294967295 is not one of 2048, 4096, 8192, 16384"));
  EXPECT_EQ(value("4294967296"), std::nullopt);
  EXPECT_THAT(parse_error(with_bootimg("      header_version: 0\n      page_size: 4294967296\n")),
              ::testing::Not(HasSubstr("is not one of")));
  EXPECT_EQ(value("-1"), std::nullopt);
  EXPECT_EQ(value("0x"), std::nullopt);
  EXPECT_EQ(value("'4096'"), std::nullopt);
  EXPECT_EQ(value("4k"), std::nullopt);
}

TEST(DevproParse, OutOfRangeNamesFileLineColumn) {
  auto text = std::string(minimal);
  text.replace(text.find("0xd00d"), 6, "70000");
  EXPECT_EQ(parse_error(text), "t.yaml: line 5, column 34: match[0].fastboot.pid: value 70000 is out of range (0..65535)");
}

TEST(DevproParse, UnknownKeysRejectedEverywhere) {
  EXPECT_THAT(parse_error(std::string(minimal) + "colour: red\n"), HasSubstr("line 16, column 1: unknown key 'colour'"));
  EXPECT_THAT(parse_error(with_bootimg(
                  "      header_version: 0\n      page_size: 2048\n      pagesize: 2\n")),
              HasSubstr("boot.fastboot_boot.android_bootimg: unknown key 'pagesize'"));
  auto text = std::string(minimal);
  text.replace(text.find("pid: 0xd00d}"), 12, "pid: 0xd00d, serial: x}");
  EXPECT_THAT(parse_error(text), HasSubstr("match[0].fastboot: unknown key 'serial'"));
}

TEST(DevproParse, WrongTypes) {
  EXPECT_THAT(parse_error("id: [a]\n"), HasSubstr("line 1, column 5: id: expected a string, found a list"));
  EXPECT_THAT(parse_error(with_bootimg("      header_version: true\n      page_size: 2048\n")),
              HasSubstr("header_version: expected an unsigned integer"));
  EXPECT_THAT(parse_error(with_bootimg(
                  "      header_version: 0\n      page_size: 2048\n      dtb_in_second: 1\n")),
              HasSubstr("dtb_in_second: expected true or false"));
  EXPECT_THAT(parse_error("id: a\ndevicetree_name: b\nmatch: {}\n"), HasSubstr("match: expected a list, found a map"));
}

// Wrong types are errors (issue 2): a plain scalar that YAML resolves to an
// integer, float or boolean is not a string (upstream's serde_yaml agrees);
// a quoted one is.
TEST(DevproParse, PlainNonStringScalarsWhereAStringIsExpected) {
  auto text = std::string(minimal);
  text.replace(text.find("id: dev"), 7, "id: 123");
  EXPECT_EQ(parse_error(text),
            "t.yaml: line 1, column 5: id: expected a string, found an integer '123' (quote it to mean the string)");
  text = std::string(minimal);
  text.replace(text.find("display_name: D"), 15, "display_name: true");
  EXPECT_EQ(parse_error(text), "t.yaml: line 2, column 15: display_name: expected a string, found a boolean 'true' "
                               "(quote it to mean the string)");
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: 5, exists: }")),
              HasSubstr("line 5, column 23: probe[0].fastboot.getvar: expected a string, found an integer '5'"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: v, equals: -1.5e3}")),
              HasSubstr("probe[0].equals: expected a string, found a number '-1.5e3'"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: v, starts_with: .inf}")),
              HasSubstr("probe[0].starts_with: expected a string, found a number '.inf'"));
  EXPECT_THAT(parse_error(with_bootimg(
                  "      header_version: 0\n      page_size: 2048\n      board: 0o17\n")),
              HasSubstr("android_bootimg.board: expected a string, found an integer '0o17'"));
  EXPECT_THAT(parse_error(R"({"id": 7, "devicetree_name": "x", "match": [], "probe": [], "boot": {}})"),
              HasSubstr("id: expected a string, found an integer '7'"));
  // Quoted, or merely number-like, they are strings.
  text = std::string(minimal);
  text.replace(text.find("id: dev"), 7, "id: '123'");
  text.replace(text.find("equals: sdm845"), 14, "equals: \"1\"");
  auto quoted = parse_device_profile(text, "t");
  ASSERT_TRUE(quoted.ok()) << quoted.error().message();
  EXPECT_EQ(quoted->id, "123");
  EXPECT_EQ(quoted->probe[0].value, "1");
  for (const char* word : {"v1.2", "1.2.3", "0x", "e5", "yes", "sdm845", "-", "12ab", "1_000"}) {
    auto r = parse_device_profile(with_probe(std::string("{fastboot.getvar: v, equals: ") + word + "}"), "t");
    ASSERT_TRUE(r.ok()) << word << ": " << r.error().message();
    EXPECT_EQ(r->probe[0].value, word);
  }
  // show renders such values quoted, so they read back as strings.
  auto again = parse_device_profile(device_profile_to_yaml(*quoted), "shown");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *quoted);
}

// Audit gaps: unknown keys inside limits, kernel and initrd, and an unknown
// initrd compression.
TEST(DevproParse, NestedBootimgMapsAreStrict) {
  const std::string head = "      header_version: 0\n      page_size: 2048\n";
  EXPECT_THAT(parse_error(with_bootimg(head + "      limits: {max_kernel_bytes: 1, max_dtb_bytes: 2}\n")),
              HasSubstr("boot.fastboot_boot.android_bootimg.limits: unknown key 'max_dtb_bytes' (expected one of: "
                        "max_kernel_bytes max_initrd_bytes max_total_bytes)"));
  EXPECT_THAT(
      parse_error("id: dev\ndevicetree_name: x\nmatch: []\nprobe: []\nboot:\n  fastboot_boot:\n    "
                  "android_bootimg:\n      header_version: 0\n      page_size: 2048\n      kernel: "
                  "{encoding: "
                  "image, compress: gzip}\n"),
      HasSubstr(
          "line 10, column 33: boot.fastboot_boot.android_bootimg.kernel: unknown key 'compress' "
          "(expected one of: encoding)"));
  EXPECT_THAT(parse_error(with_bootimg(head + "      initrd: {compress: gzip, level: 9}\n")),
              HasSubstr("boot.fastboot_boot.android_bootimg.initrd: unknown key 'level' (expected one of: compress)"));
  EXPECT_THAT(parse_error(with_bootimg(head + "      initrd: {compress: bzip2}\n")),
              HasSubstr("line 11, column 26: boot.fastboot_boot.android_bootimg.initrd.compress: unknown compression "
                        "'bzip2' (expected none, gzip, lz4, zstd)"));
  for (const char* known : {"none", "gzip", "lz4", "zstd"})
    EXPECT_TRUE(parse_device_profile(with_bootimg(head + "      initrd: {compress: " + known + "}\n"), "t").ok())
        << known;
}

TEST(DevproParse, MissingRequired) {
  EXPECT_THAT(parse_error("id: a\n"), HasSubstr("missing required key 'devicetree_name'"));
  EXPECT_THAT(parse_error(with_bootimg("      header_version: 0\n")), HasSubstr("missing required key 'page_size'"));
}

TEST(DevproParse, DuplicateKeysRejected) {
  EXPECT_THAT(parse_error("id: a\nid: b\n"), HasSubstr("line 2, column 1: duplicate key 'id' (first at line 1, column 1)"));
}

TEST(DevproParse, Stage0Rejected) {
  EXPECT_THAT(parse_error(std::string(minimal) + "stage0: {kernel_modules: [x]}\n"),
              HasSubstr("stage0 settings are not part of a Device Profile"));
}

TEST(DevproParse, BootimgAlias) {
  auto text = std::string(minimal);
  text.replace(text.find("android_bootimg"), 15, "bootimg");
  auto r = parse_device_profile(text, "t");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->boot.page_size, 4096u);
}

// Upstream bug B3: cmdline_append under fastboot_boot was silently dropped.
TEST(DevproParse, MisplacedCmdlineAppendIsAnErrorFixingB3) {
  const char* text = R"(id: a
devicetree_name: b
match: []
probe: []
boot:
  fastboot_boot:
    cmdline_append: console=ttyMSM0,115200n8
    android_bootimg: {header_version: 0, page_size: 2048, kernel: {encoding: image}}
)";
  EXPECT_EQ(parse_error(text), "t.yaml: line 7, column 5: boot.fastboot_boot: 'cmdline_append' belongs under "
                               "android_bootimg, not fastboot_boot");
}

TEST(DevproParse, EncodingNames) {
  const std::pair<const char*, KernelEncoding> cases[] = {
      {"image", KernelEncoding::Image},           {"image+dtb", KernelEncoding::ImageDtb},
      {"image.gz", KernelEncoding::ImageGz},      {"image.gz+dtb", KernelEncoding::ImageGzDtb},
      {"image.lz4", KernelEncoding::ImageLz4},    {"image.lz4+dtb", KernelEncoding::ImageLz4Dtb},
      {"image.zst", KernelEncoding::ImageZst},    {"image.zst+dtb", KernelEncoding::ImageZstDtb}};
  for (const auto& [name, enc] : cases) {
    auto text = std::string("id: a\ndevicetree_name: b\nmatch: []\nprobe: []\nboot: "
                            "{fastboot_boot: {android_bootimg: "
                            "{header_version: 0, page_size: 2048, kernel: {encoding: ") +
                name + "}}}}\n";
    auto r = parse_device_profile(text, "t");
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message();
    EXPECT_EQ(r->boot.kernel_encoding, enc);
  }
  EXPECT_THAT(parse_error("id: a\ndevicetree_name: b\nmatch: []\nprobe: []\nboot: {fastboot_boot: "
                          "{android_bootimg: "
                          "{header_version: 0, page_size: 2048, kernel: {encoding: Image.gz}}}}\n"),
              HasSubstr("unknown kernel encoding 'Image.gz'"));
}

TEST(DevproParse, AllBootimgFieldsAndExtensions) {
  auto r = parse_device_profile(with_bootimg(R"(      header_version: 1
      page_size: 2048
      base: 0x10000000
      kernel_offset: 0x8000
      dtb_offset: 0x01f00000
      limits: {max_kernel_bytes: 1, max_initrd_bytes: 2, max_total_bytes: 3}
      initrd: {compress: lz4}
      cmdline_append: quiet
      ramdisk_offset: 0x01000000
      second_offset: 0x00f00000
      tags_offset: 0x100
      board: SRPOI01A000
      samsung_seandroidenforce: true
      dtb_in_second: true
)"),
                                "t");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& b = r->boot;
  EXPECT_EQ(b.base, 0x10000000u);
  EXPECT_EQ(b.dtb_offset, 0x01f00000u);
  EXPECT_EQ(b.limits->max_total_bytes, 3u);
  EXPECT_EQ(b.initrd->compress, Compression::Lz4);
  EXPECT_EQ(b.cmdline_append, "quiet");
  EXPECT_EQ(b.extensions.ramdisk_offset, 0x01000000u);
  EXPECT_EQ(b.extensions.second_offset, 0x00f00000u);
  EXPECT_EQ(b.extensions.tags_offset, 0x100u);
  EXPECT_EQ(b.extensions.board, "SRPOI01A000");
  EXPECT_TRUE(b.extensions.samsung_seandroidenforce);
  EXPECT_TRUE(b.extensions.dtb_in_second);
  // They round-trip through show.
  auto again = parse_device_profile(device_profile_to_yaml(*r), "shown");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *r);
}

// --- probe steps: every row of spec §1.2, parsed by explicit keys ----------

TEST(DevproProbe, EveryOperator) {
  const std::pair<std::string, ProbeOp> cases[] = {
      {"{fastboot.getvar: p, equals: x}", ProbeOp::Equals},
      {"{fastboot.getvar: p, starts_with: x}", ProbeOp::StartsWith},
      {"{fastboot.getvar: p, not_equals: x}", ProbeOp::NotEquals},
      {"{fastboot.getvar: p, exists: }", ProbeOp::Exists},
      {"{fastboot.getvar: p, exists: null}", ProbeOp::Exists},
      {"{fastboot.getvar: p, exists: true}", ProbeOp::Exists},
      {"{fastboot.getvar: p, not_exists: }", ProbeOp::NotExists},
      {"{fastboot.getvar: p, not_exists: true}", ProbeOp::NotExists},
  };
  for (const auto& [yaml, op] : cases) {
    auto r = parse_device_profile(with_probe(yaml), "t");
    ASSERT_TRUE(r.ok()) << yaml << ": " << r.error().message();
    ASSERT_EQ(r->probe.size(), 1u);
    EXPECT_EQ(r->probe[0].op, op) << yaml;
    EXPECT_EQ(r->probe[0].var, "p");
  }
}

// Upstream bug B1: not_exists parsed as Exists, exists: true as NotExists.
TEST(DevproProbe, NotExistsMeansNotExistsFixingB1) {
  auto r = parse_device_profile(with_probe("{fastboot.getvar: x, not_exists: }"), "t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->probe[0].op, ProbeOp::NotExists);
  r = parse_device_profile(with_probe("{fastboot.getvar: x, exists: true}"), "t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->probe[0].op, ProbeOp::Exists);
  // The YAML shown for a NotExists step reads back as NotExists.
  DeviceProfile p = *r;
  p.probe[0].op = ProbeOp::NotExists;
  auto again = parse_device_profile(device_profile_to_yaml(p), "shown");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->probe[0].op, ProbeOp::NotExists);
}

// Upstream bug B1: a bare or typo'd step silently became Exists.
TEST(DevproProbe, BareOrTypoStepIsAnErrorFixingB1) {
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: p}")), HasSubstr("probe step has no operator"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: p, equal: typo}")), HasSubstr("probe[0]: unknown key 'equal'"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: p, equals: a, starts_with: b}")),
              HasSubstr("probe step has 2 operators (equals, starts_with)"));
  EXPECT_THAT(parse_error(with_probe("{}")), HasSubstr("missing required key 'fastboot.getvar'"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: p, exists: false}")), HasSubstr("takes no value"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: p, equals: }")), HasSubstr("needs a value"));
  EXPECT_THAT(parse_error(with_probe("{fastboot.getvar: '', exists: }")), HasSubstr("getvar name must not be empty"));
}

TEST(DevproProbe, Evaluation) {
  auto step = [](ProbeOp op, std::string value = {}) { return ProbeStep{op, "v", std::move(value)}; };
  using A = std::optional<std::string>;
  EXPECT_TRUE(probe_step_passes(step(ProbeOp::Equals, "sdm845"), A("sdm845")));
  EXPECT_FALSE(probe_step_passes(step(ProbeOp::Equals, "sdm845"), A("SDM845")));
  EXPECT_FALSE(probe_step_passes(step(ProbeOp::Equals, "sdm845"), A(" sdm845")));
  EXPECT_FALSE(probe_step_passes(step(ProbeOp::Equals, "sdm845"), std::nullopt));
  EXPECT_TRUE(probe_step_passes(step(ProbeOp::StartsWith, "S6MQ"), A("S6MQ1234")));
  EXPECT_FALSE(probe_step_passes(step(ProbeOp::StartsWith, "S6MQ"), A("s6mq1234")));
  EXPECT_TRUE(probe_step_passes(step(ProbeOp::NotEquals, "x"), A("y")));
  EXPECT_FALSE(probe_step_passes(step(ProbeOp::NotEquals, "x"), A("x")));
  EXPECT_TRUE(probe_step_passes(step(ProbeOp::Exists), A("1")));
  for (const char* missing : {"", "  ", "unknown", "UNKNOWN", " Unknown\t"}) {
    EXPECT_FALSE(probe_step_passes(step(ProbeOp::Exists), A(missing))) << missing;
    EXPECT_TRUE(probe_step_passes(step(ProbeOp::NotExists), A(missing))) << missing;
  }
  EXPECT_FALSE(probe_step_passes(step(ProbeOp::NotExists), A("raw")));
}

// Upstream bug B2: a FAIL answer aborted the profile even for not_exists.
TEST(DevproProbe, FailAnswerCountsAsMissingFixingB2) {
  EXPECT_TRUE(probe_step_passes(ProbeStep{ProbeOp::NotExists, "op2", {}}, std::nullopt));
  EXPECT_FALSE(probe_step_passes(ProbeStep{ProbeOp::Exists, "op2", {}}, std::nullopt));
  EXPECT_TRUE(probe_answer_missing(std::nullopt));
}

// --- built-ins and search path ------------------------------------------------

TEST(DevproBuiltins, AllEightParse) {
  auto builtins = builtin_device_profiles();
  ASSERT_TRUE(builtins.ok()) << builtins.error().message();
  std::vector<std::string> ids;
  for (const auto& b : *builtins) {
    ids.push_back(b.profile.id);
    EXPECT_EQ(b.origin, ProfileOrigin::BuiltIn);
    EXPECT_EQ(b.source, "builtin:" + b.profile.id + ".yaml");
    EXPECT_EQ(b.profile.devicetree_name.rfind("qcom/", 0), 0u) << b.profile.id;
    EXPECT_TRUE(b.profile.display_name.has_value());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"arrow-db410c", "google-sargo", "oneplus-enchilada", "oneplus-fajita",
                                           "samsung-gt510", "shift-axolotl", "xiaomi-beryllium-ebbg",
                                           "xiaomi-beryllium-tianma"}));
}

TEST(DevproBuiltins, FactsFromTheSpec) {
  const auto builtins = builtin_device_profiles();
  ASSERT_TRUE(builtins.ok());
  auto get = [&](const std::string& id) {
    for (const auto& b : *builtins)
      if (b.profile.id == id)
        return b.profile;
    ADD_FAILURE() << id;
    return DeviceProfile{};
  };
  auto db = get("arrow-db410c");
  EXPECT_EQ(db.boot.base, 0x80000000u);
  EXPECT_EQ(db.boot.page_size, 2048u);
  EXPECT_EQ(db.boot.kernel_encoding, KernelEncoding::ImageGzDtb);
  // The cmdline_append that upstream dropped (B3) takes effect here.
  EXPECT_EQ(db.boot.cmdline_append, "console=ttyMSM0,115200n8");
  EXPECT_EQ(get("samsung-gt510").boot.cmdline_append, "console=ttyMSM0,115200n8");
  EXPECT_EQ(get("samsung-gt510").probe[1].var, "lk2nd:compatible");
  auto sargo = get("google-sargo");
  EXPECT_EQ(sargo.match[0].pid, 0x4ee0);
  EXPECT_EQ(sargo.boot.kernel_offset, 0x8000u);
  auto axolotl = get("shift-axolotl");
  EXPECT_EQ(axolotl.probe[0].op, ProbeOp::StartsWith);
  EXPECT_EQ(axolotl.probe[0].value, "S6MQ");
  auto fajita = get("oneplus-fajita");
  EXPECT_EQ(fajita.boot.header_version, 2u);
  EXPECT_EQ(fajita.devicetree_name, "qcom/sdm845-oneplus-fajita");
  EXPECT_EQ(fajita.probe, get("oneplus-enchilada").probe);
}

TEST(DevproBuiltins, SourceFilesMatchEmbedded) {
  const auto builtins = builtin_device_profiles();
  ASSERT_TRUE(builtins.ok());
  for (const auto& b : *builtins) {
    auto from_file = load_device_profile_file(std::filesystem::path(FASTBOOP_PROFILES_SOURCE_DIR) / "devprofiles.d" / (b.profile.id + ".yaml"));
    ASSERT_TRUE(from_file.ok()) << from_file.error().message();
    EXPECT_EQ(*from_file, b.profile);
  }
}

TEST(DevproPool, SearchPathPrecedenceAndDuplicates) {
  test::TempDir tmp;
  const auto schema_a = tmp / "a";
  const auto schema_b = tmp / "b";
  const auto xdg = tmp / "xdg";
  std::filesystem::create_directories(schema_a);
  std::filesystem::create_directories(schema_b);
  std::filesystem::create_directories(xdg / "fastboop" / "devpro");
  ScopedEnv e1("FASTBOOP_SCHEMA_PATH", schema_a.string() + "::" + schema_b.string());
  ScopedEnv e2("XDG_CONFIG_HOME", xdg.string());

  // The system directories are off in this binary (hermetic_env.cpp).
  auto dirs = device_profile_search_dirs();
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0].path, schema_a);
  EXPECT_EQ(dirs[1].path, schema_b);
  EXPECT_EQ(dirs[2].path, xdg / "fastboop" / "devpro");
  EXPECT_EQ(dirs[2].origin, ProfileOrigin::UserDir);

  auto fajita_with = [](const std::string& name) {
    std::string text = std::string(minimal);
    text.replace(text.find("id: dev"), 7, "id: oneplus-fajita");
    text.replace(text.find("display_name: D"), 15, "display_name: " + name);
    return text;
  };
  test::write_file(xdg / "fastboop" / "devpro" / "f.yaml", fajita_with("user"));
  test::write_file(schema_b / "f.yml", fajita_with("schema-b"));
  test::write_file(schema_b / "ignored.txt", "not a profile");
  test::write_file(schema_b / "broken.yaml", "id: [");

  auto found = find_device_profile("oneplus-fajita");
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(found->profile.display_name, "schema-b");
  EXPECT_EQ(found->origin, ProfileOrigin::SchemaPath);
  EXPECT_EQ(found->source, (schema_b / "f.yml").string());

  auto all = load_all_device_profiles();
  ASSERT_TRUE(all.ok());
  int fajitas = 0;
  for (const auto& p : *all)
    fajitas += p.profile.id == "oneplus-fajita";
  EXPECT_EQ(fajitas, 3); // schema-b, user, builtin

  // The higher level wins; a duplicate within one level is an error naming both.
  test::write_file(schema_a / "x.json",
                   R"({"id": "oneplus-fajita", "display_name": "A", "devicetree_name": "x",
    "match": [], "probe": [], "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0,
    "page_size": 2048, "kernel": {"encoding": "image"}}}}})");
  EXPECT_EQ(find_device_profile("oneplus-fajita")->profile.display_name, "A");
  test::write_file(schema_a / "y.yaml", fajita_with("dup"));
  auto dup = load_device_profile_pool();
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message(), "duplicate device profile id 'oneplus-fajita' in " + (schema_a / "x.json").string() +
                                       " and " + (schema_a / "y.yaml").string());
}

TEST(DevproPool, NotFoundListsIds) {
  ScopedEnv e1("FASTBOOP_SCHEMA_PATH", "");
  auto r = find_device_profile("nope");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("device profile 'nope' not found; available ids: [arrow-db410c, "));
}

// FASTBOOP_DEVPRO_SYSTEM_DIRS replaces the system level (the install datadir
// and /usr/share/fastboop/devpro), so tests never see the host's profiles.
TEST(DevproPool, SystemDirsOverrideKeepsTestsHermetic) {
  {
    ScopedEnv off("FASTBOOP_DEVPRO_SYSTEM_DIRS", std::nullopt);
    auto dirs = device_profile_search_dirs();
    ASSERT_FALSE(dirs.empty());
    EXPECT_EQ(dirs.back().path, "/usr/share/fastboop/devpro");
    EXPECT_EQ(dirs.back().origin, ProfileOrigin::SystemDir);
  }
  test::TempDir tmp;
  const auto sys_a = tmp / "sys-a";
  const auto sys_b = tmp / "sys-b";
  std::filesystem::create_directories(sys_a);
  ScopedEnv sys("FASTBOOP_DEVPRO_SYSTEM_DIRS", sys_a.string() + ":" + sys_b.string());
  auto dirs = device_profile_search_dirs();
  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs[dirs.size() - 2].path, sys_a);
  EXPECT_EQ(dirs.back().path, sys_b);
  for (const auto& d : dirs)
    EXPECT_NE(d.path, "/usr/share/fastboop/devpro");

  std::string text = std::string(minimal);
  text.replace(text.find("id: dev"), 7, "id: system-only");
  test::write_file(sys_a / "s.yaml", text);
  auto found = find_device_profile("system-only");
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(found->origin, ProfileOrigin::SystemDir);
  EXPECT_EQ(found->source, (sys_a / "s.yaml").string());

  // Set but empty: no system directory at all, only the built-ins remain.
  ScopedEnv none("FASTBOOP_DEVPRO_SYSTEM_DIRS", std::string());
  for (const auto& d : device_profile_search_dirs())
    EXPECT_NE(d.origin, ProfileOrigin::SystemDir);
  EXPECT_FALSE(find_device_profile("system-only").ok());
}

// Issue 16 item 5: every field is validated where it is read. The page size
// must be one the packer accepts (its own rule, bootimg::check_android_bootimg),
// and an id must be a valid id (profiles::check_profile_id, the one id rule).
TEST(DevproParse, PageSizeIsCheckedByThePackersRuleIssue16Item5) {
  auto text = std::string(minimal);
  text.replace(text.find("page_size: 4096"), 15, "page_size: 4097");
  EXPECT_THAT(parse_error(text), HasSubstr("page_size 4097 is not one of 2048, 4096, 8192, 16384"));
  EXPECT_THAT(
      parse_error(text),
      HasSubstr("t.yaml: line 12, column 7: boot.fastboot_boot.android_bootimg: page_size"));
  EXPECT_THAT(parse_error(with_bootimg("      header_version: 7\n      page_size: 2048\n")),
              HasSubstr("header_version 7 does not exist"));
  EXPECT_THAT(parse_error(with_bootimg("      header_version: 3\n      page_size: 2048\n")),
              HasSubstr("fixed 4096-byte page"));
}

TEST(DevproParse, IdMustBeAValidIdIssue16Item5) {
  for (const char* bad : {"\"Bad Id!\"", "\"\"", "-leading-dash", "UPPER", "a/b", "\"sp ace\""}) {
    SCOPED_TRACE(bad);
    auto text = std::string(minimal);
    text.replace(text.find("id: dev"), 7, std::string("id: ") + bad);
    EXPECT_THAT(parse_error(text), HasSubstr("t.yaml: line 1, column 5: id: "));
  }
  EXPECT_THAT(parse_error(std::string(minimal).replace(0, 7, "id: \"bad Id!\"")),
              HasSubstr("id 'bad Id!' may only hold a-z, 0-9, '-', '_' and '.' (found ' ')"));
  EXPECT_THAT(parse_error(std::string(minimal).replace(0, 7, "id: \"Bad Id!\"")),
              HasSubstr("id 'Bad Id!' must start with a lower-case letter or a digit"));
  EXPECT_TRUE(check_profile_id("xiaomi-beryllium-tianma"));
  EXPECT_TRUE(check_profile_id("a.b_c-1"));
  EXPECT_FALSE(check_profile_id(std::string(65, 'a')));
  EXPECT_TRUE(check_profile_id(std::string(64, 'a')));
  // The binary form goes through the same rule.
  DeviceProfile p = *parse_device_profile(minimal, "t.yaml");
  p.id = "Bad Id!";
  auto bytes = encode_device_profile(p);
  ASSERT_TRUE(bytes);
  auto decoded = decode_device_profile(*bytes);
  ASSERT_FALSE(decoded);
  EXPECT_THAT(decoded.error().message(), HasSubstr("id 'Bad Id!'"));
}

// Issue 16 item 18: yaml-cpp reports an unclosed flow sequence at the end of
// the input, a line past the last one; the error points at the '[' instead.
TEST(DevproParse, UnclosedBracketErrorPointsInsideTheFile) {
  const std::string text = "id: x\n"
                           "display_name: X\n"
                           "match: [\n"
                           "  {fastboot: {vid: 0x18d1, pid: 0xd00d}}\n"
                           "probe: []\n";
  auto r = parse_device_profile(text, "five-lines.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("five-lines.yaml: line 3, column 8: "))
      << r.error().message();
  EXPECT_THAT(r.error().message(), HasSubstr("never closed")) << r.error().message();
  // Unclosed on the last line: yaml-cpp's mark is line 6 of a 5-line file.
  const std::string last = "id: x\n"
                           "display_name: X\n"
                           "match:\n"
                           "  - fastboot: {vid: 0x18d1, pid: 0xd00d}\n"
                           "probe: [\n";
  auto l = parse_device_profile(last, "five-lines.yaml");
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.error().message(), HasSubstr("five-lines.yaml: line 5, column 8: ")) << l.error().message();
}

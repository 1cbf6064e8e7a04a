// Boot Profiles: manifest schema and validation rules, pipeline binding rules,
// FBOOPROF golden vector and round-trips, identity strings, hydration, dtc
// overlays, effective stage0.
#include "common/hash.hpp"
#include "profiles/pipeline.hpp"
#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"
#include "test_support.hpp"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::profiles;
using ::testing::HasSubstr;
using fastboop::test::hex_bytes;
using fastboop::test::bytes_of;
using fastboop::test::concat;

namespace {

const std::string D = "sha512:" + std::string(128, '1');
const std::string C123 = "{digest: \"" + D + "\", size_bytes: 123}";


Result<BootProfile> compile(const std::string& yaml, const std::filesystem::path& base = ".") {
  return compile_boot_profile_manifest_text(yaml, "m.yaml", base);
}

std::string compile_error(const std::string& yaml) {
  auto r = compile(yaml);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
  return r.ok() ? std::string() : r.error().message();
}

std::string with_rootfs(const std::string& rootfs) { return "id: x\nrootfs:\n  " + rootfs + "\n"; }

// YAML -> bin -> YAML -> bin identical.
void expect_round_trip(const BootProfile& p) {
  auto bin = encode_boot_profile(p);
  ASSERT_TRUE(bin.ok());
  auto decoded = decode_boot_profile(*bin);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, p);
  const std::string shown = boot_profile_to_yaml(*decoded);
  auto again = compile(shown);
  ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << shown;
  EXPECT_EQ(*encode_boot_profile(*again), *bin) << shown;
  auto from_json = compile(boot_profile_to_json(*decoded));
  ASSERT_TRUE(from_json.ok()) << from_json.error().message();
  EXPECT_EQ(*from_json, p);
}

} // namespace

// --- golden vectors -----------------------------------------------------------

TEST(BootproCodec, SpecGoldenVector) {
  const std::string c300 = "{digest: \"" + D + "\", size_bytes: 300}";
  const std::string c1 = "{digest: \"" + D + "\", size_bytes: 1}";
  const std::string flattened = "id: x\nrootfs:\n  erofs: {file: r, content: " + c300 +
                                "}\nkernel:\n  path: /k\n  fat:\n    gpt:\n      partlabel: boot\n      xz: {http: "
                                "https://h/i, content: " +
                                c1 +
                                "}\nextra_cmdline: q\nstage0:\n  kernel_modules: [m1]\n  devices:\n    dev:\n      "
                                "extra_cmdline: e\n      stage0: {kernel_modules: [m2], inject_mac: {wifi: w}}\n";
  auto p = compile(flattened);
  ASSERT_TRUE(p.ok()) << p.error().message();
  const Bytes d = concat({hex_bytes("87 01"), bytes_of(D)});
  const Bytes expected =
      concat({hex_bytes("46 42 4f 4f 50 52 4f 46 00 00"), hex_bytes("01 78"), hex_bytes("00"), hex_bytes("01 02 01 72 01"), d, hex_bytes("ac 02"),
           hex_bytes("01 02 2f 6b"), hex_bytes("03 07 01 04 62 6f 6f 74 00 00 00"), hex_bytes("03 01 0b"), bytes_of("https://h/i"),
           hex_bytes("00 01"), d, hex_bytes("01"), hex_bytes("00 00"), hex_bytes("00"), hex_bytes("00"), hex_bytes("01 01 71"), hex_bytes("01 02 6d 31"),
           hex_bytes("01 03 64 65 76"), hex_bytes("00 01 01 65"), hex_bytes("01 02 6d 32 01 01 01 77 00")});
  auto bytes = encode_boot_profile(*p);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(to_hex(*bytes), to_hex(expected));
  auto decoded = decode_boot_profile(expected);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, *p);

  // The `source:` form of the gpt stage compiles to the same bytes.
  std::string source_form = flattened;
  source_form.replace(source_form.find("      xz: {"), 11, "      source:\n        xz: {");
  auto p2 = compile(source_form);
  ASSERT_TRUE(p2.ok()) << p2.error().message();
  EXPECT_EQ(*encode_boot_profile(*p2), expected);
  expect_round_trip(*p);
}

TEST(BootproCodec, LiveIsoSquashfsRootAndIsoKernelIssue21) {
  // A live ISO as a Boot Profile names: the squashfs inside the ISO as the
  // root, the kernel beside it through the ISO's own filesystem.
  auto p = compile("id: live\nrootfs:\n  squashfs:\n    iso9660:\n      path: live/filesystem.squashfs\n"
                   "      source:\n        http: https://cdimage.example/debian-live.iso\n        content: " +
                   C123 + "\n"
                   "kernel:\n  path: /live/vmlinuz\n  iso9660: {http: https://cdimage.example/debian-live.iso, "
                   "content: " + C123 + "}\n");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->rootfs.filesystem, FilesystemKind::Squashfs);
  EXPECT_EQ(p->rootfs.source.kind, StageKind::Iso9660);
  EXPECT_EQ(p->rootfs.source.iso_path, "live/filesystem.squashfs");
  ASSERT_TRUE(p->kernel);
  EXPECT_EQ(p->kernel->source.filesystem, FilesystemKind::Iso9660);
  auto bytes = encode_boot_profile(*p);
  ASSERT_TRUE(bytes.ok());
  auto decoded = decode_boot_profile(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, *p);
  expect_round_trip(*p);
  EXPECT_THAT(compile_error(with_rootfs("squashfs: {iso9660: {path: '  ', http: u, content: " + C123 + "}}")),
              HasSubstr("rootfs.squashfs.iso9660.path: iso9660 path must not be empty"));
}

TEST(BootproCodec, PrefixDecodeReportsConsumedAndIgnoresTail) {
  auto p = compile(with_rootfs("ext4: {file: r, content: " + C123 + "}"));
  ASSERT_TRUE(p.ok()) << p.error().message();
  auto bytes = concat({*encode_boot_profile(*p), bytes_of("TAIL")});
  std::size_t consumed = 0;
  ASSERT_TRUE(decode_boot_profile_prefix(bytes, &consumed).ok());
  EXPECT_EQ(consumed, bytes.size() - 4);
}

TEST(BootproCodec, RejectsBadMagicVersionTruncationAndInvalidValues) {
  auto p = compile(with_rootfs("erofs: {casync: {index: https://h/indexes/x.caibx, content: " + C123 + "}}"));
  ASSERT_TRUE(p.ok()) << p.error().message();
  const Bytes good = *encode_boot_profile(*p);
  Bytes bad = good;
  std::copy_n("NOTMAGIC", 8, bad.begin());
  EXPECT_THAT(decode_boot_profile(bad).error().message(), HasSubstr("missing FBOOPROF magic"));
  bad = good;
  bad[8] = 99;
  EXPECT_THAT(decode_boot_profile(bad).error().message(), HasSubstr("unsupported format version 99"));
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_boot_profile(ByteSpan(good).first(n)).ok()) << n;
  bad = good;
  bad[13] = 7; // rootfs variant
  EXPECT_THAT(decode_boot_profile(bad).error().message(), HasSubstr("at byte offset 13: rootfs: unknown variant index 7"));
  bad = good;
  bad[14] = 9; // pipeline stage variant
  EXPECT_THAT(decode_boot_profile(bad).error().message(), HasSubstr("pipeline stage: unknown variant index 9"));
}

TEST(BootproCodec, DecoderBoundsNesting) {
  // 100 nested xz stages, hand-encoded: the decoder stops cleanly.
  Bytes bytes = concat({bytes_of("FBOOPROF"), hex_bytes("00 00 01 78 00 01")});
  for (int i = 0; i < 100; ++i)
    bytes.push_back(3);
  auto r = decode_boot_profile(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("pipeline: exceeds max depth 16"));
}

// The fuzz-found hang (issue 24): 177 bytes whose first run of 0x05 bytes is a
// chain of android_sparseimg stages. Rendering each level twice made every two
// more bytes cost four times as long (26 bytes: about a minute). Decoding now
// stops at the depth limit before descending, and rendering is one pass.
Bytes fuzz_found_profile(std::size_t sparse_run) {
  Bytes bytes =
      hex_bytes("46424f4f50524f4600000000000005050505050505050505050505050505050505050000000000000000"
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "00000000000000000000000000000000050505050505056e756c6c050505050505ffffffffffffff07000030"
          "002b00");
  const auto first = std::find(bytes.begin(), bytes.end(), 0x05);
  const auto end = std::find_if(first, bytes.end(), [](std::uint8_t b) { return b != 0x05; });
  EXPECT_EQ(end - first, 20);
  bytes.erase(first, end);
  bytes.insert(bytes.begin() + (first - bytes.begin()), sparse_run, 0x05);
  return bytes;
}

TEST(BootproCodec, DeepChainFailsAtTheDepthLimitAfterBoundedWorkFixingFuzzHang) {
  for (std::size_t run : {20u, 26u, 60u, 4000u}) {
    SCOPED_TRACE(run);
    const Bytes bytes = fuzz_found_profile(run);
    detail::pipeline_work() = {};
    auto shown = show_bytes(bytes, "evil.fbp", ShowFormat::Yaml);
    ASSERT_FALSE(shown.ok());
    EXPECT_THAT(shown.error().message(), HasSubstr("exceeds max depth 16"));
    // One stage per level up to the limit, whatever the input's length.
    EXPECT_LE(detail::pipeline_work().decoded, detail::max_pipeline_depth + 1);
    EXPECT_EQ(detail::pipeline_work().rendered, 0u);
  }
}

TEST(BootproCodec, RenderingIsOnePassOverTheStagesFixingFuzzHang) {
  // 16 wrappers around a file: the deepest chain that validates. Rendering
  // it twice per level (the bug) would take 2^17 - 1 stage renderings.
  test::TempDir dir;
  test::write_file(dir / "r", std::string_view("rootfs bytes"));
  std::string pipeline = "{file: r}"; // hashed when compiled
  for (int i = 0; i < 16; ++i)
    pipeline = "{android_sparseimg: " + pipeline + "}";
  auto p = compile(with_rootfs("ext4: " + pipeline), dir.path());
  ASSERT_TRUE(p.ok()) << p.error().message();
  detail::pipeline_work() = {};
  const std::string yaml = boot_profile_to_yaml(*p);
  EXPECT_EQ(detail::pipeline_work().rendered, 17u);
  EXPECT_NE(yaml.find("android_sparseimg"), std::string::npos);
}

TEST(Pipeline, IdentityVectors) {
  auto p = compile(with_rootfs("erofs: {xz: {http: \"https://a/b.xz\", content: " + C123 + "}}"));
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(pipeline_identity(p->rootfs.source), "xz{source=http{url=len:14:https://a/b.xz;cors_safelisted_mode=false;}}");

  PipelineSource gpt;
  gpt.kind = StageKind::Gpt;
  gpt.partlabel = "root";
  gpt.index = 0;
  PipelineSource file;
  file.kind = StageKind::File;
  file.location = "./x";
  gpt.source = Box<PipelineSource>(file);
  EXPECT_EQ(pipeline_identity(gpt),
            "gpt{partlabel=some:value=len:4:root;partuuid=none;index=some:0;lba_size=none;source=file{path=len:3:./x;}}");

  PipelineSource http;
  http.kind = StageKind::Http;
  http.location = "u";
  const auto plain = pipeline_identity(http);
  http.cors_safelisted_mode = true;
  EXPECT_NE(pipeline_identity(http), plain);
  http.content = ContentDigest{D, 1};
  EXPECT_EQ(pipeline_identity(http), "http{url=len:1:u;cors_safelisted_mode=true;}"); // content excluded
  PipelineSource cas;
  cas.kind = StageKind::Casync;
  cas.location = "i";
  cas.chunk_store = "s/";
  EXPECT_EQ(pipeline_identity(cas), "casync{index=len:1:i;chunk_store=some:value=len:2:s/;}");
}

// --- schema ------------------------------------------------------------------

TEST(BootproManifest, StageForms) {
  const std::string cases[] = {
      "erofs: {http: https://h/r.img, cors_safelisted_mode: true, content: " + C123 + "}",
      "ext4: {casync: {index: https://h/indexes/r.caibx, chunk_store: https://h/chunks/, content: " + C123 + "}}",
      "ext4: {mbr: {index: 1, android_sparseimg: {xz: {http: https://h/i.xz, content: " + C123 + "}}}}",
      "ext4: {mbr: {partuuid: 12345678-02, lba_size: 4096, source: {file: r, content: " + C123 + "}}}",
      "erofs: {gpt: {partuuid: 0fc63daf-8483-4772-8e79-3d69d8477de4, xz: {file: r, content: " + C123 + "}}}",
      "erofs: {tar: {entry: rootfs.erofs, source: {file: r.tar, content: " + C123 + "}, content: " + C123 + "}}",
      "ostree: {ext4: {file: r, content: " + C123 + "}}",
      "erofs: {xz: {source: {file: r.xz, content: " + C123 + "}}, content: " + C123 + "}",
  };
  for (const auto& c : cases) {
    auto p = compile(with_rootfs(c));
    ASSERT_TRUE(p.ok()) << c << ": " << p.error().message();
    expect_round_trip(*p);
  }
  auto ostree = compile(with_rootfs(cases[6]));
  EXPECT_TRUE(ostree->rootfs.ostree);
  EXPECT_EQ(ostree->rootfs.filesystem, FilesystemKind::Ext4);
}

// Spec §3.2 rule 1: in the flattened form `content` binds to the wrapper.
TEST(BootproManifest, FlattenedContentBindsToWrapper) {
  test::TempDir tmp;
  test::write_file(tmp / "x.simg", "sparse");
  auto p = compile(with_rootfs("ext4: {android_sparseimg: {file: x.simg, content: " + C123 + "}}"), tmp.path());
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_TRUE(p->rootfs.source.content);
  EXPECT_EQ(p->rootfs.source.content->size_bytes, 123u);
  // The file below was hashed instead.
  const auto& file = **p->rootfs.source.source;
  ASSERT_TRUE(file.content);
  EXPECT_EQ(file.content->size_bytes, 6u);
  // For http that is the MissingHttpContent validation error.
  EXPECT_EQ(compile_error(with_rootfs("ext4: {android_sparseimg: {http: https://h/x, content: " + C123 + "}}")),
            "m.yaml: rootfs.ext4.android_sparseimg: http stage requires content (digest and size_bytes)");
  // Rule 2: in the xz direct form it binds to the inner http.
  auto xz = compile(with_rootfs("ext4: {xz: {http: https://h/x, content: " + C123 + "}}"));
  ASSERT_TRUE(xz.ok()) << xz.error().message();
  EXPECT_FALSE(xz->rootfs.source.content);
  EXPECT_TRUE((*xz->rootfs.source.source)->content);
}

// Upstream bug B4: show flattened a terminal's content onto the wrapper.
TEST(BootproManifest, ShowRoundTripsTerminalContentUnderWrappersFixingB4) {
  for (const char* wrapper : {"android_sparseimg: {", "mbr: {index: 0, ", "gpt: {partlabel: root, ", "tar: {entry: e, "}) {
    const std::string yaml =
        with_rootfs("ext4: {" + std::string(wrapper) + "source: {http: https://h/x, content: " + C123 + "}}}");
    auto p = compile(yaml);
    ASSERT_TRUE(p.ok()) << yaml << p.error().message();
    const std::string shown = boot_profile_to_yaml(*p);
    EXPECT_THAT(shown, HasSubstr("source:")) << shown;
    expect_round_trip(*p);
    // Both levels with content (a duplicate `content` key upstream).
    auto both = *p;
    both.rootfs.source.content = ContentDigest{D, 7};
    expect_round_trip(both);
  }
}

TEST(BootproManifest, UnknownKeysAndTypeErrorsNameThePath) {
  EXPECT_THAT(compile_error("id: x\nrootfs: {ext4: {file: r, content: " + C123 + "}}\nfoo: 1\n"),
              HasSubstr("m.yaml: line 3, column 1: unknown key 'foo'"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {mbr: {index: -1, file: r}}")),
              HasSubstr("line 3, column 23: rootfs.ext4.mbr.index: negative value -1 is out of range"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {mbr: {index: 4294967296, file: r}}")),
              HasSubstr("rootfs.ext4.mbr.index: value 4294967296 is out of range (0..4294967295)"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {http: u, file: r}")),
              HasSubstr("rootfs.ext4: a stage map has exactly one stage key, found http and file"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {mbr: {index: 0, file: r, colour: red}}")),
              HasSubstr("rootfs.ext4.mbr: unknown key 'colour'"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {mbr: {index: 0, source: {file: r}, colour: red}}")),
              HasSubstr("rootfs.ext4.mbr: unknown key 'colour' next to 'source'"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {mbr: {index: 0}}")), HasSubstr("rootfs.ext4.mbr: missing the inner source"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {file: r, content: {digest: x}}")),
              HasSubstr("rootfs.ext4.content: missing required key 'size_bytes'"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {file: r, content: {digest: x, size_bytes: 1, sha: 2}}")),
              HasSubstr("unknown key 'sha'"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {http: u, cors_safelisted_mode: yes, content: " + C123 + "}")),
              HasSubstr("rootfs.ext4.cors_safelisted_mode: expected true or false"));
  EXPECT_THAT(compile_error("id: x\nrootfs: {erofs: {file: a}, ext4: {file: b}}\n"),
              HasSubstr("rootfs: found 2 filesystem keys (erofs, ext4); exactly one of erofs, ext4, fat, squashfs, "
                        "iso9660, ostree"));
  EXPECT_THAT(compile_error("id: x\nrootfs: {ostree: {ostree: {ext4: {file: a}}}}\n"),
              HasSubstr("rootfs.ostree: expected exactly one filesystem key (erofs, ext4, fat, squashfs, iso9660)"));
  EXPECT_THAT(compile_error("id: x\nrootfs: {ext4: {file: a, content: " + C123 + "}}\nkernel: {path: /k, fat: {file: b, "
                            "content: " + C123 + "}, extra: 1}\n"),
              HasSubstr("kernel: unknown key 'extra'"));
  EXPECT_THAT(compile_error("id: x\nrootfs: {ext4: {file: a, content: " + C123 + "}}\nkernel: {fat: {file: b}}\n"),
              HasSubstr("kernel: missing required key 'path'"));
}

TEST(BootproManifest, Stage0IsDeviceScoped) {
  const std::string base = "id: x\nrootfs: {ext4: {file: a, content: " + C123 + "}}\n";
  EXPECT_THAT(compile_error(base + "stage0: {inject_mac: {wifi: w}}\n"),
              HasSubstr("stage0.inject_mac: inject_mac is device-scoped"));
  EXPECT_THAT(compile_error(base + "stage0: {devices: {d: {stage0: {inject_mac: {wlan: w}}}}}\n"),
              HasSubstr("stage0.devices.d.stage0.inject_mac: unknown key 'wlan'"));
  EXPECT_THAT(compile_error(base + "stage0: {devices: {d: {kernel_modules: [a]}}}\n"),
              HasSubstr("stage0.devices.d: unknown key 'kernel_modules'"));
  EXPECT_THAT(compile_error(base + "stage0: {devices: {d: {}, d: {}}}\n"), HasSubstr("duplicate key 'd'"));
  auto p = compile(base + "stage0:\n  kernel_modules: [erofs]\n  devices:\n    zeta: {}\n    alpha:\n      extra_cmdline: "
                          "x\n      stage0: {kernel_modules: [qcom-foo], inject_mac: {wifi: w, bluetooth: b}}\n");
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_EQ(p->stage0.devices.size(), 2u);
  EXPECT_EQ(p->stage0.devices.begin()->first, "alpha"); // postcard BTreeMap order
  EXPECT_EQ(p->stage0.devices.at("alpha").inject_mac->bluetooth, "b");
  expect_round_trip(*p);
}

// --- validation rules (spec §2.5, §3.3-§3.5) ------------------------------------

TEST(BootproValidation, Rules) {
  const std::string c = C123;
  const std::pair<std::string, std::string> cases[] = {
      {with_rootfs("fat: {file: r, content: " + c + "}"),
       "rootfs: boot profile rootfs filesystem 'fat' is not supported for stage0 switchroot (supported: erofs, ext4, "
       "squashfs)"},
      {with_rootfs("iso9660: {file: r, content: " + c + "}"), "rootfs filesystem 'iso9660' is not supported"},
      {with_rootfs("ostree: {fat: {file: r, content: " + c + "}}"), "rootfs filesystem 'fat' is not supported"},
      {"id: x\nrootfs: {ext4: {file: r, content: " + c + "}}\nkernel: {path: '   ', fat: {file: b, content: " + c + "}}\n",
       "kernel.path: boot profile kernel path must not be empty"},
      {"id: x\nrootfs: {ext4: {file: r, content: " + c + "}}\ndtbs: {path: '', fat: {file: b, content: " + c + "}}\n",
       "dtbs.path: boot profile dtbs path must not be empty"},
      {with_rootfs("ext4: {http: ' ', content: " + c + "}"), "rootfs.ext4.http: http url must not be empty"},
      {with_rootfs("ext4: {http: u}"), "rootfs.ext4: http stage requires content"},
      {with_rootfs("ext4: {file: ' '}"), "rootfs.ext4.file: file path must not be empty"},
      {with_rootfs("ext4: {casync: https://h/indexes/x.caibx}"), "rootfs.ext4.casync: casync stage requires content"},
      {with_rootfs("ext4: {casync: {index: 'https://h/x.CAIDX?x=1', content: " + c + "}}"),
       "rootfs.ext4.casync.index: expected casync blob index (.caibx)"},
      {with_rootfs("ext4: {casync: {index: ' ', content: " + c + "}}"), "casync index must not be empty"},
      {with_rootfs("ext4: {casync: {index: i, chunk_store: ' ', content: " + c + "}}"),
       "rootfs.ext4.casync.chunk_store: casync chunk_store must not be blank"},
      {with_rootfs("ext4: {mbr: {source: {file: r, content: " + c + "}}}"),
       "rootfs.ext4.mbr: pipeline mbr step must specify exactly one selector (partuuid or index); found 0"},
      {with_rootfs("ext4: {mbr: {index: 0, partuuid: a-01, source: {file: r, content: " + c + "}}}"),
       "exactly one selector (partuuid or index); found 2"},
      {with_rootfs("ext4: {mbr: {partuuid: ' ', source: {file: r, content: " + c + "}}}"),
       "rootfs.ext4.mbr.partuuid: mbr partuuid must not be blank"},
      {with_rootfs("ext4: {gpt: {source: {file: r, content: " + c + "}}}"),
       "rootfs.ext4.gpt: pipeline gpt step must specify exactly one selector (partlabel, partuuid or index); found 0"},
      {with_rootfs("ext4: {gpt: {partlabel: ' ', source: {file: r, content: " + c + "}}}"),
       "rootfs.ext4.gpt.partlabel: gpt partlabel must not be blank"},
      {with_rootfs("ext4: {tar: {entry: ' ', source: {file: r, content: " + c + "}}}"),
       "rootfs.ext4.tar.entry: tar entry must not be empty"},
      {with_rootfs("ext4: {file: r, content: {digest: '', size_bytes: 1}}"), "rootfs.ext4.content.digest: content digest must not be empty"},
      {with_rootfs("ext4: {file: r, content: {digest: 'sha256:00', size_bytes: 1}}"), "must start with 'sha512:'"},
      {with_rootfs("ext4: {file: r, content: {digest: 'sha512:NOTHEX', size_bytes: 1}}"),
       "content digest must have 128 hex digits after 'sha512:' (found 6)"},
      {with_rootfs("ext4: {file: r, content: {digest: 'sha512:" + std::string(128, 'A') + "', size_bytes: 1}}"),
       "content digest must be lowercase hex"},
      {with_rootfs("ext4: {xz: {file: r, content: " + c + "}, content: {digest: x, size_bytes: 1}}"),
       "rootfs.ext4.content.digest: content digest must start with 'sha512:'"},
      {with_rootfs("ext4: {mbr: {index: 0, source: {file: r, content: " + c + "}, content: {digest: x, size_bytes: 1}}}"),
       "rootfs.ext4.mbr.content.digest: content digest must start"},
  };
  for (const auto& [yaml, message] : cases)
    EXPECT_THAT(compile_error(yaml), HasSubstr(message)) << yaml;
  // Accepted: casync blob index, gpt over casync, 0-size content, any suffix.
  EXPECT_TRUE(compile(with_rootfs("ext4: {gpt: {index: 1, casync: {index: https://h/indexes/x.caibx, content: " + c +
                                  "}}}"))
                  .ok());
  EXPECT_TRUE(compile(with_rootfs("ext4: {casync: {index: x.img, content: {digest: '" + D + "', size_bytes: 0}}}")).ok());
}

// Audit gaps: gpt selector counts and blank partuuid, and errors inside the
// kernel and dtbs pipelines carry their own field-path prefix.
TEST(BootproValidation, GptSelectorsAndKernelDtbsPaths) {
  const std::string c = C123;
  EXPECT_EQ(compile_error(with_rootfs("ext4: {gpt: {partlabel: root, index: 2, source: {file: r, content: " + c + "}}}")),
            "m.yaml: rootfs.ext4.gpt: pipeline gpt step must specify exactly one selector (partlabel, partuuid or "
            "index); found 2");
  EXPECT_THAT(compile_error(with_rootfs("ext4: {gpt: {partlabel: a, partuuid: b, index: 1, source: {file: r, content: " +
                                        c + "}}}")),
              HasSubstr("exactly one selector (partlabel, partuuid or index); found 3"));
  EXPECT_EQ(compile_error(with_rootfs("ext4: {gpt: {partuuid: '  ', source: {file: r, content: " + c + "}}}")),
            "m.yaml: rootfs.ext4.gpt.partuuid: gpt partuuid must not be blank");
  // The same gpt with exactly one selector compiles.
  EXPECT_TRUE(compile(with_rootfs("ext4: {gpt: {partuuid: 0f0e, source: {file: r, content: " + c + "}}}")).ok());

  const std::string rootfs = "id: x\nrootfs: {ext4: {file: r, content: " + c + "}}\n";
  EXPECT_EQ(compile_error(rootfs + "kernel: {path: /k, fat: {gpt: {source: {file: b, content: " + c + "}}}}\n"),
            "m.yaml: kernel.fat.gpt: pipeline gpt step must specify exactly one selector (partlabel, partuuid or "
            "index); found 0");
  EXPECT_EQ(compile_error(rootfs + "kernel: {path: /k, ostree: {erofs: {http: ' ', content: " + c + "}}}\n"),
            "m.yaml: kernel.ostree.erofs.http: http url must not be empty");
  EXPECT_EQ(compile_error(rootfs + "dtbs: {path: /d, ext4: {mbr: {partuuid: '', source: {file: b, content: " + c +
                          "}}}}\n"),
            "m.yaml: dtbs.ext4.mbr.partuuid: mbr partuuid must not be blank");
  EXPECT_EQ(compile_error(rootfs + "dtbs: {path: /d, fat: {http: u}}\n"),
            "m.yaml: dtbs.fat: http stage requires content (digest and size_bytes)");
}

// Wrong types are errors (issue 2): a plain scalar that YAML reads as a
// number or boolean is not a string; quoting it makes it one.
TEST(BootproManifest, PlainNumbersAndBooleansAreNotStrings) {
  EXPECT_EQ(compile_error("id: 123\nrootfs: {ext4: {file: r, content: " + C123 + "}}\n"),
            "m.yaml: line 1, column 5: id: expected a string, found an integer '123' (quote it to mean the string)");
  EXPECT_THAT(compile_error("id: x\ndisplay_name: true\nrootfs: {ext4: {file: r, content: " + C123 + "}}\n"),
              HasSubstr("line 2, column 15: display_name: expected a string, found a boolean 'true'"));
  EXPECT_THAT(compile_error(with_rootfs("ext4: {gpt: {partlabel: 1.5, source: {file: r, content: " + C123 + "}}}")),
              HasSubstr("rootfs.ext4.gpt.partlabel: expected a string, found a number '1.5'"));
  EXPECT_THAT(compile_error("id: x\nrootfs: {ext4: {file: r, content: " + C123 + "}}\nextra_cmdline: 0x10\n"),
              HasSubstr("extra_cmdline: expected a string, found an integer '0x10'"));
  auto quoted = compile("id: '123'\ndisplay_name: \"true\"\nrootfs: {ext4: {file: r, content: " + C123 + "}}\n");
  ASSERT_TRUE(quoted.ok()) << quoted.error().message();
  EXPECT_EQ(quoted->id, "123");
  EXPECT_EQ(quoted->display_name, "true");
  // Strings that merely look numeric stay strings.
  auto plain = compile("id: 1.2.3\ndisplay_name: 0xZZ\nrootfs: {ext4: {file: 1e, content: " + C123 + "}}\n");
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(plain->id, "1.2.3");
  // show quotes such strings, so its output compiles back.
  expect_round_trip(*quoted);
}

TEST(BootproValidation, DepthLimit) {
  auto nested = [](int wrappers) {
    std::string s = "{file: r, content: " + C123 + "}";
    for (int i = 0; i < wrappers; ++i)
      s = "{xz: " + s + "}";
    return with_rootfs("ext4: " + s);
  };
  auto ok16 = compile(nested(16));
  ASSERT_TRUE(ok16.ok()) << ok16.error().message();
  expect_round_trip(*ok16);
  EXPECT_THAT(compile_error(nested(17)), HasSubstr("pipeline exceeds max depth 16"));
  // Refused while parsing, before descending into the rest.
  EXPECT_THAT(compile_error(nested(80)), HasSubstr("pipeline exceeds max depth 16"));
}

// --- hydration ---------------------------------------------------------------------

TEST(BootproHydration, BareFileLeavesGetContentRelativeToManifestDir) {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp / "sub" / "img");
  test::write_file(tmp / "sub" / "img" / "rootfs.simg", "ABCDEFGH");
  test::write_file(tmp / "sub" / "img" / "boot.vfat", "kernel!");
  const std::string manifest = "id: h\nrootfs:\n  ext4:\n    gpt:\n      index: 1\n      android_sparseimg: {file: "
                               "img/rootfs.simg}\nkernel:\n  path: /vmlinuz\n  fat: {file: ./img/boot.vfat}\n";
  test::write_file(tmp / "sub" / "m.yaml", manifest);
  auto p = compile_boot_profile_manifest(tmp / "sub" / "m.yaml");
  ASSERT_TRUE(p.ok()) << p.error().message();
  const auto& leaf = **(*p->rootfs.source.source)->source;
  EXPECT_EQ(leaf.location, "img/rootfs.simg"); // literal string kept
  ASSERT_TRUE(leaf.content);
  EXPECT_EQ(leaf.content->digest, "sha512:" + sha512_hex(as_bytes("ABCDEFGH")));
  EXPECT_EQ(leaf.content->size_bytes, 8u);
  EXPECT_FALSE(p->rootfs.source.content); // wrappers are never hydrated
  EXPECT_EQ(p->kernel->source.source.location, "./img/boot.vfat");
  EXPECT_EQ(p->kernel->source.source.content->size_bytes, 7u);
  // Declared content is kept as written.
  test::write_file(tmp / "sub" / "m2.yaml", "id: h\nrootfs: {ext4: {file: img/rootfs.simg, content: " + C123 + "}}\n");
  EXPECT_EQ(compile_boot_profile_manifest(tmp / "sub" / "m2.yaml")->rootfs.source.content->size_bytes, 123u);
  // Missing files and directories are errors naming the field.
  auto missing = compile(with_rootfs("ext4: {mbr: {index: 0, file: nope.img}}"), tmp.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message(), HasSubstr("m.yaml: rootfs.ext4.mbr.file: cannot hash"));
  auto dir = compile(with_rootfs("ext4: {file: sub}"), tmp.path());
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.error().message(), HasSubstr("rootfs.ext4.file: '" + (tmp / "sub").string() + "' is not a regular file"));
}

// --- overlays through the real dtc ----------------------------------------------------

namespace {
const char* const overlay_dts = R"(/dts-v1/;
/plugin/;
/ {
	fragment@0 {
		target-path = "/soc";
		__overlay__ {
			status = "okay";
			wifi: wifi { compatible = "qcom,wcn3990-wifi"; };
		};
	};
};
)";
}

TEST(BootproOverlays, DtsCompiledWithDtcAndDtboAccepted) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  test::TempDir tmp;
  test::write_file(tmp / "o.dts", overlay_dts);
  auto dtc = test::run({"dtc", "-@", "-I", "dts", "-O", "dtb", "-o", (tmp / "o.dtbo").string(), (tmp / "o.dts").string()});
  ASSERT_EQ(dtc.exit_code, 0) << dtc.err;
  const Bytes peer_dtbo = test::read_file(tmp / "o.dtbo");

  std::string inline_dts;
  for (const char* line = overlay_dts; *line; ++line)
    inline_dts += *line == '\n' ? std::string("\n    ") : std::string(1, *line);
  const std::string manifest = "id: o\nrootfs: {ext4: {file: r, content: " + C123 +
                               "}}\ndt_overlays:\n  - |\n    " + inline_dts +
                               "\n  - {dtbo_file: o.dtbo}\n  - {dts_file: o.dts}\nstage0:\n  devices:\n    dev:\n      "
                               "dt_overlays: [{dtbo_file: o.dtbo}]\n";
  auto p = compile(manifest, tmp.path());
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_EQ(p->dt_overlays.size(), 3u);
  EXPECT_EQ(p->dt_overlays[0], peer_dtbo);
  EXPECT_EQ(p->dt_overlays[1], peer_dtbo);
  EXPECT_EQ(p->dt_overlays[2], peer_dtbo);
  // __symbols__ from -@ are present (needed for phandle fixups).
  auto fdtdump = test::run({"dtc", "-I", "dtb", "-O", "dts", (tmp / "o.dtbo").string()});
  EXPECT_THAT(std::string(fdtdump.out.begin(), fdtdump.out.end()), HasSubstr("__symbols__"));
  expect_round_trip(*p);
  // With base64 rendering too.
  auto again = compile(boot_profile_to_yaml(*p, OverlayRendering::Base64), tmp.path());
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *p);

  auto bad = compile("id: o\nrootfs: {ext4: {file: r, content: " + C123 + "}}\ndt_overlays: ['/dts-v1/; / { x = <; };']\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("dt_overlays[0]: dtc failed to compile DTS overlay:"));
  test::write_file(tmp / "junk.dtbo", "junk");
  auto junk = compile("id: o\nrootfs: {ext4: {file: r, content: " + C123 + "}}\ndt_overlays: [{dtbo_file: junk.dtbo}]\n",
                      tmp.path());
  ASSERT_FALSE(junk.ok());
  EXPECT_THAT(junk.error().message(), HasSubstr("is not a compiled device tree"));
}

// --- runtime semantics ----------------------------------------------------------------

TEST(BootproStage0, EffectiveStage0) {
  BootProfile p;
  p.dt_overlays = {{0xAA}};
  p.extra_cmdline = "selinux=0";
  p.stage0.kernel_modules = {"erofs"};
  DeviceStage0 d;
  d.dt_overlays = {{0xBB}};
  d.extra_cmdline = "console=ttyMSM0,115200n8";
  d.kernel_modules = {"qcom-foo"};
  d.inject_mac = InjectMac{"qcom,wcn3990-wifi-device", "qcom,wcn3990-bt"};
  p.stage0.devices["oneplus-fajita"] = d;
  auto e = effective_stage0(p, "oneplus-fajita");
  EXPECT_EQ(e.kernel_modules, (std::vector<std::string>{"erofs", "qcom-foo"}));
  EXPECT_EQ(e.extra_cmdline, "selinux=0 console=ttyMSM0,115200n8");
  EXPECT_EQ(e.dt_overlays, (std::vector<Bytes>{{0xAA}, {0xBB}}));
  EXPECT_EQ(e.inject_mac, d.inject_mac);
  EXPECT_TRUE(boot_profile_matches_device(p, "oneplus-fajita"));
  EXPECT_FALSE(boot_profile_matches_device(p, "oneplus-enchilada"));
  auto other = effective_stage0(p, "oneplus-enchilada");
  EXPECT_EQ(other.kernel_modules, (std::vector<std::string>{"erofs"}));
  EXPECT_FALSE(other.inject_mac);
  p.stage0.devices.clear();
  EXPECT_TRUE(boot_profile_matches_device(p, "anything"));
}

// Upstream N6: the global cmdline was used untrimmed without a device entry.
TEST(BootproStage0, ExtraCmdlineTrimmedConsistentlyFixingN6) {
  BootProfile p;
  p.extra_cmdline = "  quiet  ";
  EXPECT_EQ(effective_stage0(p, "none").extra_cmdline, "quiet");
  p.stage0.devices["d"].extra_cmdline = " x ";
  EXPECT_EQ(effective_stage0(p, "d").extra_cmdline, "quiet x");
  p.extra_cmdline = "   ";
  EXPECT_FALSE(effective_stage0(p, "none").extra_cmdline);
  p.stage0.devices["d"].extra_cmdline = "";
  EXPECT_FALSE(effective_stage0(p, "d").extra_cmdline);
}

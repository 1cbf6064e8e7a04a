// Byte comparison against Debian's mkbootimg (1:29.0.6), the parse check with
// Debian's unpack_bootimg, and the unpack + pack round trip of our own tool.
// Where Debian's old mkbootimg differs from AOSP (spec §1.4, §1.5, §1.8) the
// difference is asserted explicitly, byte range by byte range.
#include "bootimg/bootimg.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <sstream>

using namespace fastboop;
using namespace fastboop::bootimg;
namespace fs = std::filesystem;

namespace {

// The tool sits next to this test binary in <build>/bin. (The shared gtest
// registration passes only the first of its two ENVIRONMENT entries, so
// FASTBOOP_BINARY_DIR is not reliably set under ctest.)
std::string tool() {
  return (fs::read_symlink("/proc/self/exe").parent_path() / "fastboop-bootimg").string();
}

std::string make_cmdline(std::size_t len) {
  std::string s;
  int i = 0;
  while (s.size() < len) {
    s += "opt" + std::to_string(i++) + "=v ";
  }
  s.resize(len);
  if (!s.empty() && s.back() == ' ')
    s.back() = 'x';
  return s;
}

struct Case {
  std::uint32_t version = 0;
  std::uint32_t page = 2048;
  bool ramdisk = true;
  bool second = false;
  std::size_t cmdline_len = 0;
  std::string describe() const {
    std::ostringstream o;
    o << "v" << version << " page " << page << (ramdisk ? " ramdisk" : " no-ramdisk") << (second ? " second" : "")
      << " cmdline " << cmdline_len;
    return o.str();
  }
};

class Fixture {
public:
  Fixture() {
    kernel = test::random_bytes(5001, 1);
    ramdisk = test::random_bytes(3003, 2);
    second = test::random_bytes(1500, 3);
    dtb = test::random_bytes(777, 4);
    dtbo = test::random_bytes(999, 5);
    test::write_file(dir / "kernel", kernel);
    test::write_file(dir / "ramdisk", ramdisk);
    test::write_file(dir / "second", second);
    test::write_file(dir / "dtb", dtb);
    test::write_file(dir / "dtbo", dtbo);
  }
  test::TempDir dir;
  Bytes kernel, ramdisk, second, dtb, dtbo;

  BootImageArgs args(const Case& c, const std::string& cmdline) const {
    BootImageArgs a;
    a.header_version = c.version;
    a.page_size = c.page;
    a.base = 0x80000000;
    a.kernel = kernel;
    if (c.ramdisk)
      a.ramdisk = ramdisk;
    if (c.second)
      a.second = second;
    if (c.version == 2)
      a.dtb = dtb;
    a.cmdline = cmdline;
    a.board = "fastboop";
    a.os_version = 13 << 14;
    a.os_patch_level = (24 << 4) | 12;
    return a;
  }

  std::vector<std::string> debian_argv(const Case& c, const std::string& cmdline, const fs::path& out) const {
    std::vector<std::string> v = {"mkbootimg", "--header_version", std::to_string(c.version), "--pagesize",
                                  std::to_string(c.page), "--base", "0x80000000", "--kernel",
                                  (dir / "kernel").string(), "--cmdline", cmdline, "--board", "fastboop",
                                  "--os_version", "13.0.0", "--os_patch_level", "2024-12", "-o", out.string()};
    if (c.ramdisk)
      v.insert(v.end(), {"--ramdisk", (dir / "ramdisk").string()});
    if (c.second)
      v.insert(v.end(), {"--second", (dir / "second").string()});
    if (c.version == 2)
      v.insert(v.end(), {"--dtb", (dir / "dtb").string()});
    return v;
  }
};

// Bytes differing between a and b, as [begin, end) ranges.
std::vector<std::pair<std::size_t, std::size_t>> diff_ranges(const Bytes& a, const Bytes& b) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n;) {
    bool same = i < a.size() && i < b.size() && a[i] == b[i];
    if (same) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && !(j < a.size() && j < b.size() && a[j] == b[j]))
      ++j;
    out.emplace_back(i, j);
    i = j;
  }
  return out;
}

bool within(const std::vector<std::pair<std::size_t, std::size_t>>& ranges,
            std::initializer_list<std::pair<std::size_t, std::size_t>> allowed) {
  for (auto [b, e] : ranges) {
    bool ok = false;
    for (auto [ab, ae] : allowed)
      ok = ok || (b >= ab && e <= ae);
    if (!ok)
      return false;
  }
  return true;
}

// Debian's unpack_bootimg must parse our image and extract the same bytes.
void check_debian_unpack(const fs::path& image, const fs::path& out, const std::map<std::string, Bytes>& parts,
                         const std::string& cmdline) {
  auto r = test::run({"unpack_bootimg", "--boot_img", image.string(), "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [name, bytes] : parts)
    EXPECT_EQ(test::read_file(out / name), bytes) << name;
  std::string printed(as_chars(r.out));
  std::string joined;
  std::istringstream lines(printed);
  for (std::string line; std::getline(lines, line);) {
    for (std::string key : {"command line args: ", "additional command line args: "})
      if (line.rfind(key, 0) == 0)
        joined += line.substr(key.size());
  }
  EXPECT_EQ(joined, cmdline);
}

// Our unpack writes the parts and the arguments; our pack must rebuild the
// identical image from them.
void check_round_trip(const fs::path& image, const fs::path& dir) {
  const std::string tool = ::tool();
  auto r = test::run({tool, "unpack", image.string(), "-o", dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rebuilt = dir / "rebuilt.img";
  auto sh = test::sh("cd '" + dir.string() + "' && xargs -0 '" + tool + "' -o '" + rebuilt.string() +
                     "' < mkbootimg_args.nul");
  ASSERT_EQ(sh.exit_code, 0) << sh.err;
  EXPECT_EQ(test::read_file(rebuilt), test::read_file(image)) << "args: " << as_chars(test::read_file(dir / "mkbootimg_args"));
}

} // namespace

class BootimgDebianMatrix : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(BootimgDebianMatrix, BytesMatchOrDifferOnlyWhereDocumented) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  FASTBOOP_REQUIRE_PROGRAM("unpack_bootimg");
  Fixture fx;
  const std::uint32_t version = GetParam();
  int n = 0;
  for (std::uint32_t page : {2048u, 4096u, 8192u, 16384u})
    for (bool ramdisk : {true, false})
      for (bool second : {false, true})
        for (std::size_t len : {std::size_t{0}, std::size_t{40}, std::size_t{511}, std::size_t{512},
                                std::size_t{700}, std::size_t{1534}}) {
          // Keep the matrix fast: every length on 2048/4096 with a ramdisk,
          // one length for the other combinations.
          const bool full = ramdisk && page <= 4096;
          if (!full && len != (ramdisk ? 40u : 0u))
            continue;
          if (full && len == 0)
            continue;
          Case c{version, page, ramdisk, second, len};
          SCOPED_TRACE(c.describe());
          const std::string cmdline = make_cmdline(len);
          const fs::path ref = fx.dir / ("deb" + std::to_string(n) + ".img");
          const fs::path ours = fx.dir / ("our" + std::to_string(n) + ".img");
          ++n;
          auto r = test::run(fx.debian_argv(c, cmdline, ref));
          ASSERT_EQ(r.exit_code, 0) << r.err;
          Bytes deb = test::read_file(ref);
          auto built = build_boot_image(fx.args(c, cmdline));
          ASSERT_TRUE(built) << built.error().message();
          test::write_file(ours, *built);
          if (len < 512) {
            EXPECT_EQ(*built, deb);
          } else {
            // Debian 29 puts 512 bytes in cmdline (no NUL); AOSP 511 + NUL.
            auto d = diff_ranges(*built, deb);
            EXPECT_FALSE(d.empty());
            EXPECT_TRUE(within(d, {{64, 576}, {608, 1632}}));
            EXPECT_EQ((*built)[64 + 511], 0);
            EXPECT_NE(deb[64 + 511], 0);
            auto legacy = fx.args(c, cmdline);
            legacy.cmdline_split = CmdlineSplit::Legacy512;
            auto built_legacy = build_boot_image(legacy);
            ASSERT_TRUE(built_legacy);
            EXPECT_EQ(*built_legacy, deb);
          }
          std::map<std::string, Bytes> parts = {{"kernel", fx.kernel}};
          if (ramdisk)
            parts["ramdisk"] = fx.ramdisk;
          if (second)
            parts["second"] = fx.second;
          if (version == 2)
            parts["dtb"] = fx.dtb;
          check_debian_unpack(ours, fx.dir / ("unpack-deb" + std::to_string(n)), parts, cmdline);
          check_round_trip(ours, fx.dir / ("unpack-our" + std::to_string(n)));
        }
}

INSTANTIATE_TEST_SUITE_P(Versions, BootimgDebianMatrix, ::testing::Values(0u, 1u, 2u));

TEST(BootimgDebian, V3DiffersOnlyInHeaderSize) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  Fixture fx;
  int n = 0;
  for (bool ramdisk : {true, false})
    for (std::size_t len : {std::size_t{0}, std::size_t{600}, std::size_t{1535}}) {
      SCOPED_TRACE("ramdisk " + std::to_string(ramdisk) + " cmdline " + std::to_string(len));
      const std::string cmdline = make_cmdline(len);
      fs::path ref = fx.dir / ("v3deb" + std::to_string(n) + ".img");
      fs::path ours = fx.dir / ("v3our" + std::to_string(n) + ".img");
      ++n;
      std::vector<std::string> argv = {"mkbootimg", "--header_version", "3", "--kernel", (fx.dir / "kernel").string(),
                                       "--cmdline", cmdline, "--os_version", "13.0.0", "--os_patch_level",
                                       "2024-12", "-o", ref.string()};
      if (ramdisk)
        argv.insert(argv.end(), {"--ramdisk", (fx.dir / "ramdisk").string()});
      auto r = test::run(argv);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      BootImageArgs a;
      a.header_version = 3;
      a.kernel = fx.kernel;
      if (ramdisk)
        a.ramdisk = fx.ramdisk;
      a.cmdline = cmdline;
      a.os_version = 13 << 14;
      a.os_patch_level = (24 << 4) | 12;
      auto built = build_boot_image(a);
      ASSERT_TRUE(built) << built.error().message();
      Bytes deb = test::read_file(ref);
      // Debian writes the pre-release header_size 1596, AOSP 1580.
      EXPECT_EQ(load_le<std::uint32_t>(&deb[20]), 1596u);
      EXPECT_EQ(load_le<std::uint32_t>(&(*built)[20]), 1580u);
      EXPECT_TRUE(within(diff_ranges(*built, deb), {{20, 24}}));
      test::write_file(ours, *built);
      std::map<std::string, Bytes> parts = {{"kernel", fx.kernel}};
      if (ramdisk)
        parts["ramdisk"] = fx.ramdisk;
      check_debian_unpack(ours, fx.dir / ("v3unpack" + std::to_string(n)), parts, cmdline);
      check_round_trip(ours, fx.dir / ("v3our-unpack" + std::to_string(n)));
      // Debian's own v3 image parses too (its header_size is noted).
      auto parsed = parse_image(deb);
      ASSERT_TRUE(parsed) << parsed.error().message();
      EXPECT_EQ(parsed->cmdline, cmdline);
    }
}

TEST(BootimgDebian, VendorBootV3DiffersOnlyInHeaderSize) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  Fixture fx;
  int n = 0;
  for (std::uint32_t page : {2048u, 4096u, 16384u})
    for (std::size_t len : {std::size_t{0}, std::size_t{2047}}) {
      SCOPED_TRACE("page " + std::to_string(page) + " cmdline " + std::to_string(len));
      const std::string cmdline = make_cmdline(len);
      fs::path ref = fx.dir / ("vdeb" + std::to_string(n) + ".img");
      fs::path ours = fx.dir / ("vour" + std::to_string(n) + ".img");
      ++n;
      auto r = test::run({"mkbootimg", "--header_version", "3", "--pagesize", std::to_string(page),
                          "--vendor_ramdisk", (fx.dir / "ramdisk").string(), "--dtb", (fx.dir / "dtb").string(),
                          "--vendor_cmdline", cmdline, "--board", "brd", "--base", "0x40000000", "--vendor_boot",
                          ref.string()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      VendorBootArgs v;
      v.header_version = 3;
      v.page_size = page;
      v.base = 0x40000000;
      v.ramdisks.push_back({fx.ramdisk, 0, "", {}});
      v.dtb = fx.dtb;
      v.vendor_cmdline = cmdline;
      v.board = "brd";
      auto built = build_vendor_boot_image(v);
      ASSERT_TRUE(built) << built.error().message();
      Bytes deb = test::read_file(ref);
      EXPECT_EQ(load_le<std::uint32_t>(&deb[2096]), 2108u);
      EXPECT_EQ(load_le<std::uint32_t>(&(*built)[2096]), 2112u);
      EXPECT_TRUE(within(diff_ranges(*built, deb), {{2096, 2100}}));
      test::write_file(ours, *built);
      // Debian's unpack_bootimg assumes the 2112-byte vendor header fits one
      // page, so it misreads 2048-byte-page images (its own included).
      if (page >= 4096)
        check_debian_unpack(ours, fx.dir / ("vunpack" + std::to_string(n)),
                            {{"vendor_ramdisk", fx.ramdisk}, {"dtb", fx.dtb}}, "");
      // Rebuild through our tool (vendor_boot output option).
      const std::string tool = ::tool();
      fs::path udir = fx.dir / ("vour-unpack" + std::to_string(n));
      auto u = test::run({tool, "unpack", ours.string(), "-o", udir.string()});
      ASSERT_EQ(u.exit_code, 0) << u.err;
      auto sh = test::sh("cd '" + udir.string() + "' && xargs -0 '" + tool + "' --vendor_boot rebuilt.img < mkbootimg_args.nul");
      ASSERT_EQ(sh.exit_code, 0) << sh.err;
      EXPECT_EQ(test::read_file(udir / "rebuilt.img"), *built);
    }
}

TEST(BootimgDebian, RecoveryDtboWhereDebianCrashes) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  FASTBOOP_REQUIRE_PROGRAM("unpack_bootimg");
  // Debian 29's mkbootimg computes the recovery_dtbo offset with float
  // division under Python 3 and dies in struct.pack; AOSP (and we) write the
  // page-aligned offset. Debian's unpack_bootimg still reads our image.
  Fixture fx;
  auto r = test::run({"mkbootimg", "--header_version", "1", "--kernel", (fx.dir / "kernel").string(),
                      "--recovery_dtbo", (fx.dir / "dtbo").string(), "-o", (fx.dir / "deb.img").string()});
  EXPECT_NE(r.exit_code, 0);
  for (std::uint32_t v : {1u, 2u}) {
    for (bool second : {false, true}) {
      SCOPED_TRACE("v" + std::to_string(v) + (second ? " second" : ""));
      Case c{v, 4096, true, second, 100};
      auto a = fx.args(c, make_cmdline(100));
      a.recovery_dtbo = ByteSpan(fx.dtbo);
      auto built = build_boot_image(a);
      ASSERT_TRUE(built) << built.error().message();
      std::uint64_t expect = 4096 * (1 + 2 + 1 + (second ? 1 : 0));
      EXPECT_EQ(load_le<std::uint64_t>(&(*built)[1636]), expect);
      fs::path ours = fx.dir / ("dtbo" + std::to_string(v) + std::to_string(second) + ".img");
      test::write_file(ours, *built);
      std::map<std::string, Bytes> parts = {{"kernel", fx.kernel}, {"ramdisk", fx.ramdisk}, {"recovery_dtbo", fx.dtbo}};
      if (second)
        parts["second"] = fx.second;
      if (v == 2)
        parts["dtb"] = fx.dtb;
      check_debian_unpack(ours, fx.dir / ("dtbo-unpack" + std::to_string(v) + std::to_string(second)), parts,
                          make_cmdline(100));
      check_round_trip(ours, fx.dir / ("dtbo-our" + std::to_string(v) + std::to_string(second)));
    }
  }
}

TEST(BootimgDebian, IdEqualsDebiansAndAospRecipe) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  // Debian 29 and AOSP main hash the same slots; the LineageOS variant adds a
  // `dt` slot and so differs in bytes 576..607 only.
  Fixture fx;
  Case c{2, 2048, true, true, 10};
  auto r = test::run(fx.debian_argv(c, "console=ttyS0", fx.dir / "deb.img"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto idr = test::run({"mkbootimg", "--header_version", "2", "--base", "0x80000000", "--kernel",
                        (fx.dir / "kernel").string(), "--ramdisk", (fx.dir / "ramdisk").string(), "--second",
                        (fx.dir / "second").string(), "--dtb", (fx.dir / "dtb").string(), "--id", "-o",
                        (fx.dir / "deb2.img").string()});
  ASSERT_EQ(idr.exit_code, 0);
  auto a = fx.args(c, "console=ttyS0");
  EXPECT_EQ(std::string(as_chars(idr.out)), "0x" + to_hex(compute_boot_id(a)) + "\n");
  a.id_recipe = IdRecipe::LineageDtSlot;
  auto lineage = build_boot_image(a);
  ASSERT_TRUE(lineage);
  EXPECT_TRUE(within(diff_ranges(*lineage, test::read_file(fx.dir / "deb.img")), {{576, 608}}));
}

// The newc writer: golden bytes (spec §7.3), ordering, parents, augment
// merging, and agreement of GNU cpio and bsdtar on what we write.
#include "stage0/cpio.hpp"

#include "common/hash.hpp"
#include "test_support.hpp"

#include <sys/stat.h>

namespace fastboop::stage0 {
namespace {

using test::TempDir;

CpioImage golden_image() {
  CpioImage img;
  EXPECT_TRUE(img.add_file("init", Bytes{'h', 'e', 'l', 'l', 'o'}, 0755));
  EXPECT_TRUE(img.add_directory("etc"));
  EXPECT_TRUE(img.add_directory("dev"));
  EXPECT_TRUE(img.add_directory("etc/stage0"));
  EXPECT_TRUE(img.add_file("etc/stage0/stage0.rootfs", Bytes{'e', 'r', 'o', 'f', 's', '\n'}));
  return img;
}

std::string header(ByteSpan a, std::size_t off) { return std::string(as_chars(a.subspan(off, 110))); }

TEST(Cpio, GoldenArchiveMatchesSpecVector) {
  auto bytes = golden_image().serialise();
  ASSERT_TRUE(bytes) << bytes.error().message();
  // Spec §7.3: 748 bytes. Upstream writes the trailer with mode 0100644;
  // libarchive (like GNU cpio) writes mode 0. We accept exactly that one
  // difference: patch it and the SHA-256 must be the spec's.
  ASSERT_EQ(bytes->size(), 748u);
  Bytes patched = *bytes;
  std::size_t trailer = 748 - 124; // 110-byte header + "TRAILER!!!\0" padded to 124
  ASSERT_EQ(header(patched, trailer).substr(0, 6), "070701");
  std::string mode = header(patched, trailer).substr(14, 8);
  EXPECT_TRUE(mode == "00000000" || mode == "000081a4") << mode;
  std::memcpy(patched.data() + trailer + 14, "000081a4", 8);
  EXPECT_EQ(sha256_hex(patched), "b570e8ff32a4803045914912d2589a407e860d6e5a8df3b19b5ad1b6e18bf616");
}

TEST(Cpio, InitHeaderMatchesSpecVector) {
  CpioImage img;
  ASSERT_TRUE(img.add_file("init", Bytes{'h', 'e', 'l', 'l', 'o'}, 0755));
  auto bytes = img.serialise();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(header(*bytes, 0), "070701"
                               "00000000000081ed0000000000000000000000010000000000000005"
                               "00000000000000000000000000000000"
                               "0000000500000000");
}

TEST(Cpio, ParentsCreatedDirectoriesFirstSorted) {
  CpioImage img;
  ASSERT_TRUE(img.add_file("lib/modules/1.0/kernel/a.ko", Bytes{1}));
  ASSERT_TRUE(img.add_file("b", Bytes{2}));
  ASSERT_TRUE(img.add_directory("zz"));
  auto bytes = img.serialise();
  ASSERT_TRUE(bytes);
  TempDir dir;
  test::write_file(dir / "a.cpio", *bytes);
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  auto out = test::sh("cpio -it --quiet < '" + (dir / "a.cpio").string() + "'");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(std::string(as_chars(out.out)),
            "lib\nlib/modules\nlib/modules/1.0\nlib/modules/1.0/kernel\nzz\nb\nlib/modules/1.0/kernel/a.ko\n");
}

TEST(Cpio, PathNormalisationAndTraversal) {
  EXPECT_EQ(*CpioImage::normalise_path("/./etc//stage0/"), "etc/stage0");
  EXPECT_EQ(*CpioImage::normalise_path("./init"), "init");
  EXPECT_FALSE(CpioImage::normalise_path("a/../../etc"));
  EXPECT_FALSE(CpioImage::normalise_path("/"));
}

TEST(Cpio, AugmentEntriesWinAndKeepDeviceNumbers) {
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  TempDir dir;
  auto tree = dir / "tree";
  std::filesystem::create_directories(tree / "etc/stage0");
  test::write_file(tree / "init", "augment-init");
  test::write_file(tree / "etc/stage0/smoo.log", "debug\n");
  // A ./-prefixed name (as `find .` gives) is the same path as without it.
  auto out = test::sh("cd '" + tree.string() + "' && find . | LC_ALL=C sort | cpio -o -H newc --quiet > ../aug.cpio && "
                      "gzip -n -c ../aug.cpio > ../aug.cpio.gz");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  for (const char* name : {"aug.cpio", "aug.cpio.gz"}) {
    CpioImage img;
    ASSERT_TRUE(img.merge_archive(test::read_file(dir / name), name));
    ASSERT_TRUE(img.add_file("init", Bytes{'g', 'e', 'n'}, 0755));
    ASSERT_TRUE(img.add_file("etc/stage0/smoo.log", Bytes{'x'}));
    ASSERT_TRUE(img.add_file("etc/stage0/stage0.rootfs", Bytes{'e'}));
    const CpioEntry* init = img.find("init");
    ASSERT_NE(init, nullptr);
    EXPECT_EQ(std::string(as_chars(init->data)), "augment-init") << name;
    EXPECT_EQ(std::string(as_chars(img.find("etc/stage0/smoo.log")->data)), "debug\n");
    EXPECT_NE(img.find("etc/stage0/stage0.rootfs"), nullptr);
  }
  // Device nodes keep their numbers (upstream drops them, spec §8 item 7).
  CpioImage img;
  ASSERT_TRUE(img.add(std::string("dev/console"), CpioEntry{S_IFCHR | 0600, {}, 5, 1}));
  auto bytes = img.serialise();
  ASSERT_TRUE(bytes);
  CpioImage again;
  ASSERT_TRUE(again.merge_archive(*bytes, "roundtrip"));
  const CpioEntry* console = again.find("dev/console");
  ASSERT_NE(console, nullptr);
  EXPECT_EQ(console->rdev_major, 5u);
  EXPECT_EQ(console->rdev_minor, 1u);
}

TEST(Cpio, GarbageAugmentIsAnError) {
  CpioImage img;
  Bytes junk = test::random_bytes(1000, 3);
  auto r = img.merge_archive(junk, "junk.bin");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("junk.bin"), std::string::npos);
}

TEST(Cpio, GnuCpioAndBsdtarAgree) {
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  FASTBOOP_REQUIRE_PROGRAM("bsdtar");
  CpioImage img = golden_image();
  ASSERT_TRUE(img.add_file("lib/modules/6.1/kernel/fs/a.ko", test::random_bytes(1001, 1)));
  ASSERT_TRUE(img.add(std::string("bin/sh"), CpioEntry{S_IFLNK | 0777, Bytes{'b', 'u', 's', 'y'}, 0, 0}));
  auto bytes = img.serialise();
  ASSERT_TRUE(bytes);
  TempDir dir;
  test::write_file(dir / "a.cpio", *bytes);
  auto a = test::sh("cpio -it --quiet < '" + (dir / "a.cpio").string() + "'");
  auto b = test::sh("bsdtar -tf '" + (dir / "a.cpio").string() + "'");
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
  std::filesystem::create_directories(dir / "x1");
  std::filesystem::create_directories(dir / "x2");
  ASSERT_EQ(test::sh("cd '" + (dir / "x1").string() + "' && cpio -idm --quiet --no-absolute-filenames < ../a.cpio").exit_code, 0);
  ASSERT_EQ(test::sh("cd '" + (dir / "x2").string() + "' && bsdtar -xf ../a.cpio").exit_code, 0);
  auto diff = test::sh("diff -r --no-dereference '" + (dir / "x1").string() + "' '" + (dir / "x2").string() + "'");
  EXPECT_EQ(diff.exit_code, 0) << std::string(as_chars(diff.out));
  EXPECT_EQ(test::read_file(dir / "x1/lib/modules/6.1/kernel/fs/a.ko"), test::random_bytes(1001, 1));
  EXPECT_EQ(std::filesystem::read_symlink(dir / "x1/bin/sh"), "busy");
  // Reproducible: a second serialisation gives the same bytes.
  EXPECT_EQ(*img.serialise(), *bytes);
}

} // namespace
} // namespace fastboop::stage0

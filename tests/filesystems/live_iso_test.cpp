// Live ISOs (issue 21) made by the real tools: the POSIX fixture tree packed by
// mksquashfs (gzip, xz, zstd) and put by xorriso into the Debian live, Fedora
// live and Arch layouts. A bare ISO is peeled to its root image, whose bytes
// are exactly the squashfs file's; the tree read through it equals the fixture
// and what unsquashfs extracts; over loopback HTTP only a fraction is fetched.
#include "../pipeline/http_harness.hpp"
#include "filesystems/open.hpp"
#include "pipeline/pipeline.hpp"
#include "test_support.hpp"
#include "tree.hpp"

#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using pipeline::LiveLayoutKind;

struct Layout {
  LiveLayoutKind kind;
  const char* root;   // the root image inside the ISO
  const char* kernel; // the kernel beside it
};

Layout layout_of(LiveLayoutKind kind) {
  switch (kind) {
  case LiveLayoutKind::DebianLive:
    return {kind, "live/filesystem.squashfs", "live/vmlinuz-6.1.0-test-arm64"};
  case LiveLayoutKind::FedoraLive:
    return {kind, "LiveOS/squashfs.img", "images/pxeboot/vmlinuz"};
  case LiveLayoutKind::ArchLive:
    return {kind, "arch/aarch64/airootfs.sfs", "arch/boot/aarch64/vmlinuz-linux"};
  }
  return {};
}

fs::path make_squashfs(const std::string& comp) {
  const fs::path image = shared_dir() / ("live-root-" + comp + ".squashfs");
  if (!fs::exists(image)) {
    auto out = run({"mksquashfs", posix_tree().string(), image.string(), "-comp", comp, "-noappend",
                    "-no-progress", "-quiet", "-b", "16384", "-mkfs-time", "0", "-all-time", "0",
                    "-no-xattrs"});
    EXPECT_EQ(out.exit_code, 0) << out.err;
  }
  return image;
}

// An ISO of `layout` holding the squashfs made with `comp`, a fake kernel and
// initrd, a boot directory and a file with a long name (Rock Ridge NM).
fs::path make_iso(const Layout& layout, const std::string& comp, bool rock_ridge = true) {
  const std::string name = "live-" + std::string(pipeline::live_layout_name(layout.kind)) + "-" +
                           comp + (rock_ridge ? "" : "-plain") + ".iso";
  const fs::path iso = shared_dir() / name;
  if (fs::exists(iso))
    return iso;
  const fs::path dir = shared_dir() / (name + ".d");
  fs::create_directories(dir / fs::path(layout.root).parent_path());
  fs::create_directories(dir / fs::path(layout.kernel).parent_path());
  fs::copy_file(make_squashfs(comp), dir / layout.root);
  write_file(dir / layout.kernel, std::string(5000, 'K'));
  fs::create_directories(dir / "boot/grub");
  write_file(dir / "boot/grub/grub.cfg", "menuentry live {}\n");
  write_file(dir / "a-rather-long-file-name-that-only-rock-ridge-keeps-whole.txt", "long name\n");
  // Published ISOs carry much besides the root (packages, firmware): never fetched.
  fs::create_directories(dir / "pool");
  write_file(dir / "pool/extra.bin", random_bytes(1u << 20, 3));
  std::vector<std::string> argv{"xorriso", "-as",  "mkisofs", "-quiet",
                                "-V",      "LIVE", "-o",      iso.string()};
  if (rock_ridge)
    argv.insert(argv.end(), {"-R", "-J"});
  else
    argv.insert(argv.end(), {"-iso-level", "3"});
  argv.push_back(dir.string());
  auto out = run(argv);
  EXPECT_EQ(out.exit_code, 0) << out.err;
  return iso;
}

struct Case {
  LiveLayoutKind kind;
  const char* comp;
};

class LiveIso : public ::testing::TestWithParam<Case> {};

TEST_P(LiveIso, BareIsoIsPeeledToTheRootImageWhoseBytesAreTheSquashfsFile) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("unsquashfs");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  const Layout layout = layout_of(GetParam().kind);
  const fs::path iso = make_iso(layout, GetParam().comp);
  auto detected = pipeline::detect_pipeline(iso.string());
  ASSERT_TRUE(detected.ok()) << detected.error().message();
  ASSERT_TRUE(detected->live);
  EXPECT_EQ(detected->live->kind, layout.kind);
  EXPECT_EQ(detected->live->root_path, layout.root);
  EXPECT_THAT(detected->live->kernel_paths, ::testing::ElementsAre(layout.kernel));
  EXPECT_EQ(detected->filesystem, pipeline::FilesystemType::Squashfs);
  EXPECT_THAT(detected->layers, ::testing::ElementsAre("iso9660[" + std::string(layout.root) + "]",
                                                       "file(" + iso.string() + ")"));
  EXPECT_EQ(detected->pipeline.kind, profiles::StageKind::Iso9660);
  EXPECT_EQ(detected->pipeline.iso_path, layout.root);
  EXPECT_EQ(pipeline::stage_identity(detected->pipeline),
            "iso9660{path=len:" + std::to_string(std::string(layout.root).size()) + ":" +
                layout.root + ";source=file{path=len:" + std::to_string(iso.string().size()) + ":" +
                iso.string() + ";}}");

  // The slice is exactly the file xorriso was given.
  const Bytes squashfs = read_file(make_squashfs(GetParam().comp));
  ASSERT_EQ(detected->source->size(), squashfs.size());
  Bytes got(squashfs.size());
  ASSERT_TRUE(detected->source->read_at(0, got).ok());
  EXPECT_TRUE(got == squashfs);

  // The same chain reopened from its description (what a Boot Profile names).
  auto reopened = pipeline::open_pipeline(detected->pipeline);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message();
  EXPECT_EQ((*reopened)->size(), squashfs.size());

  // ls/cat through the squashfs reader: the fixture tree, and what unsquashfs extracts.
  auto root = filesystems::open_filesystem(std::move(detected->source));
  ASSERT_TRUE(root.ok()) << root.error().message();
  EXPECT_EQ((*root)->kind(), "squashfs");
  auto tree = filesystems::open_host_directory(posix_tree().string());
  ASSERT_TRUE(tree.ok());
  EXPECT_GT(expect_same_tree(**tree, **root, CompareMeta::All), 400u);
  TempDir out;
  auto un = run({"unsquashfs", "-no-progress", "-quiet", "-d", (out / "x").string(),
                 make_squashfs(GetParam().comp).string()});
  ASSERT_EQ(un.exit_code, 0) << un.err;
  auto extracted = filesystems::open_host_directory((out / "x").string());
  ASSERT_TRUE(extracted.ok());
  expect_same_tree(**extracted, **root, CompareMeta::All);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, LiveIso,
    ::testing::Values(
        Case{LiveLayoutKind::DebianLive, "gzip"}, Case{LiveLayoutKind::DebianLive, "xz"},
        Case{LiveLayoutKind::DebianLive, "zstd"}, Case{LiveLayoutKind::FedoraLive, "gzip"},
        Case{LiveLayoutKind::FedoraLive, "xz"}, Case{LiveLayoutKind::FedoraLive, "zstd"},
        Case{LiveLayoutKind::ArchLive, "gzip"}, Case{LiveLayoutKind::ArchLive, "xz"},
        Case{LiveLayoutKind::ArchLive, "zstd"}),
    [](const auto& param_info) {
      return std::string(pipeline::live_layout_name(param_info.param.kind)).substr(0, 4) + "_" +
             param_info.param.comp;
    });

TEST(Iso9660Stage, NamesAreRockRidgeOrCaseInsensitiveIsoNames) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  const Layout layout = layout_of(LiveLayoutKind::DebianLive);
  for (bool rr : {true, false}) {
    auto src = pipeline::open_file_source(make_iso(layout, "gzip", rr));
    ASSERT_TRUE(src.ok());
    auto grub = pipeline::locate_iso9660_file(**src, "/boot/grub/grub.cfg");
    ASSERT_TRUE(grub.ok()) << grub.error().message();
    ASSERT_TRUE(*grub);
    EXPECT_EQ((*grub)->size, 18u);
    Bytes b(18);
    ASSERT_TRUE((*src)->read_at((*grub)->offset, b).ok());
    EXPECT_EQ(std::string(b.begin(), b.end()), "menuentry live {}\n");
    auto missing = pipeline::locate_iso9660_file(**src, "boot/grub/nothing.cfg");
    ASSERT_TRUE(missing.ok());
    EXPECT_FALSE(*missing);
    auto dir = pipeline::locate_iso9660_file(**src, "boot/grub");
    EXPECT_FALSE(dir.ok());
    auto up = pipeline::locate_iso9660_file(**src, "boot/../live");
    EXPECT_FALSE(up.ok());
  }
  // The whole long name only with Rock Ridge.
  auto src = pipeline::open_file_source(make_iso(layout, "gzip", true));
  ASSERT_TRUE(src.ok());
  auto longname = pipeline::locate_iso9660_file(
      **src, "a-rather-long-file-name-that-only-rock-ridge-keeps-whole.txt");
  ASSERT_TRUE(longname.ok());
  ASSERT_TRUE(*longname);
  EXPECT_EQ((*longname)->size, 10u);
  // A plain ISO has no live layout names in lower case, yet is still recognised.
  auto plain = pipeline::detect_pipeline(make_iso(layout, "gzip", false).string());
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  ASSERT_TRUE(plain->live);
  EXPECT_EQ(plain->filesystem, pipeline::FilesystemType::Squashfs);
}

TEST(Iso9660Stage, ProfilePipelineNamesTheStage) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  const Layout layout = layout_of(LiveLayoutKind::ArchLive);
  const fs::path iso = make_iso(layout, "zstd");
  profiles::PipelineSource file;
  file.location = iso.string();
  profiles::PipelineSource stage;
  stage.kind = profiles::StageKind::Iso9660;
  stage.iso_path = layout.root;
  stage.source = Box<profiles::PipelineSource>(file);
  auto src = pipeline::open_pipeline(stage);
  ASSERT_TRUE(src.ok()) << src.error().message();
  EXPECT_EQ((*src)->size(), fs::file_size(make_squashfs("zstd")));
  EXPECT_THAT((*src)->describe(),
              ::testing::StartsWith("iso9660[arch/aarch64/airootfs.sfs] <- file("));
  stage.iso_path = "arch/aarch64/missing.sfs";
  auto missing = pipeline::open_pipeline(stage);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind(), ErrorKind::NotFound);
  EXPECT_THAT(missing.error().message(),
              ::testing::HasSubstr("no file 'arch/aarch64/missing.sfs'"));
}

// Damaged directory records fail cleanly, naming the layer, whatever the bytes.
TEST(Iso9660Stage, HostileDirectoryRecordsFailCleanly) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  const Bytes good = read_file(make_iso(layout_of(LiveLayoutKind::DebianLive), "gzip"));
  // The root directory's extent: LBA and size far past the end.
  {
    Bytes bad = good;
    store_le<std::uint32_t>(&bad[16 * 2048 + 156 + 2], 0x7fffffffu);
    auto r = pipeline::locate_iso9660_file(*pipeline::make_memory_source(bad),
                                           "live/filesystem.squashfs");
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message(), ::testing::HasSubstr("iso9660"));
  }
  {
    Bytes bad = good;
    store_le<std::uint32_t>(&bad[16 * 2048 + 156 + 10], 0xfffffff0u);
    auto r = pipeline::locate_iso9660_file(*pipeline::make_memory_source(bad),
                                           "live/filesystem.squashfs");
    ASSERT_FALSE(r.ok());
  }
  // No volume descriptor at all.
  {
    Bytes bad = good;
    bad[16 * 2048 + 1] = 'X';
    auto r = pipeline::locate_iso9660_file(*pipeline::make_memory_source(bad), "live");
    ASSERT_FALSE(r.ok());
  }
  // Every byte of the first directory sectors flipped in turn: never a crash or a hang.
  for (std::size_t i = 17 * 2048; i < std::min<std::size_t>(good.size(), 40 * 2048); i += 29) {
    Bytes bad = good;
    bad[i] ^= 0xff;
    auto r = pipeline::detect_live_layout(*pipeline::make_memory_source(bad));
    (void)r;
  }
}

TEST(LiveIsoHttp, RangedReadsFetchOnlyWhatTheRootNeeds) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  const fs::path iso = make_iso(layout_of(LiveLayoutKind::DebianLive), "xz");
  TempDir docroot;
  fs::copy_file(iso, docroot / "live.iso");
  Lighttpd server(docroot.path());
  ASSERT_TRUE(server.ok()) << server.error();
  TempDir cache;
  std::uint64_t fetched = 0;
  pipeline::DetectOptions o;
  o.open.cache_dir = cache.path();
  o.open.on_fetch = [&](std::uint64_t n) { fetched += n; };
  auto detected = pipeline::detect_pipeline(server.url("live.iso"), o);
  ASSERT_TRUE(detected.ok()) << detected.error().message();
  ASSERT_TRUE(detected->live);
  EXPECT_THAT(detected->layers, ::testing::ElementsAre("iso9660[live/filesystem.squashfs]",
                                                       ::testing::StartsWith("http(")));
  auto root = filesystems::open_filesystem(std::move(detected->source));
  ASSERT_TRUE(root.ok()) << root.error().message();
  auto top = (*root)->list((*root)->root());
  ASSERT_TRUE(top.ok());
  std::size_t read_files = 0;
  for (const auto& e : *top)
    if (e.type == filesystems::FileType::Regular) {
      auto bytes = filesystems::read_file(**root, "/" + e.name, 1u << 20);
      ASSERT_TRUE(bytes.ok()) << bytes.error().message();
      EXPECT_TRUE(*bytes == read_file(posix_tree() / e.name)) << e.name;
      ++read_files;
    }
  EXPECT_GT(read_files, 0u);
  const std::uint64_t iso_size = fs::file_size(iso);
  std::printf(
      "live ISO over HTTP: %llu of %llu bytes fetched to detect the layout and open the squashfs\n",
      static_cast<unsigned long long>(fetched), static_cast<unsigned long long>(iso_size));
  // The squashfs pages read and a few more for the descriptors and directories
  // (64 KiB pages): the megabyte beside the root is never fetched.
  const std::uint64_t squashfs_size = fs::file_size(make_squashfs("xz"));
  EXPECT_GT(fetched, 0u);
  EXPECT_LE(fetched, squashfs_size + 4 * 65536);
}

} // namespace
} // namespace fastboop::test

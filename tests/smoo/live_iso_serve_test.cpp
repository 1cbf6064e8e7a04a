// Issue 21: the smoo host serving a live ISO SOURCE exports exactly the byte
// range of the squashfs inside the ISO (the same pipeline stage0 reads), so the
// phone mounts the distro's own squashfs straight from the published ISO.
// Against the scripted fake gadget (fake_gadget.hpp); fixtures by mksquashfs
// and xorriso.
#include "fake_gadget.hpp"
#include "smoo/rootfs.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <thread>

using namespace fastboop;
using namespace fastboop::smoo;
using namespace fastboop::smoo::test;
using namespace std::chrono_literals;

namespace {

namespace fsys = std::filesystem;

TEST(SmooLiveIso, ServesExactlyTheSquashfsByteRangeOfTheIso) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  fastboop::test::TempDir dir;
  fsys::create_directories(dir / "root/etc");
  fastboop::test::write_file(dir / "root/etc/os-release", "ID=debian\n");
  fastboop::test::write_file(dir / "root/data.bin", fastboop::test::random_bytes(300000, 21));
  fsys::create_directories(dir / "iso/live");
  auto sq = fastboop::test::run(
      {"mksquashfs", (dir / "root").string(), (dir / "iso/live/filesystem.squashfs").string(),
       "-comp", "xz", "-noappend", "-no-progress", "-quiet", "-mkfs-time", "0", "-all-time", "0"});
  ASSERT_EQ(sq.exit_code, 0) << sq.err;
  fastboop::test::write_file(dir / "iso/live/vmlinuz", "kernel");
  auto iso = fastboop::test::run({"xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-o",
                                  (dir / "live.iso").string(), (dir / "iso").string()});
  ASSERT_EQ(iso.exit_code, 0) << iso.err;
  const Bytes squashfs = fastboop::test::read_file(dir / "iso/live/filesystem.squashfs");

  auto rootfs = ServedRootfs::open((dir / "live.iso").string(), {});
  ASSERT_TRUE(rootfs) << rootfs.error().message();
  EXPECT_EQ(rootfs->describe().rfind("iso9660[live/filesystem.squashfs] <- file(", 0), 0u)
      << rootfs->describe();
  EXPECT_EQ(rootfs->identity().size, squashfs.size());

  constexpr std::uint32_t block = 4096;
  ServeOptions options = rootfs->serve_options();
  options.block_size = block;
  options.heartbeat_interval = 50ms;
  options.rediscover_interval = 20ms;
  options.transfer_timeout = 500ms;
  options.progress = ServeOptions::Progress::Off;
  FakeGadget gadget;
  FakeConnector connector{gadget};
  Result<ServeStats> result = Error("serve_with did not run");
  std::jthread server([&](std::stop_token stop) {
    result = serve_with(connector, rootfs->image(), options, stop);
  });
  for (int i = 0; i < 500 && gadget.config_count() < 1; ++i)
    std::this_thread::sleep_for(10ms);
  const auto exports = gadget.exports();
  ASSERT_EQ(exports.size(), 1u);
  EXPECT_EQ(exports.front().size_bytes, squashfs.size());
  // Every block of the export, in two requests: the squashfs, then zeros to a whole block.
  const std::uint32_t blocks = static_cast<std::uint32_t>((squashfs.size() + block - 1) / block);
  const std::uint32_t half = blocks / 2;
  gadget.push_request(Request{Op::Read, 1, exports.front().export_id, 0, half});
  gadget.push_request(Request{Op::Read, 2, exports.front().export_id, half, blocks - half});
  ASSERT_TRUE(gadget.wait_for_responses(2));
  server.request_stop();
  server.join();
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(gadget.violation(), "");
  Bytes served;
  auto sent = gadget.sent();
  std::sort(sent.begin(), sent.end(),
            [](const auto& a, const auto& b) { return a.response.lba < b.response.lba; });
  for (const auto& s : sent)
    served.insert(served.end(), s.payload.begin(), s.payload.end());
  ASSERT_EQ(served.size(), std::uint64_t{blocks} * block);
  EXPECT_TRUE(std::equal(squashfs.begin(), squashfs.end(), served.begin()));
  EXPECT_TRUE(std::all_of(served.begin() + static_cast<std::ptrdiff_t>(squashfs.size()),
                          served.end(), [](std::uint8_t b) { return b == 0; }));
}

} // namespace

// boot_on_device's progress events (fastboot/push.hpp) against the emulator,
// in process: they arrive in order, the library itself prints nothing, and
// PushConsole prints the lines fastboop-push always printed.
#include "bootimg/bootimg.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "emulator.hpp"
#include "fastboot/push.hpp"
#include "fastboot/push_console.hpp"

#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

using fastboot::PushEvent;
using Kind = PushEvent::Kind;
using ::testing::HasSubstr;

// A v2 boot image (page 4096) and its sidecar naming a test profile the
// emulator's variables pass, and the image's size and digest.
struct Image {
  TempDir dir;
  std::filesystem::path path = dir / "boot.img";
  Bytes bytes;
  Image() {
    const Bytes kernel = random_bytes(150000, 3), ramdisk = random_bytes(7000, 4),
                dtb = random_bytes(900, 5);
    bootimg::BootImageArgs a;
    a.header_version = 2;
    a.page_size = 4096;
    a.kernel = kernel;
    a.ramdisk = ramdisk;
    a.dtb = dtb;
    bytes = bootimg::build_boot_image(a).value();
    write_file(path, bytes);
    write_file(
        dir / "boot.img.json",
        R"({"device_profile": {"id": "events-phone", "match": [{"vid": "0x18d1", "pid": "0xd00d"}],
                   "probe": [{"getvar": "product", "op": "equals", "value": "evphone"}],
                   "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 2, "page_size": 4096,
                            "kernel": {"encoding": "image.gz"}}}}},
            "image": {"size": )" +
            std::to_string(bytes.size()) + R"(, "sha512": ")" + sha512_hex(bytes) + R"("}})");
  }
};

const std::vector<std::string> vars = {
    "--var", "max-download-size=0x4000000", "--var", "product=evphone", "--var", "serialno=EV0001"};

fastboot::BootRequest request_for(const Image& img, const Emulator& emu) {
  fastboot::BootRequest r;
  r.image = img.path;
  r.target = fastboot::parse_device_spec(emu.tcp_target()).value();
  r.root.serve = fastboot::ServeRoot::Never;
  return r;
}

// The kinds of `events` without the ones that repeat or depend on the pool.
std::vector<Kind> steps(const std::vector<PushEvent>& events) {
  std::vector<Kind> out;
  for (const auto& e : events)
    if (e.kind != Kind::DownloadProgress && e.kind != Kind::BootloaderInfo &&
        e.kind != Kind::BootloaderText && e.kind != Kind::AlsoMatches &&
        e.kind != Kind::Ambiguity && e.kind != Kind::Debug)
      out.push_back(e.kind);
  return out;
}

TEST(PushEvents, ArriveInOrderAndTheLibraryPrintsNothing) {
  Emulator emu(vars);
  Image img;
  auto request = request_for(img, emu);
  std::vector<PushEvent> events;
  request.on_event = [&](const PushEvent& e) { events.push_back(e); };
  log::set_level(log::Level::Info);
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  auto report = fastboot::boot_on_device(request, fastboot::PushSettings{});
  const std::string out = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "");

  EXPECT_EQ(steps(events), (std::vector<Kind>{Kind::Opening, Kind::ProfileMatched,
                                              Kind::DownloadStarted, Kind::Booting, Kind::Booted}));
  EXPECT_EQ(events.front().text, "opening " + emu.tcp_target());
  const auto started = std::find_if(events.begin(), events.end(), [](const PushEvent& e) {
    return e.kind == Kind::DownloadStarted;
  });
  ASSERT_NE(started, events.end());
  EXPECT_EQ(started->total, img.bytes.size());
  EXPECT_EQ(started->text, "sending boot.img (" + std::to_string(img.bytes.size()) + " bytes)");
  // Progress only grows, ends at the image's size, and comes before booting.
  std::uint64_t last = 0;
  bool booting = false;
  for (const auto& e : events) {
    booting = booting || e.kind == Kind::Booting;
    if (e.kind != Kind::DownloadProgress)
      continue;
    EXPECT_FALSE(booting);
    EXPECT_GE(e.done, last);
    EXPECT_EQ(e.total, img.bytes.size());
    last = e.done;
  }
  EXPECT_EQ(last, img.bytes.size());
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const PushEvent& e) {
    return e.kind == Kind::BootloaderInfo && e.text == "booting downloaded image";
  }));

  // The report says what was checked.
  EXPECT_EQ(report->location, emu.tcp_target());
  EXPECT_EQ(report->serial, "EV0001");
  EXPECT_TRUE(report->profile_matched);
  EXPECT_EQ(report->probes, (std::vector<std::string>{"getvar:product equals 'evphone'"}));
  EXPECT_EQ(report->probe_failure, "");
  EXPECT_TRUE(report->image_checked);
  EXPECT_EQ(report->image_sha512, sha512_hex(img.bytes));
  EXPECT_EQ(report->image_bytes, img.bytes.size());
  EXPECT_TRUE(report->booted);
  EXPECT_EQ(report->sent, emu.commands());
}

TEST(PushEvents, ForcedProbesAreAWarningAndInTheReport) {
  Emulator emu({"--var", "max-download-size=0x4000000", "--var", "product=other"});
  Image img;
  auto request = request_for(img, emu);
  request.check = fastboot::CheckOnly::Yes;
  request.force = fastboot::ForceDevice::Yes;
  std::vector<PushEvent> events;
  request.on_event = [&](const PushEvent& e) { events.push_back(e); };
  auto report = fastboot::boot_on_device(request, fastboot::PushSettings{});
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(steps(events), (std::vector<Kind>{Kind::Opening, Kind::Forced}));
  EXPECT_THAT(events.back().text, HasSubstr("failed the 'events-phone' probes"));
  EXPECT_TRUE(report->forced);
  EXPECT_FALSE(report->profile_matched);
  EXPECT_TRUE(report->probes.empty());
  EXPECT_THAT(report->probe_failure, HasSubstr("evphone"));
  EXPECT_TRUE(report->checked_only);
  EXPECT_FALSE(report->booted);
  for (const auto& cmd : report->sent)
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;
}

TEST(PushEvents, WithoutASinkNothingIsPrinted) {
  Emulator emu(vars);
  Image img;
  auto request = request_for(img, emu);
  log::set_level(log::Level::Info);
  ::testing::internal::CaptureStderr();
  auto report = fastboot::boot_on_device(request, fastboot::PushSettings{});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(err, "");
}

TEST(PushConsole, LinesByKind) {
  auto line = [](Kind kind, std::string text) {
    return fastboot::console_line(PushEvent{kind, std::move(text)});
  };
  EXPECT_EQ(line(Kind::Opening, "opening x")->text, "opening x");
  EXPECT_EQ(line(Kind::Opening, "opening x")->level, log::Level::Info);
  EXPECT_EQ(line(Kind::Forced, "!!! f !!!")->level, log::Level::Warn);
  EXPECT_EQ(line(Kind::AlsoMatches, "a")->level, log::Level::Warn);
  EXPECT_EQ(line(Kind::Unchecked, "u")->level, log::Level::Warn);
  EXPECT_EQ(line(Kind::Ambiguity, "a and b: why")->text, "  a and b: why");
  EXPECT_EQ(line(Kind::Debug, "d")->level, log::Level::Debug);
  EXPECT_EQ(line(Kind::Booted, "boot OKAY")->text, "boot OKAY");
  EXPECT_FALSE(line(Kind::DownloadProgress, ""));
  EXPECT_FALSE(line(Kind::BootloaderInfo, "x"));
}

TEST(PushConsole, PrintsWhatFastboopPushPrinted) {
  log::set_level(log::Level::Info);
  fastboot::PushConsole console;
  ::testing::internal::CaptureStderr();
  console.print({Kind::Opening, "opening tcp:h:1"});
  console.print({Kind::BootloaderInfo, "hello"});
  console.print({Kind::BootloaderText, "raw"});
  console.print({Kind::Forced, "!!! forced !!!"});
  console.print({Kind::Ambiguity, "a and b: x"});
  console.print({Kind::Debug, "hidden at info"});
  console.print({Kind::Booted, "boot OKAY"});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "opening tcp:h:1\n(bootloader) hello\nraw\nwarning: !!! forced !!!\n  a and b: x\nboot "
            "OKAY\n");
  log::set_level(log::Level::Error); // -q: chatter is silent
  ::testing::internal::CaptureStderr();
  console.print({Kind::Opening, "opening tcp:h:1"});
  console.print({Kind::BootloaderInfo, "hello"});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  log::set_level(log::Level::Info);
}

} // namespace
} // namespace fastboop::test

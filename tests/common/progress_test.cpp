// The one progress line: throttled to ~10 Hz whatever the update rate, one
// unit style (MiB, MiB/s), quarters without a terminal, nothing when off.
#include "common/progress.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fastboop {
namespace {

using Clock = ProgressLine::Clock;

// A fake clock the test advances, and the line's output captured in a file.
struct Capture {
  test::TempDir dir;
  int fd = ::open((dir / "out").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  Clock::time_point now{};
  ~Capture() { ::close(fd); }
  std::function<Clock::time_point()> clock() {
    return [this] { return now; };
  }
  std::string text() const { return test::read_text(dir / "out"); }
};

TEST(ProgressLine, UdpSizedUpdatesRedrawAtMostTenTimesASecond) {
  // 13 MiB in 1428-byte UDP packets over 1.3 s: the 13,268 redraws.
  Capture c;
  const std::uint64_t total = 13u << 20;
  std::uint64_t updates = 0;
  {
    ProgressLine line("sent", total, c.fd, ProgressLine::Style::Redraw, Clock::duration::zero(),
                      c.clock());
    for (std::uint64_t done = 0; done < total; done += 1428) {
      c.now += std::chrono::microseconds(100);
      line.update(done);
      ++updates;
    }
    line.update(total);
    const double seconds = std::chrono::duration<double>(c.now - Clock::time_point{}).count();
    EXPECT_GT(updates, 9000u);
    EXPECT_LE(line.draws(), static_cast<std::uint64_t>(seconds * 10) + 2)
        << "over " << seconds << " s";
    EXPECT_GE(line.draws(), 10u);
  }
  const std::string out = c.text();
  EXPECT_NE(out.find("13.0/13.0 MiB (100%)"), std::string::npos) << out;
  EXPECT_NE(out.find("MiB/s"), std::string::npos) << out;
  EXPECT_EQ(out.find("MB/s"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n'); // the redrawn line is finished
  EXPECT_LT(out.size(), 2000u) << "terminal output stays small";
}

TEST(ProgressLine, WithoutATerminalOneLinePerQuarter) {
  Capture c;
  {
    ProgressLine line("sent", 4000, c.fd, ProgressLine::Style::Quarters, Clock::duration::zero(),
                      c.clock());
    for (std::uint64_t done = 0; done <= 4000; done += 10) {
      c.now += std::chrono::milliseconds(1);
      line.update(done);
    }
    EXPECT_EQ(line.draws(), 4u);
  }
  const std::string out = c.text();
  EXPECT_NE(out.find("(25%)"), std::string::npos) << out;
  EXPECT_NE(out.find("(100%)"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
}

TEST(ProgressLine, DelayAndOffAreSilent) {
  Capture c;
  {
    ProgressLine delayed("fetched", std::nullopt, c.fd, ProgressLine::Style::Redraw,
                         std::chrono::seconds(1), c.clock());
    for (int i = 0; i < 50; ++i) {
      c.now += std::chrono::milliseconds(10);
      delayed.add(1000);
    }
    EXPECT_EQ(delayed.draws(), 0u); // half a second: still inside the delay
    ProgressLine off("sent", 100, c.fd, ProgressLine::Style::Off, Clock::duration::zero(),
                     c.clock());
    off.update(100);
    EXPECT_EQ(off.draws(), 0u);
  }
  EXPECT_EQ(c.text(), "");
}

TEST(ProgressFormat, MibAndMibPerSecond) {
  EXPECT_EQ(format_mib(0), "0.0 MiB");
  EXPECT_EQ(format_mib(3u << 20), "3.0 MiB");
  EXPECT_EQ(format_mib_rate(10u << 20, 2.0), "5.0 MiB/s");
  EXPECT_EQ(format_mib_rate(1, 0), "- MiB/s");
}

} // namespace
} // namespace fastboop

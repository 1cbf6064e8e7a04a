// The one progress line of every tool (download to a device, http fetches):
// redrawn in place on a terminal at most ~10 times a second, a line per
// quarter otherwise, nothing under -q. One unit style: MiB and MiB/s.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace fastboop {

// "12.3 MiB" (two decimals below 10 MiB would flicker; one is enough).
std::string format_mib(std::uint64_t bytes);
// "45.6 MiB/s"; "-" before any time has passed.
std::string format_mib_rate(std::uint64_t bytes, double seconds);

class ProgressLine {
public:
  using Clock = std::chrono::steady_clock;
  // Redraw: one line rewritten in place (a terminal). Quarters: a line at
  // 25/50/75/100 % (logs; needs a total). Off: nothing.
  enum class Style { Redraw, Quarters, Off };
  static constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

  // Style from `fd` (a TTY redraws, anything else prints quarters) and the
  // log level (-q: off). The first line appears only after `delay`.
  ProgressLine(std::string label, std::optional<std::uint64_t> total, int fd = 2,
               Clock::duration delay = Clock::duration::zero());
  // Tests: a given style and clock.
  ProgressLine(std::string label, std::optional<std::uint64_t> total, int fd, Style style,
               Clock::duration delay, std::function<Clock::time_point()> now);
  ~ProgressLine(); // a redrawn line is finished with a newline
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Bytes done so far (absolute) / more bytes done; `detail` is appended.
  void update(std::uint64_t done);
  void add(std::uint64_t bytes) { update(m_done + bytes); }
  void set_detail(std::string detail) { m_detail = std::move(detail); }
  bool enabled() const { return m_style != Style::Off; }
  // How many times the line was written (tests check the throttle).
  std::uint64_t draws() const { return m_draws; }

private:
  void draw(Clock::time_point now);

  std::string m_label;
  std::optional<std::uint64_t> m_total;
  int m_fd;
  Style m_style;
  Clock::duration m_delay;
  std::function<Clock::time_point()> m_now;
  Clock::time_point m_start;
  std::optional<Clock::time_point> m_last_draw;
  std::uint64_t m_done = 0;
  std::uint64_t m_draws = 0;
  int m_quarters = 0;
  std::string m_detail;
};

} // namespace fastboop

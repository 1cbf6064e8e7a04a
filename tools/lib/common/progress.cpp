#include "common/progress.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace fastboop {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0)
      return; // progress is best effort; a closed stderr must not fail the work
    done += static_cast<std::size_t>(n);
  }
}

} // namespace

std::string format_mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return buf;
}

std::string format_mib_rate(std::uint64_t bytes, double seconds) {
  if (seconds <= 0)
    return "- MiB/s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB/s", static_cast<double>(bytes) / kMiB / seconds);
  return buf;
}

ProgressLine::ProgressLine(std::string label, std::optional<std::uint64_t> total, int fd,
                           Clock::duration delay)
    : ProgressLine(std::move(label), total, fd,
                   !log::enabled(log::Level::Info) ? Style::Off
                   : ::isatty(fd) == 1             ? Style::Redraw
                   : total                         ? Style::Quarters
                                                   : Style::Off,
                   delay, [] { return Clock::now(); }) {}

ProgressLine::ProgressLine(std::string label, std::optional<std::uint64_t> total, int fd,
                           Style style, Clock::duration delay,
                           std::function<Clock::time_point()> now)
    : m_label(std::move(label)), m_total(total), m_fd(fd), m_style(style), m_delay(delay),
      m_now(std::move(now)), m_start(m_now()) {
  if (m_style == Style::Quarters && !m_total)
    m_style = Style::Off;
}

ProgressLine::~ProgressLine() {
  if (m_style != Style::Redraw || !m_last_draw)
    return;
  draw(m_now()); // the final numbers, then end the line
  write_all(m_fd, "\n");
}

void ProgressLine::update(std::uint64_t done) {
  m_done = done;
  if (m_style == Style::Off)
    return;
  const auto now = m_now();
  const bool finished = m_total && done >= *m_total;
  if (m_style == Style::Quarters) {
    const int quarter =
        static_cast<int>(std::min<std::uint64_t>(4, *m_total ? done * 4 / *m_total : 4));
    if (quarter > m_quarters) {
      m_quarters = quarter;
      draw(now);
    }
    return;
  }
  if (now - m_start < m_delay && !finished)
    return;
  // The throttle: at most one redraw per interval, however small the updates
  // (a UDP transport reports every ~1.4 KB packet).
  if (m_last_draw && now - *m_last_draw < kRedrawInterval && !finished)
    return;
  draw(now);
}

void ProgressLine::draw(Clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - m_start).count();
  std::string text = m_label + " ";
  if (m_total) {
    const std::uint64_t total = *m_total;
    const std::uint64_t done = std::min(m_done, total);
    const int percent = total ? static_cast<int>(done * 100 / total) : 100;
    char head[64];
    std::snprintf(head, sizeof head, "%.1f/", static_cast<double>(done) / kMiB);
    text += head + format_mib(total) + " (" + std::to_string(percent) + "%), " +
            format_mib_rate(done, seconds);
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    if (m_style == Style::Redraw && rate > 0 && done < total) {
      char eta[32];
      std::snprintf(eta, sizeof eta, ", ETA %.0f s", static_cast<double>(total - done) / rate);
      text += eta;
    }
  } else {
    text += format_mib(m_done) + ", " + format_mib_rate(m_done, seconds);
  }
  if (!m_detail.empty())
    text += " " + m_detail;
  // \r + erase to the end of the line: one line, rewritten in place.
  write_all(m_fd, m_style == Style::Redraw ? "\r" + text + "\x1b[K" : text + "\n");
  m_last_draw = now;
  ++m_draws;
}

} // namespace fastboop

// How the tools show boot_on_device's progress on the console: the lines
// fastboop-push always printed (stderr, by log level), the bootloader's
// messages as AOSP's fastboot prints them, and the one progress line.
#pragma once

#include "common/log.hpp"
#include "common/progress.hpp"
#include "fastboot/push.hpp"

#include <optional>
#include <string>

namespace fastboop::fastboot {

// INFO as AOSP prints it ("(bootloader) " + text); TEXT is raw device text.
// Both are chatter: -q (errors only) silences them.
void print_bootloader_message(MessageKind kind, std::string_view text);

// One event as a log line: its level and text; nullopt for the download
// events (the progress line shows those) and the bootloader's messages.
struct ConsoleLine {
  log::Level level = log::Level::Info;
  std::string text;
};
std::optional<ConsoleLine> console_line(const PushEvent& event);

// The printer a tool puts into BootRequest::on_event (by reference: it keeps
// the progress line between events).
class PushConsole {
public:
  void print(const PushEvent& event);
  PushEventSink sink() {
    return [this](const PushEvent& event) { print(event); };
  }

private:
  std::optional<ProgressLine> m_progress;
};

} // namespace fastboop::fastboot

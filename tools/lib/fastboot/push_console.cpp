#include "fastboot/push_console.hpp"

#include <cstdio>

namespace fastboop::fastboot {

void print_bootloader_message(MessageKind kind, std::string_view text) {
  if (!log::enabled(log::Level::Info))
    return;
  std::fprintf(stderr, "%s%.*s\n", kind == MessageKind::Info ? "(bootloader) " : "",
               static_cast<int>(text.size()), text.data());
}

std::optional<ConsoleLine> console_line(const PushEvent& event) {
  using Kind = PushEvent::Kind;
  switch (event.kind) {
  case Kind::AlsoMatches:
  case Kind::Forced:
  case Kind::Unchecked:
    return ConsoleLine{log::Level::Warn, event.text};
  case Kind::Ambiguity:
    return ConsoleLine{log::Level::Info, "  " + event.text};
  case Kind::Debug:
    return ConsoleLine{log::Level::Debug, event.text};
  case Kind::DownloadStarted: // its text, then the progress line
  case Kind::Waiting:
  case Kind::Opening:
  case Kind::ProfileMatched:
  case Kind::Note:
  case Kind::Booting:
  case Kind::Booted:
  case Kind::HandOff:
    return ConsoleLine{log::Level::Info, event.text};
  case Kind::BootloaderInfo:
  case Kind::BootloaderText:
  case Kind::DownloadProgress:
    break;
  }
  return std::nullopt;
}

void PushConsole::print(const PushEvent& event) {
  using Kind = PushEvent::Kind;
  if (event.kind == Kind::DownloadProgress) {
    if (m_progress)
      m_progress->update(event.done);
    return;
  }
  if (event.kind == Kind::BootloaderInfo || event.kind == Kind::BootloaderText) {
    print_bootloader_message(
        event.kind == Kind::BootloaderInfo ? MessageKind::Info : MessageKind::Text, event.text);
    return;
  }
  // The next step ends the progress line (a redrawn one gets its newline).
  m_progress.reset();
  if (auto line = console_line(event))
    log::write(line->level, line->text);
  if (event.kind == Kind::DownloadStarted)
    m_progress.emplace("sent", event.total);
}

} // namespace fastboop::fastboot

// Per-boot settings from the host, for a phone's first boot (spec stage0 §2.1
// `personalization`, §2.11 item 3): the host clock as systemd.clock_usec (a
// device without a set clock starts in 1970, and TLS and package managers
// fail), and the host's locale, keymap and timezone as systemd-firstboot
// credentials. They change with every boot (the clock) or host, so they are
// never part of a cached artifact: `fastboop boot` appends them to the cached
// image's kernel command line just before the download (bootimg
// append_boot_cmdline), where systemd reads both (`systemd.set_credential=`
// is its kernel command-line credential, kernel-command-line(7)).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::boot {

struct HostSettings {
  std::optional<std::string> locale, locale_messages, keymap, timezone;
};

// Where the host keeps them; a field is a file's contents, and the
// environment for the locale (tests point these at fixtures).
struct HostSources {
  std::map<std::string, std::string> env; // LC_ALL, LC_MESSAGES, LANG, TZ
  std::string root = "/";                 // prefix for the files below
};
HostSources current_host();

// The spec's order: locale from LC_ALL, LANG, /etc/locale.conf (LANG=);
// messages from LC_MESSAGES, /etc/locale.conf (LC_MESSAGES=); keymap from
// /etc/vconsole.conf (KEYMAP=), /etc/default/keyboard (XKBLAYOUT=, first
// comma item); timezone from TZ, the /etc/localtime link
// (…/zoneinfo/<zone>), /etc/timezone. Defaults en_US.UTF-8, us, UTC. A value
// that is not a plain token (letters, digits, `._@+-/:`) is dropped: it goes
// onto a kernel command line.
HostSettings read_host_settings(const HostSources& host);

// "systemd.set_credential=firstboot.locale:en_US.UTF-8 …" for the set fields.
std::vector<std::string> firstboot_tokens(const HostSettings& settings);

// "systemd.clock_usec=<µs since the epoch>".
std::string clock_token(std::chrono::system_clock::time_point now);

} // namespace fastboop::boot

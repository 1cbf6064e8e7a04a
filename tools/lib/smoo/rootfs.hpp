// Serving a rootfs SOURCE (anything `fastboop-stage0 build` takes as an
// image: path, URL, compiled Boot Profile) over smoo: open it through the
// stage0 source code (stage0/source.hpp), give every reader its own pipeline
// instance, count network bytes, and stop cleanly on SIGINT/SIGTERM.
#pragma once

#include "smoo/serve.hpp"
#include "stage0/source.hpp"

#include <atomic>
#include <memory>
#include <stop_token>
#include <thread>

namespace fastboop::smoo {

class ServedRootfs {
public:
  // Opens SOURCE once (errors name it: missing file, dead URL, no filesystem).
  static Result<ServedRootfs> open(const std::string& spec, stage0::SourceOptions options);

  const stage0::RootfsIdentity& identity() const { return m_image.identity; }
  pipeline::BlockSource& image() { return *m_image.image; }
  // "gpt[partlabel=root] <- xz <- http(…)"
  std::string describe() const;
  // Options for serve(): identity, artifact name, replicas, network counter.
  ServeOptions serve_options() const;

private:
  ServedRootfs() = default;
  std::string m_spec;
  stage0::SourceOptions m_options;
  stage0::OpenedImage m_image;
  std::shared_ptr<std::atomic<std::uint64_t>> m_fetched;
};

// Adjusts `options` (device, block size, …) on top of rootfs.serve_options()
// and serves until `stop`.
Result<ServeStats> serve_rootfs(ServedRootfs& rootfs, const ServeOptions& options,
                                std::stop_token stop);

// SIGINT/SIGTERM request a stop (through an async-signal-safe flag and a
// watcher thread); a second signal gets the default action, so a stop stuck
// behind a slow fetch can still be forced. Handlers restored on destruction.
class SignalStop {
public:
  SignalStop();
  ~SignalStop();
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;
  std::stop_token token() const { return m_source.get_token(); }
  int signal() const; // the signal received, 0 if none

private:
  std::stop_source m_source;
  std::jthread m_watcher;
};

} // namespace fastboop::smoo

#include "smoo/rootfs.hpp"

#include "common/log.hpp"

#include <csignal>

namespace fastboop::smoo {

namespace {

// Readers beyond the first: enough that a slow HTTP fetch or xz block does
// not hold up reads already cached, few enough that each reader's own
// decoder state (xz block cache, HTTP connections) stays small.
constexpr unsigned default_readers = 4;

std::string join_layers(const std::vector<std::string>& layers) {
  std::string l;
  for (const auto& x : layers)
    l += (l.empty() ? "" : " <- ") + x;
  return l;
}

} // namespace

Result<ServedRootfs> ServedRootfs::open(const std::string& spec, stage0::SourceOptions options) {
  ServedRootfs r;
  r.m_spec = spec;
  r.m_fetched = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto user_on_fetch = options.on_fetch;
  options.on_fetch = [fetched = r.m_fetched, user_on_fetch](std::uint64_t n) {
    *fetched += n;
    if (user_on_fetch)
      user_on_fetch(n);
  };
  r.m_image = TRY(stage0::open_rootfs_image(spec, options));
  // Replicas: the digest is known by now (or not needed); never hash again.
  options.terminal_digest = stage0::TerminalDigest::IfStated;
  r.m_options = std::move(options);
  return r;
}

std::string ServedRootfs::describe() const {
  return join_layers(m_image.layers);
}

ServeOptions ServedRootfs::serve_options() const {
  ServeOptions o;
  const auto& id = m_image.identity;
  // Stable for one image: its pipeline, and its digest when stated.
  o.identity = id.pipeline + (id.sha512 ? "|sha512:" + *id.sha512 : std::string());
  o.artifact = "rootfs " + describe();
  o.fetched_bytes = m_fetched.get();
  o.open_replica = [spec = m_spec, options = m_options]() -> Result<pipeline::BlockSourcePtr> {
    auto opened = TRY(stage0::open_rootfs_image(spec, options));
    // The hints must outlive the image that points into them.
    struct Owning final : pipeline::BlockSource {
      stage0::OpenedImage held;
      std::uint64_t size() const override { return held.image->size(); }
      Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
        return held.image->read_at(offset, out);
      }
      std::string describe() const override { return held.image->describe(); }
    };
    auto owning = std::make_unique<Owning>();
    owning->held = std::move(opened);
    return pipeline::BlockSourcePtr(std::move(owning));
  };
  o.readers = default_readers + 1;
  return o;
}

Result<ServeStats> serve_rootfs(ServedRootfs& rootfs, const ServeOptions& options,
                                std::stop_token stop) {
  log::info("serving " + rootfs.describe() + " (" + std::to_string(rootfs.image().size()) +
            " bytes)");
  return serve(rootfs.image(), options, std::move(stop));
}

namespace {

std::atomic<int> g_signal{0};
struct sigaction g_old_int, g_old_term;

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  // The next one is not caught: a stop that hangs can still be forced.
  std::signal(sig, SIG_DFL);
}

} // namespace

SignalStop::SignalStop() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
  m_watcher = std::jthread([source = m_source](std::stop_token own) mutable {
    while (!own.stop_requested()) {
      if (g_signal.load() != 0) {
        log::info("stopping (" + std::string(g_signal.load() == SIGINT ? "SIGINT" : "SIGTERM") +
                  ")…");
        source.request_stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

SignalStop::~SignalStop() {
  m_watcher.request_stop();
  m_watcher.join();
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

int SignalStop::signal() const {
  return g_signal.load();
}

} // namespace fastboop::smoo

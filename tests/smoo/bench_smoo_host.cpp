// Host-side cost of serving (not a test; `bench_smoo_host` prints numbers):
// the fake gadget has no bus, so what is timed is the session itself —
// decoding, the worker pool, reading the source, the send lock. Two
// workloads: many cached 128 KiB reads (per-request overhead), and the same
// with every 16th read slow (10 ms, an HTTP fetch), to see whether slow reads
// hold up the others with 1 reader versus several.
#include "fake_gadget.hpp"
#include "smoo/serve.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

using namespace fastboop;
using namespace fastboop::smoo;
using namespace fastboop::smoo::test;
using namespace std::chrono_literals;

namespace {

struct Image {
  Bytes bytes = Bytes(std::size_t{64} << 20, 0x5a);
  std::chrono::milliseconds slow{0};
};

class BenchSource final : public pipeline::BlockSource {
public:
  explicit BenchSource(const Image& image) : m_image(image) {}
  std::uint64_t size() const override { return m_image.bytes.size(); }
  std::string describe() const override { return "bench"; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    // Every 16th 128 KiB block is "not cached yet".
    if (m_image.slow.count() && (offset / (128 << 10)) % 16 == 0)
      std::this_thread::sleep_for(m_image.slow);
    std::memcpy(out.data(), m_image.bytes.data() + offset, out.size());
    return ok();
  }

private:
  const Image& m_image;
};

void run(const char* name, const Image& image, unsigned workers, unsigned readers) {
  FakeGadget gadget;
  FakeConnector connector(gadget);
  gadget.set_record_payloads(false);
  BenchSource source(image);
  ServeOptions options;
  options.identity = "bench";
  options.progress = ServeOptions::Progress::Off;
  options.workers = workers;
  options.readers = readers;
  options.open_replica = [&image]() -> Result<pipeline::BlockSourcePtr> {
    return pipeline::BlockSourcePtr(new BenchSource(image));
  };
  std::jthread server(
      [&](std::stop_token stop) { (void)serve_with(connector, source, options, stop); });
  while (gadget.exports().empty())
    std::this_thread::sleep_for(1ms);
  const auto id = gadget.exports().front().export_id;
  constexpr std::uint32_t blocks = 32; // 128 KiB of 4 KiB blocks
  constexpr std::size_t count = 512;   // 64 MiB
  const auto start = std::chrono::steady_clock::now();
  // Keep 16 in flight, as the gadget's default queue depth does.
  std::size_t sent = 0;
  while (sent < count) {
    const std::size_t answered = gadget.sent_count();
    while (sent < count && sent < answered + 16) {
      gadget.push_request(
          Request{Op::Read, static_cast<std::uint32_t>(sent), id, sent * blocks, blocks});
      ++sent;
    }
    gadget.wait_for_responses(answered + 1, 1000ms);
  }
  gadget.wait_for_responses(count, 60s);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-34s workers %2u readers %u: %6.0f requests/s, %7.1f MiB/s, %.1f us/request\n",
              name, workers, readers, count / s, count * 0.125 / s, s * 1e6 / count);
  server.request_stop();
}

} // namespace

int main() {
  Image cached;
  for (unsigned workers : {1u, 4u, 16u})
    run("cached 128 KiB reads", cached, workers, 1);
  Image slow;
  slow.slow = 10ms;
  run("every 16th read takes 10 ms", slow, 16, 1);
  run("every 16th read takes 10 ms", slow, 16, 5);
  run("every 16th read takes 10 ms", slow, 16, 16);
  return 0;
}

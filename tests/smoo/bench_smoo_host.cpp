// Host-side cost of serving (not a test; `bench_smoo_host` prints numbers):
// the fake gadget has no bus, so what is timed is the session itself —
// decoding, the worker pool, reading the source, the send lock. Two
// workloads: many cached 128 KiB reads (per-request overhead), and the same
// with every 16th read slow (10 ms, an HTTP fetch), to see whether slow reads
// hold up the others with 1 reader versus several (reads scattered
// over the image). With a SOURCE argument
// (anything `fastboop-push serve` takes) it also reads that whole export in
// order, 16 in flight, with 1 and with 5 readers (each reader is its own
// pipeline instance: its own xz block cache and HTTP page set).
#include "fake_gadget.hpp"
#include "smoo/rootfs.hpp"
#include "smoo/serve.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
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
      // Scattered over the image (steps of 37 x 128 KiB), like a
      // filesystem's metadata and files, not one sequential stream.
      const std::uint64_t lba = (sent * 37 % count) * blocks;
      gadget.push_request(Request{Op::Read, static_cast<std::uint32_t>(sent), id, lba, blocks});
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

// The whole export of a real SOURCE, in order, 128 KiB per request.
void run_source(const std::string& spec, unsigned readers) {
  auto rootfs = ServedRootfs::open(spec, {});
  if (!rootfs) {
    std::fprintf(stderr, "%s\n", rootfs.error().message().c_str());
    return;
  }
  FakeGadget gadget;
  FakeConnector connector(gadget);
  gadget.set_record_payloads(false);
  ServeOptions options = rootfs->serve_options();
  options.progress = ServeOptions::Progress::Off;
  options.readers = readers;
  std::jthread server(
      [&](std::stop_token stop) { (void)serve_with(connector, rootfs->image(), options, stop); });
  while (gadget.exports().empty())
    std::this_thread::sleep_for(1ms);
  const auto e = gadget.exports().front();
  constexpr std::uint32_t blocks = 32;
  const std::size_t count = (e.size_bytes / e.block_size + blocks - 1) / blocks;
  const std::uint64_t total_blocks = e.size_bytes / e.block_size;
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu0 = std::clock();
  std::size_t sent = 0;
  while (sent < count) {
    const std::size_t answered = gadget.sent_count();
    while (sent < count && sent < answered + 16) {
      const std::uint64_t lba = std::uint64_t{sent} * blocks;
      const auto n =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(blocks, total_blocks - lba));
      gadget.push_request(Request{Op::Read, static_cast<std::uint32_t>(sent), e.export_id, lba, n});
      ++sent;
    }
    gadget.wait_for_responses(answered + 1, 1000ms);
  }
  gadget.wait_for_responses(count, 600s);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  std::printf("whole export of %s, readers %u: %.1f MiB in %.2f s, %.1f MiB/s, %.2f s CPU\n",
              rootfs->describe().c_str(), readers, static_cast<double>(e.size_bytes) / (1 << 20), s,
              static_cast<double>(e.size_bytes) / (1 << 20) / s, cpu);
  server.request_stop();
}

int main(int argc, char** argv) {
  if (argc > 1) {
    run_source(argv[1], 1);
    run_source(argv[1], 5);
    return 0;
  }
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

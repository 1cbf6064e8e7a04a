// serve_with() against the fake gadget (fake_gadget.hpp): the data plane,
// ordering, replay, faults and reconnects of spec smoo.md §3-§4.
#include "fake_gadget.hpp"
#include "smoo/serve.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <thread>

using namespace fastboop;
using namespace fastboop::smoo;
using namespace fastboop::smoo::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t block = 4096;

// Bytes in memory, safe to read from several threads; one byte range can be
// made slow and one can fail, to stand in for an HTTP fetch and a corrupt
// xz block.
struct ImageState {
  Bytes bytes;
  std::optional<std::uint64_t> slow_offset;
  std::chrono::milliseconds slow_for{0};
  std::optional<std::uint64_t> failing_offset;
  std::atomic<int> reads{0};
};

class TestSource final : public pipeline::BlockSource {
public:
  explicit TestSource(std::shared_ptr<ImageState> state) : m_state(std::move(state)) {}
  std::uint64_t size() const override { return m_state->bytes.size(); }
  std::string describe() const override { return "test-image"; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    m_state->reads++;
    const std::uint64_t end = offset + out.size();
    if (m_state->failing_offset && *m_state->failing_offset >= offset &&
        *m_state->failing_offset < end)
      return Error("xz: block 3: corrupt data", ErrorKind::Invalid);
    if (m_state->slow_offset && *m_state->slow_offset >= offset && *m_state->slow_offset < end)
      std::this_thread::sleep_for(m_state->slow_for);
    if (end > m_state->bytes.size())
      return Error("test-image: read past the end");
    std::copy_n(m_state->bytes.begin() + static_cast<std::ptrdiff_t>(offset), out.size(),
                out.begin());
    return ok();
  }

private:
  std::shared_ptr<ImageState> m_state;
};

class SmooServe : public ::testing::Test {
protected:
  void SetUp() override {
    m_state = std::make_shared<ImageState>();
    m_state->bytes = fastboop::test::random_bytes(64 * block, 14);
    options.block_size = block;
    options.identity = "sha512:test";
    options.artifact = "rootfs test-image";
    options.heartbeat_interval = 50ms;
    options.rediscover_interval = 20ms;
    options.transfer_timeout = 200ms;
    options.progress = ServeOptions::Progress::Off;
    options.open_replica = [state = m_state]() -> Result<pipeline::BlockSourcePtr> {
      return pipeline::BlockSourcePtr(new TestSource(state));
    };
  }
  void TearDown() override {
    if (m_thread.joinable()) {
      m_thread.request_stop();
      m_thread.join();
    }
  }

  void start() {
    m_source = std::make_unique<TestSource>(m_state);
    m_thread = std::jthread([this](std::stop_token stop) {
      m_result = serve_with(m_connector, *m_source, options, stop);
    });
  }

  // The export the host configured (waits for CONFIG_EXPORTS).
  ExportEntry configured(std::size_t configs = 1) {
    for (int i = 0; i < 500 && gadget.config_count() < configs; ++i)
      std::this_thread::sleep_for(10ms);
    auto exports = gadget.exports();
    EXPECT_EQ(exports.size(), 1u);
    return exports.empty() ? ExportEntry{} : exports.front();
  }

  ServeStats finish() {
    m_thread.request_stop();
    m_thread.join();
    EXPECT_TRUE(m_result) << m_result.error().message();
    EXPECT_EQ(gadget.violation(), "");
    return m_result ? *m_result : ServeStats{};
  }

  Bytes image(std::uint64_t lba, std::uint32_t blocks) const {
    auto first = m_state->bytes.begin() + static_cast<std::ptrdiff_t>(lba * block);
    return Bytes(first, first + static_cast<std::ptrdiff_t>(std::uint64_t{blocks} * block));
  }

  Request read(std::uint32_t id, std::uint32_t export_id, std::uint64_t lba,
               std::uint32_t blocks) const {
    return Request{Op::Read, id, export_id, lba, blocks};
  }

  FakeGadget gadget;
  ServeOptions options;
  std::shared_ptr<ImageState> m_state;

private:
  FakeConnector m_connector{gadget};
  std::unique_ptr<TestSource> m_source;
  std::jthread m_thread;
  Result<ServeStats> m_result = Error("serve_with did not run");
};

} // namespace

TEST_F(SmooServe, ConfiguresOneExportAndAnswersAReadWithResponseThenPayload) {
  start();
  const auto e = configured();
  EXPECT_EQ(e.block_size, block);
  EXPECT_EQ(e.size_bytes, m_state->bytes.size());
  EXPECT_EQ(e.export_id, export_id_for(block, 64, as_bytes("sha512:test")));
  gadget.push_request(read(0x10002, e.export_id, 5, 3));
  ASSERT_TRUE(gadget.wait_for_responses(1));
  const auto sent = gadget.sent();
  EXPECT_EQ(sent[0].response, response_for(read(0x10002, e.export_id, 5, 3), status_ok));
  EXPECT_EQ(sent[0].payload, image(5, 3));
  const auto stats = finish();
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.bytes_served, 3u * block);
  EXPECT_EQ(stats.sessions, 1u);
}

TEST_F(SmooServe, ASlowReadDoesNotHoldUpTheOthersAndResponsesGoOutOfOrder) {
  // Block 0 takes 400 ms (an HTTP fetch); 15 other reads are in flight behind
  // it. With a reader per worker they are answered first, each payload right
  // after its own Response.
  m_state->slow_offset = 0;
  m_state->slow_for = 400ms;
  start();
  const auto e = configured();
  gadget.push_request(read(0, e.export_id, 0, 1));
  for (std::uint32_t i = 1; i < 16; ++i)
    gadget.push_request(read(i, e.export_id, i, 1));
  ASSERT_TRUE(gadget.wait_for_responses(16));
  const auto sent = gadget.sent();
  EXPECT_EQ(sent.back().response.request_id, 0u) << "the slow read should be answered last";
  for (const auto& s : sent)
    EXPECT_EQ(s.payload, image(s.response.lba, 1)) << "request " << s.response.request_id;
  finish();
}

TEST_F(SmooServe, WithoutReplicasReadsAreAnsweredInOrder) {
  // The contrast to the test above: one reader serialises the source.
  options.open_replica = nullptr;
  m_state->slow_offset = 0;
  m_state->slow_for = 100ms;
  start();
  const auto e = configured();
  for (std::uint32_t i = 0; i < 8; ++i)
    gadget.push_request(read(i, e.export_id, i, 1));
  ASSERT_TRUE(gadget.wait_for_responses(8));
  for (const auto& s : gadget.sent())
    EXPECT_EQ(s.payload, image(s.response.lba, 1));
  finish();
}

TEST_F(SmooServe, ManyInFlightAllAnsweredWithTheirOwnBytes) {
  start();
  const auto e = configured();
  for (std::uint32_t i = 0; i < 200; ++i)
    gadget.push_request(read((i % 4) << 16 | i, e.export_id, (i * 7) % 60, 1 + i % 4));
  ASSERT_TRUE(gadget.wait_for_responses(200));
  for (const auto& s : gadget.sent()) {
    EXPECT_EQ(s.response.status, status_ok);
    EXPECT_EQ(s.payload, image(s.response.lba, s.response.num_blocks));
  }
  const auto stats = finish();
  EXPECT_EQ(stats.requests, 200u);
}

TEST_F(SmooServe, AReplayedRequestIsAnsweredEachTime) {
  start();
  const auto e = configured();
  gadget.push_request(read(0x20001, e.export_id, 9, 2));
  gadget.push_request(read(0x20001, e.export_id, 9, 2));
  ASSERT_TRUE(gadget.wait_for_responses(2));
  const auto sent = gadget.sent();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& s : sent) {
    EXPECT_EQ(s.response.request_id, 0x20001u);
    EXPECT_EQ(s.payload, image(9, 2));
  }
  finish();
}

TEST_F(SmooServe, AResetMidBulkTransferReconnectsAndTheReplayIsServed) {
  start();
  const auto e = configured();
  gadget.fail_bulk_out_at(0);
  gadget.push_request(read(7, e.export_id, 1, 1));
  // The link broke halfway through the payload: the host waits for the
  // gadget; it comes back and replays the outstanding request.
  for (int i = 0; i < 200 && gadget.connects() < 1; ++i)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(gadget.sent().empty());
  gadget.reconnect();
  configured(2);
  gadget.push_request(read(7, e.export_id, 1, 1));
  ASSERT_TRUE(gadget.wait_for_responses(1));
  EXPECT_EQ(gadget.sent()[0].payload, image(1, 1));
  EXPECT_EQ(gadget.exports().front().export_id, e.export_id)
      << "export_id must be stable across reconnects";
  const auto stats = finish();
  EXPECT_EQ(stats.sessions, 2u);
  EXPECT_GE(gadget.connects(), 2u);
}

TEST_F(SmooServe, AChangedSessionIdMeansTheGadgetRestartedAndIsSetUpAgain) {
  start();
  const auto e = configured();
  gadget.restart(0x2222);
  configured(2);
  gadget.push_request(read(1, e.export_id, 2, 1));
  ASSERT_TRUE(gadget.wait_for_responses(1));
  EXPECT_EQ(gadget.sent()[0].payload, image(2, 1));
  const auto stats = finish();
  EXPECT_EQ(stats.sessions, 2u);
  EXPECT_EQ(gadget.connects(), 1u) << "a restart is handled on the same link";
}

TEST_F(SmooServe, AWrongIdentMagicIsNotConfigured) {
  gadget.set_ident(Bytes{'N', 'O', 'P', 'E', 0, 0, 1, 0});
  start();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gadget.config_count(), 0u);
  EXPECT_GE(gadget.connects(), 2u) << "keeps looking for a real gadget";
  const auto stats = finish();
  EXPECT_EQ(stats.sessions, 0u);
}

TEST_F(SmooServe, TruncatedMessagesAreRefusedAndTheSessionGoesOn) {
  start();
  const auto e = configured();
  Bytes truncated = encode_request(read(0x33, e.export_id, 0, 1));
  truncated.resize(20);
  gadget.push_raw_message(truncated);         // ids readable: EINVAL
  gadget.push_raw_message(Bytes{0, 0, 0, 0}); // unreadable: dropped
  gadget.push_request(read(0x34, e.export_id, 3, 1));
  ASSERT_TRUE(gadget.wait_for_responses(2));
  const auto sent = gadget.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].response.request_id, 0x33u);
  EXPECT_EQ(sent[0].response.status, status_einval);
  EXPECT_TRUE(sent[0].payload.empty());
  EXPECT_EQ(sent[1].response.status, status_ok);
  EXPECT_EQ(sent[1].payload, image(3, 1));
  finish();
}

TEST_F(SmooServe, UnknownExportOutOfRangeAndOverflowAreEinval) {
  start();
  const auto e = configured();
  gadget.push_request(read(1, e.export_id + 1, 0, 1));                 // unknown export
  gadget.push_request(read(2, e.export_id, 63, 2));                    // past the end
  gadget.push_request(read(3, e.export_id, ~std::uint64_t{0} - 1, 4)); // lba + count overflows
  gadget.push_request(read(4, e.export_id, 0, 0xFFFFFFFF));            // size overflows
  gadget.push_request(read(5, e.export_id, 63, 1));                    // the last block: fine
  ASSERT_TRUE(gadget.wait_for_responses(5));
  for (const auto& s : gadget.sent()) {
    if (s.response.request_id == 5) {
      EXPECT_EQ(s.response.status, status_ok);
      EXPECT_EQ(s.payload, image(63, 1));
    } else {
      EXPECT_EQ(s.response.status, status_einval) << "request " << s.response.request_id;
      EXPECT_TRUE(s.payload.empty());
    }
  }
  const auto stats = finish();
  EXPECT_EQ(stats.errors, 4u);
}

TEST_F(SmooServe, AWriteHasItsPayloadConsumedAndIsRefused) {
  start();
  const auto e = configured();
  gadget.push_request(Request{Op::Write, 9, e.export_id, 4, 2}, Bytes(2 * block, 0xEE));
  gadget.push_request(read(10, e.export_id, 4, 2));
  ASSERT_TRUE(gadget.wait_for_responses(2));
  const auto sent = gadget.sent();
  EXPECT_EQ(sent[0].response,
            response_for(Request{Op::Write, 9, e.export_id, 4, 2}, status_eopnotsupp));
  EXPECT_TRUE(gadget.all_bulk_in_consumed());
  EXPECT_EQ(gadget.bulk_in_consumed(), 2u * block);
  EXPECT_EQ(sent[1].payload, image(4, 2)) << "the image is never written";
  const auto stats = finish();
  EXPECT_EQ(stats.writes_refused, 1u);
}

TEST_F(SmooServe, FlushIsOkAndDiscardIsNotSupported) {
  start();
  const auto e = configured();
  gadget.push_request(Request{Op::Flush, 1, e.export_id, 0, 0});
  gadget.push_request(Request{Op::Discard, 2, e.export_id, 0, 8});
  ASSERT_TRUE(gadget.wait_for_responses(2));
  const auto sent = gadget.sent();
  EXPECT_EQ(sent[0].response.status, status_ok);
  EXPECT_EQ(sent[1].response.status, status_eopnotsupp);
  finish();
}

TEST_F(SmooServe, ASourceFailingOneBlockAnswersEioWithoutPayloadAndGoesOn) {
  m_state->failing_offset = 3 * block + 100;
  start();
  const auto e = configured();
  gadget.push_request(read(1, e.export_id, 2, 2)); // covers the bad block
  ASSERT_TRUE(gadget.wait_for_responses(1));
  gadget.push_request(read(2, e.export_id, 5, 1));
  ASSERT_TRUE(gadget.wait_for_responses(2));
  const auto sent = gadget.sent();
  EXPECT_EQ(sent[0].response.status, status_eio);
  EXPECT_TRUE(sent[0].payload.empty()) << "never wrong bytes";
  EXPECT_EQ(sent[1].response.status, status_ok);
  EXPECT_EQ(sent[1].payload, image(5, 1));
  const auto stats = finish();
  EXPECT_EQ(stats.errors, 1u);
  EXPECT_EQ(stats.sessions, 1u);
}

TEST_F(SmooServe, LostHeartbeatsDropTheLinkAndItIsSetUpAgain) {
  options.heartbeat_budget = 3;
  start();
  const auto e = configured();
  gadget.set_status_fails(true);
  for (int i = 0; i < 300 && gadget.connects() < 2; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_GE(gadget.connects(), 2u) << "heartbeat budget spent: reconnect";
  gadget.set_status_fails(false);
  for (int i = 0; i < 300 && gadget.status_count() < 3; ++i)
    std::this_thread::sleep_for(10ms);
  gadget.push_request(read(1, e.export_id, 0, 1));
  ASSERT_TRUE(gadget.wait_for_responses(1));
  EXPECT_EQ(gadget.sent()[0].payload, image(0, 1));
  finish();
}

TEST_F(SmooServe, AnImageNotAWholeNumberOfBlocksEndsInZeros) {
  m_state->bytes.resize(10 * block + 100);
  start();
  const auto e = configured();
  EXPECT_EQ(e.size_bytes, 11u * block);
  gadget.push_request(read(1, e.export_id, 10, 1));
  ASSERT_TRUE(gadget.wait_for_responses(1));
  Bytes expected(block, 0);
  std::copy_n(m_state->bytes.begin() + 10 * block, 100, expected.begin());
  EXPECT_EQ(gadget.sent()[0].payload, expected);
  finish();
}

TEST_F(SmooServe, ABadBlockSizeIsAUsageError) {
  options.block_size = 3000;
  FakeConnector connector(gadget);
  TestSource source(m_state);
  auto r = serve_with(connector, source, options, std::stop_token{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Usage);
}

TEST(SmooStats, SummaryNamesBytesRequestsRateAndNetworkVersusCache) {
  ServeStats s;
  s.bytes_served = 12u << 20;
  s.requests = 812;
  s.bytes_fetched = 2u << 20;
  s.seconds = 4;
  EXPECT_EQ(
      s.summary(),
      "served 12.0 MiB in 4.0 s (3.0 MiB/s), 812 requests, 2.0 MiB from the network, 10.0 MiB "
      "from cache or local files");
}

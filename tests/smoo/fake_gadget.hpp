// A scripted smoo gadget behind the GadgetLink seam: the test queues Requests
// (and write payloads), the session under test answers, and the gadget
// records every Response and bulk OUT payload in the order they arrived.
// Faults: a disconnect (every call on the current link fails, connect()
// finds nothing until reconnect()), a transfer that fails mid-payload, lost
// heartbeats, a restarted gadget (new session_id), a wrong IDENT.
#pragma once

#include "smoo/link.hpp"
#include "smoo/protocol.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

namespace fastboop::smoo::test {

struct Sent {
  Response response;
  Bytes payload; // empty when the Response carried none
};

class FakeGadget {
public:
  // --- script ---
  void push_request(const Request& r, Bytes write_payload = {});
  void push_raw_message(Bytes message);       // anything on interrupt IN
  void disconnect();                          // the USB device vanishes
  void reconnect();                           // it comes back (new link)
  void restart(std::uint64_t new_session_id); // gadget restarted: export set cleared
  void set_ident(Bytes ident);
  void set_status_fails(bool fails); // STATUS requests time out
  // The n-th bulk OUT from now (0 = the next) fails halfway: the link is
  // broken, as when a cable is pulled mid-transfer.
  void fail_bulk_out_at(int n);

  // --- observe ---
  // Waits until `count` Responses arrived (true) or `timeout` passed.
  bool wait_for_responses(std::size_t count,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Sent> sent() const;
  std::vector<ExportEntry> exports() const;
  std::size_t config_count() const;     // CONFIG_EXPORTS received
  std::size_t status_count() const;     // STATUS requests answered
  std::size_t connects() const;         // links handed out
  std::size_t bulk_in_consumed() const; // write payload bytes taken off the bus
  bool all_bulk_in_consumed() const;
  // A Response sent while another's payload was still due, or a bulk OUT
  // payload with no Response before it or of the wrong size.
  std::string violation() const;

private:
  friend class FakeLink;
  friend class FakeConnector;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<Bytes> m_interrupt_in;
  std::deque<std::uint8_t> m_bulk_in;
  std::size_t m_bulk_in_consumed = 0;
  std::vector<Sent> m_sent;
  std::optional<Response> m_pending; // a Response whose payload is awaited on bulk OUT
  std::vector<ExportEntry> m_exports;
  std::size_t m_configs = 0;
  std::size_t m_statuses = 0;
  std::size_t m_connects = 0;
  std::uint64_t m_generation = 1; // bumped on disconnect: older links fail
  bool m_present = true;
  bool m_status_fails = false;
  int m_fail_bulk_out_at = -1;
  std::uint64_t m_session_id = 0x1111;
  Bytes m_ident = encode_ident(Ident{0, 1});
  std::string m_violation;
};

class FakeConnector final : public GadgetConnector {
public:
  explicit FakeConnector(FakeGadget& gadget) : m_gadget(gadget) {}
  Result<std::unique_ptr<GadgetLink>> connect() override;

private:
  FakeGadget& m_gadget;
};

} // namespace fastboop::smoo::test

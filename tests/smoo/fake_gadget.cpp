#include "fake_gadget.hpp"

#include <thread>

namespace fastboop::smoo::test {

using Millis = std::chrono::milliseconds;

void FakeGadget::push_request(const Request& r, Bytes write_payload) {
  std::lock_guard lock(m_mutex);
  m_interrupt_in.push_back(encode_request(r));
  m_bulk_in.insert(m_bulk_in.end(), write_payload.begin(), write_payload.end());
  m_changed.notify_all();
}

void FakeGadget::push_raw_message(Bytes message) {
  std::lock_guard lock(m_mutex);
  m_interrupt_in.push_back(std::move(message));
  m_changed.notify_all();
}

void FakeGadget::disconnect() {
  std::lock_guard lock(m_mutex);
  m_present = false;
  ++m_generation;
  m_pending.reset();
  m_changed.notify_all();
}

void FakeGadget::reconnect() {
  std::lock_guard lock(m_mutex);
  m_present = true;
  m_changed.notify_all();
}

void FakeGadget::restart(std::uint64_t new_session_id) {
  std::lock_guard lock(m_mutex);
  m_session_id = new_session_id;
  m_exports.clear();
}

void FakeGadget::set_ident(Bytes ident) {
  std::lock_guard lock(m_mutex);
  m_ident = std::move(ident);
}

void FakeGadget::set_status_fails(bool fails) {
  std::lock_guard lock(m_mutex);
  m_status_fails = fails;
}

void FakeGadget::fail_bulk_out_at(int n) {
  std::lock_guard lock(m_mutex);
  m_fail_bulk_out_at = n;
}

bool FakeGadget::wait_for_responses(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout, [&] { return m_sent.size() >= count; });
}

std::vector<Sent> FakeGadget::sent() const {
  std::lock_guard lock(m_mutex);
  return m_sent;
}
std::vector<ExportEntry> FakeGadget::exports() const {
  std::lock_guard lock(m_mutex);
  return m_exports;
}
std::size_t FakeGadget::config_count() const {
  std::lock_guard lock(m_mutex);
  return m_configs;
}
std::size_t FakeGadget::status_count() const {
  std::lock_guard lock(m_mutex);
  return m_statuses;
}
std::size_t FakeGadget::connects() const {
  std::lock_guard lock(m_mutex);
  return m_connects;
}
std::size_t FakeGadget::bulk_in_consumed() const {
  std::lock_guard lock(m_mutex);
  return m_bulk_in_consumed;
}
bool FakeGadget::all_bulk_in_consumed() const {
  std::lock_guard lock(m_mutex);
  return m_bulk_in.empty();
}
std::string FakeGadget::violation() const {
  std::lock_guard lock(m_mutex);
  return m_violation;
}

// One connection to the gadget; it breaks when the gadget disconnects.
class FakeLink final : public GadgetLink {
public:
  FakeLink(FakeGadget& gadget, std::uint64_t generation) : m_g(gadget), m_generation(generation) {}

  Result<Bytes> control_in(std::uint8_t type, std::uint8_t request, std::uint16_t length,
                           Millis timeout) override {
    std::unique_lock lock(m_g.m_mutex);
    TRY(alive());
    if (type == ident_request_type && request == ident_request)
      return Bytes(m_g.m_ident.begin(),
                   m_g.m_ident.begin() + std::min<std::size_t>(length, m_g.m_ident.size()));
    if (type == status_request_type && request == status_request) {
      if (m_g.m_status_fails) {
        lock.unlock();
        std::this_thread::sleep_for(std::min(timeout, Millis(20)));
        return Error("fake: STATUS timed out", ErrorKind::Device);
      }
      ++m_g.m_statuses;
      Status s;
      s.export_count = static_cast<std::uint32_t>(m_g.m_exports.size());
      s.flags = m_g.m_exports.empty() ? 0 : status_flag_export_active;
      s.session_id = m_g.m_session_id;
      return encode_status(s);
    }
    return Error("fake: unexpected control IN request", ErrorKind::Device);
  }

  Result<void> control_out(std::uint8_t type, std::uint8_t request, ByteSpan data,
                           Millis) override {
    std::lock_guard lock(m_g.m_mutex);
    TRY(alive());
    if (type != config_exports_request_type || request != config_exports_request)
      return Error("fake: unexpected control OUT request", ErrorKind::Device);
    m_g.m_exports = TRY(decode_config_exports(data));
    ++m_g.m_configs;
    return ok();
  }

  Result<std::optional<Bytes>> interrupt_in(Millis timeout) override {
    std::unique_lock lock(m_g.m_mutex);
    m_g.m_changed.wait_for(lock, timeout,
                           [&] { return !m_g.m_interrupt_in.empty() || !current(); });
    TRY(alive());
    if (m_g.m_interrupt_in.empty())
      return std::optional<Bytes>{};
    Bytes message = std::move(m_g.m_interrupt_in.front());
    m_g.m_interrupt_in.pop_front();
    return std::optional<Bytes>{std::move(message)};
  }

  Result<void> interrupt_out(ByteSpan message, Millis) override {
    std::lock_guard lock(m_g.m_mutex);
    TRY(alive());
    auto response = TRY(decode_response(message));
    if (m_g.m_pending && m_g.m_violation.empty())
      m_g.m_violation = "Response " + std::to_string(response.request_id) +
                        " sent before the payload of " + std::to_string(m_g.m_pending->request_id);
    if (response.op == Op::Read && response.status == status_ok) {
      m_g.m_pending = response;
    } else {
      m_g.m_sent.push_back({response, {}});
      m_g.m_changed.notify_all();
    }
    return ok();
  }

  Result<void> bulk_in(std::span<std::uint8_t> out, Millis) override {
    std::lock_guard lock(m_g.m_mutex);
    TRY(alive());
    if (m_g.m_bulk_in.size() < out.size())
      return Error("fake: bulk IN timed out (" + std::to_string(m_g.m_bulk_in.size()) +
                       " bytes queued, " + std::to_string(out.size()) + " asked)",
                   ErrorKind::Device);
    for (auto& b : out) {
      b = m_g.m_bulk_in.front();
      m_g.m_bulk_in.pop_front();
    }
    m_g.m_bulk_in_consumed += out.size();
    return ok();
  }

  Result<void> bulk_out(ByteSpan data, Millis) override {
    std::lock_guard lock(m_g.m_mutex);
    TRY(alive());
    if (m_g.m_fail_bulk_out_at == 0) {
      // The cable is pulled halfway through this payload.
      m_g.m_fail_bulk_out_at = -1;
      m_g.m_present = false;
      ++m_g.m_generation;
      m_g.m_pending.reset();
      m_g.m_changed.notify_all();
      return Error("fake: bulk OUT: LIBUSB_ERROR_NO_DEVICE after " +
                       std::to_string(data.size() / 2) + " bytes",
                   ErrorKind::Device);
    }
    if (m_g.m_fail_bulk_out_at > 0)
      --m_g.m_fail_bulk_out_at;
    if (!m_g.m_pending) {
      if (m_g.m_violation.empty())
        m_g.m_violation = "a bulk OUT payload with no Response before it";
      return ok();
    }
    const auto& export_entry = m_g.m_exports.empty() ? ExportEntry{} : m_g.m_exports.front();
    const std::uint64_t expected =
        std::uint64_t{m_g.m_pending->num_blocks} * export_entry.block_size;
    if (data.size() != expected && m_g.m_violation.empty())
      m_g.m_violation = "payload of " + std::to_string(data.size()) + " bytes for a Response of " +
                        std::to_string(expected);
    m_g.m_sent.push_back({*m_g.m_pending, Bytes(data.begin(), data.end())});
    m_g.m_pending.reset();
    m_g.m_changed.notify_all();
    return ok();
  }

  std::string describe() const override { return "fake gadget"; }

private:
  bool current() const { return m_g.m_present && m_g.m_generation == m_generation; }
  Result<void> alive() const {
    if (!current())
      return Error("fake: LIBUSB_ERROR_NO_DEVICE", ErrorKind::Device);
    return ok();
  }

  FakeGadget& m_g;
  std::uint64_t m_generation;
};

Result<std::unique_ptr<GadgetLink>> FakeConnector::connect() {
  std::lock_guard lock(m_gadget.m_mutex);
  if (!m_gadget.m_present)
    return std::unique_ptr<GadgetLink>{};
  ++m_gadget.m_connects;
  return std::unique_ptr<GadgetLink>(new FakeLink(m_gadget, m_gadget.m_generation));
}

} // namespace fastboop::smoo::test

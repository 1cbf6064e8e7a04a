// libFuzzer: the protocol driver against arbitrary device responses. The input
// is a list of responses separated by '\n'; the driver runs getvar (cached),
// max-download-size, download and boot against them. Whatever the device
// says, only allow-listed commands may be written and nothing may crash.
#include "fastboot/driver.hpp"
#include "fastboot/sidecar.hpp"

#include <cstdlib>
#include <deque>

namespace {

using namespace fastboop;
using namespace fastboop::fastboot;

class ScriptedTransport final : public Transport {
public:
  explicit ScriptedTransport(std::deque<Bytes> responses) : m_responses(std::move(responses)) {}
  Result<void> write(ByteSpan data, const ProgressFn& progress) override {
    if (progress)
      progress(data.size(), data.size());
    return ok();
  }
  Result<Bytes> read(std::chrono::milliseconds) override {
    if (m_responses.empty())
      return Error("no more responses", ErrorKind::Device);
    Bytes r = std::move(m_responses.front());
    m_responses.pop_front();
    return r;
  }
  std::string describe() const override { return "fuzz"; }

private:
  std::deque<Bytes> m_responses;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::deque<Bytes> responses;
  Bytes current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      responses.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(data[i]);
    }
  }
  responses.push_back(std::move(current));
  ScriptedTransport transport(std::move(responses));
  Driver driver(transport);
  std::size_t messages = 0;
  driver.set_message_handler([&](MessageKind, std::string_view) { ++messages; });
  (void)driver.getvar_cached("product");
  (void)driver.getvar("product");
  const Bytes image(100, 0x5a);
  if (driver.download(image))
    (void)driver.boot();
  for (const auto& cmd : driver.sent_commands())
    if (!command_is_allowed(cmd))
      std::abort();
  // The same bytes as a sidecar document.
  (void)parse_sidecar(as_chars({data, size}), "fuzz.json");
  return 0;
}

// The protocol driver and both network transports against the scripted
// emulator: happy paths, getvar quirks, and every scripted fault. Each test
// also checks the emulator's trace: nothing but getvar/download/boot.
#include "emulator.hpp"
#include "fastboot/driver.hpp"
#include "fastboot/tcp_transport.hpp"
#include "fastboot/udp_transport.hpp"

#include <gmock/gmock.h>

namespace fastboop::fastboot {
namespace {

using test::Emulator;
using ::testing::HasSubstr;

enum class Net { Tcp, Udp };

std::string net_name(const ::testing::TestParamInfo<Net>& info) {
  return info.param == Net::Tcp ? "Tcp" : "Udp";
}

Result<std::unique_ptr<Transport>> open_transport(Net net, const Emulator& emu) {
    if (net == Net::Tcp) {
      auto t = TRY(TcpTransport::connect("127.0.0.1", emu.tcp_port()));
      return std::unique_ptr<Transport>(std::move(t));
    }
    UdpOptions options;
    options.retransmit_interval = std::chrono::milliseconds(40);
    options.max_attempts = 25;
    auto t = TRY(UdpTransport::connect("127.0.0.1", emu.udp_port(), options));
    return std::unique_ptr<Transport>(std::move(t));
}

class DriverTest : public ::testing::TestWithParam<Net> {
protected:
  Result<std::unique_ptr<Transport>> open(const Emulator& emu) { return open_transport(GetParam(), emu); }
  static DriverOptions quick() {
    DriverOptions o;
    o.response_timeout = std::chrono::milliseconds(1000);
    o.slow_response_timeout = std::chrono::milliseconds(1000);
    return o;
  }
  static void expect_only_allowed(const Emulator& emu) {
    for (auto& cmd : emu.commands())
      EXPECT_TRUE(command_is_allowed(cmd)) << "emulator received '" << cmd << "'";
  }
};

const std::vector<std::string> base_vars = {"--var", "max-download-size=0x4000000", "--var", "product=emu"};

std::vector<std::string> with(std::vector<std::string> extra) {
  auto v = base_vars;
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

TEST_P(DriverTest, GetvarReturnsValueAndCachesPerDevice) {
  Emulator emu(base_vars);
  auto t = open(emu);
  ASSERT_TRUE(t) << t.error().message();
  Driver d(**t, quick());
  auto v = d.getvar("product");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v, "emu");
  auto again = d.getvar_cached("product");
  ASSERT_TRUE(again);
  EXPECT_EQ(**again, "emu");
  EXPECT_EQ(emu.commands(), std::vector<std::string>{"getvar:product"});
}

TEST_P(DriverTest, GetvarFailIsQuotedAndCachedAsMissing) {
  Emulator emu(base_vars);
  auto t = open(emu);
  ASSERT_TRUE(t) << t.error().message();
  Driver d(**t, quick());
  auto v = d.getvar("nonexistent");
  ASSERT_FALSE(v);
  EXPECT_THAT(v.error().message(), HasSubstr("'GetVar Variable Not found'"));
  auto cached = d.getvar_cached("nonexistent");
  ASSERT_TRUE(cached);
  EXPECT_TRUE(getvar_is_missing(*cached));
  // Upstream re-sends a failed getvar for every profile; we cache the FAIL.
  EXPECT_EQ(emu.commands().size(), 1u);
}

TEST_P(DriverTest, EmptyAndUnknownAnswersAreMissing) {
  for (const char* mode : {"empty", "unknown"}) {
    Emulator emu(with({"--unknown-var", mode}));
    auto t = open(emu);
    ASSERT_TRUE(t) << t.error().message();
    Driver d(**t, quick());
    auto answer = d.getvar_cached("serialno");
    ASSERT_TRUE(answer) << answer.error().message();
    ASSERT_TRUE(answer->has_value());
    EXPECT_TRUE(getvar_is_missing(*answer)) << mode;
  }
}

TEST_P(DriverTest, DownloadAndBootWithInfoAndTextFlood) {
  Emulator emu(with({"--info-flood", "40", "--text-flood", "3"}));
  auto t = open(emu);
  ASSERT_TRUE(t) << t.error().message();
  Driver d(**t, quick());
  int info = 0, text = 0;
  d.set_message_handler([&](MessageKind kind, std::string_view) { (kind == MessageKind::Info ? info : text)++; });
  auto image = test::random_bytes(300000, 7);
  std::uint64_t last_progress = 0;
  auto r = d.download(image, [&](std::uint64_t sent, std::uint64_t total) {
    EXPECT_EQ(total, image.size());
    EXPECT_GE(sent, last_progress);
    last_progress = sent;
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(last_progress, image.size());
  ASSERT_TRUE(d.boot());
  // 3 commands answered, one data phase: 4 floods of 40 INFO (+1 from boot).
  EXPECT_EQ(info, 4 * 40 + 1);
  EXPECT_EQ(text, 4 * 3);
  EXPECT_EQ(emu.commands(),
            (std::vector<std::string>{"getvar:max-download-size", "download:000493e0", "boot"}));
  auto trace = emu.trace();
  EXPECT_NE(std::find(trace.begin(), trace.end(), "DATA 300000 fnv1a=" + test::fnv1a_hex(image)), trace.end());
}

TEST_P(DriverTest, ImageLargerThanMaxDownloadSizeFailsBeforeAnyByte) {
  Emulator emu({"--var", "max-download-size=4096"});
  auto t = open(emu);
  ASSERT_TRUE(t) << t.error().message();
  Driver d(**t, quick());
  auto image = test::random_bytes(5000, 1);
  auto r = d.download(image);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("5000 bytes"));
  EXPECT_THAT(r.error().message(), HasSubstr("4096 bytes"));
  EXPECT_EQ(emu.commands(), std::vector<std::string>{"getvar:max-download-size"});
}

TEST_P(DriverTest, DecimalMaxDownloadSizeAsQualcommSendsIt) {
  Emulator emu({"--var", "max-download-size=536870912"});
  auto t = open(emu);
  ASSERT_TRUE(t) << t.error().message();
  Driver d(**t, quick());
  auto size = d.max_download_size();
  ASSERT_TRUE(size);
  EXPECT_EQ(size->value_or(0), 536870912u);
}

struct Fault {
  const char* name;
  const char* expected; // substring of the error
  enum Stage { Download, Boot } stage;
};

void run_fault(Net net, const Fault& fault) {
  Emulator emu(with({"--fault", fault.name}));
  auto t = open_transport(net, emu);
  if (!t) {
    // Handshake-level faults fail while opening.
    EXPECT_THAT(t.error().message(), HasSubstr(fault.expected)) << fault.name;
    return;
  }
  DriverOptions o;
  o.response_timeout = std::chrono::milliseconds(600);
  o.slow_response_timeout = std::chrono::milliseconds(600);
  Driver d(**t, o);
  auto image = test::random_bytes(100000, 3);
  auto r = d.download(image);
  if (r && fault.stage == Fault::Boot)
    r = d.boot();
  ASSERT_FALSE(r) << fault.name << " did not fail";
  EXPECT_THAT(r.error().message(), HasSubstr(fault.expected)) << fault.name;
  for (auto& cmd : emu.commands())
    EXPECT_TRUE(command_is_allowed(cmd)) << cmd;
}

TEST_P(DriverTest, EveryScriptedFaultIsAClearError) {
  const bool tcp = GetParam() == Net::Tcp;
  std::vector<Fault> faults = {
      {"fail-download", "FAILED (remote: 'download refused by script')", Fault::Download},
      {"fail-boot", "'boot' FAILED (remote: 'boot refused by script')", Fault::Boot},
      {"malformed", "malformed response 'OK'", Fault::Download},
      {"bad-status", "unknown response status 'WHAT'", Fault::Download},
      {"wrong-data-size", "device asked for 100001 bytes", Fault::Download},
      {"okay-before-data", "OKAY instead of DATA", Fault::Download},
      {"silence-getvar", tcp ? "timed out" : "no answer from the device", Fault::Download},
      {"silence-boot", tcp ? "timed out" : "no answer from the device", Fault::Boot},
      {"disconnect-download", tcp ? "closed the connection" : "no answer from the device", Fault::Download},
      {"oversized", tcp ? "exceeds the 4096-byte limit" : "response of more than 4096 bytes", Fault::Download},
  };
  if (tcp)
    faults.push_back({"bad-handshake", "not 'FBnn'", Fault::Download});
  else
    faults.push_back({"data-out-of-turn", "out of turn", Fault::Download});
  for (auto& f : faults) {
    SCOPED_TRACE(f.name);
    run_fault(GetParam(), f);
  }
}

INSTANTIATE_TEST_SUITE_P(Net, DriverTest, ::testing::Values(Net::Tcp, Net::Udp), net_name);

TEST(UdpTransport, SurvivesLostAndDuplicatedPackets) {
  Emulator emu(with({"--udp-drop-every", "7", "--udp-dup-every", "5", "--udp-drop-reply-every", "9", "--udp-max-packet", "1024"}));
  UdpOptions options;
  options.retransmit_interval = std::chrono::milliseconds(20);
  options.max_attempts = 50;
  auto t = UdpTransport::connect("127.0.0.1", emu.udp_port(), options);
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ((*t)->packet_size(), 1024);
  Driver d(**t);
  auto image = test::random_bytes(60000, 11);
  auto r = d.download(image);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(d.boot());
  auto trace = emu.trace();
  EXPECT_NE(std::find(trace.begin(), trace.end(), "DATA 60000 fnv1a=" + test::fnv1a_hex(image)), trace.end());
  EXPECT_GT(std::count_if(trace.begin(), trace.end(), [](auto& l) { return l.rfind("UDP drop", 0) == 0; }), 0);
  EXPECT_GT(std::count_if(trace.begin(), trace.end(), [](auto& l) { return l.rfind("UDP retransmit", 0) == 0; }), 0);
  EXPECT_EQ(emu.commands(), (std::vector<std::string>{"getvar:max-download-size", "download:0000ea60", "boot"}));
}

TEST(UdpTransport, UnreachableDeviceGivesUpAfterBoundedRetries) {
  UdpOptions options;
  options.retransmit_interval = std::chrono::milliseconds(20);
  // Port 9 (discard) on loopback: nobody answers.
  auto t = UdpTransport::connect("127.0.0.1", 9, options);
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error().message(), HasSubstr("query: no answer from the device after 4 attempts"));
}

TEST(AllowList, OnlyGetvarDownloadBoot) {
  EXPECT_TRUE(command_is_allowed("getvar:product"));
  EXPECT_TRUE(command_is_allowed("getvar:partition-size:userdata"));
  EXPECT_TRUE(command_is_allowed("download:0004a000"));
  EXPECT_TRUE(command_is_allowed("boot"));
  for (const char* bad : {"flash:boot", "erase:userdata", "format:userdata", "set_active:a", "oem unlock",
                          "flashing unlock", "reboot", "reboot-bootloader", "continue", "getvar:", "getvar:a\nb",
                          "download:0004A000", "download:4a000", "download:0004a0000", "boot ", "bootx",
                          "getvar:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
    EXPECT_FALSE(command_is_allowed(bad)) << bad;
}

TEST(AllowList, GetvarNamesAreValidatedBeforeAnyByteIsSent) {
  Emulator emu(base_vars);
  auto t = TcpTransport::connect("127.0.0.1", emu.tcp_port());
  ASSERT_TRUE(t);
  Driver d(**t);
  EXPECT_FALSE(d.getvar("x\nflash:boot"));
  EXPECT_FALSE(d.getvar(""));
  EXPECT_FALSE(d.getvar(std::string(60, 'a')));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(SizeParsing, AospRules) {
  EXPECT_EQ(parse_size_value("0x10000000"), 0x10000000u);
  EXPECT_EQ(parse_size_value(" 536870912 \n"), 536870912u);
  EXPECT_EQ(parse_size_value(std::string("0X20\0\0", 6)), 0x20u);
  EXPECT_FALSE(parse_size_value("12abc"));
  EXPECT_FALSE(parse_size_value(""));
  EXPECT_FALSE(parse_size_value("0x"));
  EXPECT_TRUE(getvar_is_missing(std::nullopt));
  EXPECT_TRUE(getvar_is_missing(std::string(" ")));
  EXPECT_TRUE(getvar_is_missing(std::string("UnKnown")));
  EXPECT_FALSE(getvar_is_missing(std::string("0")));
}

} // namespace
} // namespace fastboop::fastboot

// Which attached gadget the libusb connector picks (usb_link.hpp):
// -s names one by port path or serial; otherwise the bootloader's port wins,
// else the first by port path.
#include "smoo/usb_link.hpp"

#include <gtest/gtest.h>

using namespace fastboop::smoo;

namespace {

GadgetInfo gadget(std::string port, std::string serial) {
  GadgetInfo g;
  g.port_path = std::move(port);
  g.serial = std::move(serial);
  return g;
}

const std::vector<GadgetInfo> attached = {gadget("1-1", "AAA"), gadget("1-2.3", "BBB"),
                                          gadget("3-4", "")};

} // namespace

TEST(SmooUsbSelect, DashSNamesAPortPathOrASerial) {
  EXPECT_EQ(choose_gadget(attached, std::string("usb:1-2.3"), std::nullopt)->serial, "BBB");
  EXPECT_EQ(choose_gadget(attached, std::string("AAA"), std::string("3-4"))->port_path, "1-1");
  EXPECT_FALSE(choose_gadget(attached, std::string("usb:9-9"), std::nullopt));
  // An empty serial never matches a selector.
  EXPECT_FALSE(choose_gadget(attached, std::string(""), std::nullopt));
}

TEST(SmooUsbSelect, TheBootloadersPortIsPreferred) {
  EXPECT_EQ(choose_gadget(attached, std::nullopt, std::string("3-4"))->port_path, "3-4");
  // Not attached there (yet): the first one.
  EXPECT_EQ(choose_gadget(attached, std::nullopt, std::string("2-1"))->port_path, "1-1");
  EXPECT_EQ(choose_gadget(attached, std::nullopt, std::nullopt)->port_path, "1-1");
  EXPECT_FALSE(choose_gadget({}, std::nullopt, std::string("1-1")));
}

TEST(SmooUsbSelect, ANetworkSelectorIsAUsageError) {
  auto r = UsbGadgetConnector::create(std::string("tcp:1.2.3.4"), std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), fastboop::ErrorKind::Usage);
}

// DTB search order, libfdt overlays (checked with fdtget), MAC vectors.
#include "stage0/dtb.hpp"

#include "stage0_fixtures.hpp"

#include <cstdio>
#include <sstream>

namespace fastboop::stage0 {
namespace {

using fastboop::test::TempDir;
using test::put;

Bytes dtc(const std::string& source) {
  auto r = compile_dts(as_bytes(source), "test.dts");
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : Bytes{};
}

std::string fdtget(const std::filesystem::path& dtb, const std::string& type, const std::string& node_prop) {
  auto out = fastboop::test::sh("fdtget -t " + type + " '" + dtb.string() + "' " + node_prop + " 2>&1");
  std::string s(as_chars(out.out));
  while (!s.empty() && s.back() == '\n')
    s.pop_back();
  return s;
}

TEST(Dtb, SearchOrderFirstLayoutWins) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  TempDir dir;
  Bytes a = dtc("/dts-v1/; / { model = \"debian\"; };");
  Bytes b = dtc("/dts-v1/; / { model = \"fedora\"; };");
  put(dir / "usr/lib/linux-image-6.1/qcom/x-y.dtb", a);
  put(dir / "usr/lib/modules/6.1/dtb/qcom/x-y.dtb", b);
  auto fsys = filesystems::open_host_directory(dir.path().string());
  ASSERT_TRUE(fsys);
  auto found = select_dtb(**fsys, "/qcom/x-y", "6.1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->path, "/usr/lib/linux-image-6.1/qcom/x-y.dtb");
  put(dir / "boot/dtbs/6.1/qcom/x-y.dtb", b);
  found = select_dtb(**fsys, "qcom/x-y", "6.1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, "/boot/dtbs/6.1/qcom/x-y.dtb");
  auto missing = select_dtb(**fsys, "qcom/none", "6.1");
  ASSERT_FALSE(missing);
  for (const auto& c : dtb_candidates("qcom/none", "6.1"))
    EXPECT_NE(missing.error().message().find(c), std::string::npos) << c;
}

// Every distro layout, walked in order: with a DTB at each candidate, the
// first one present wins; removing it exposes the next. Covers Fedora's
// /boot/dtb-<kver> and Ubuntu's /lib/firmware/<kver>/device-tree.
TEST(Dtb, SearchOrderOverEveryLayout) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  TempDir dir;
  const std::vector<std::string> expected = {
      "/boot/dtbs/6.1/qcom/x-y.dtb",
      "/boot/dtbs/qcom/x-y.dtb",
      "/boot/dtb-6.1/qcom/x-y.dtb",
      "/boot/dtb/qcom/x-y.dtb",
      "/boot/qcom/x-y.dtb",
      "/usr/lib/linux-image-6.1/qcom/x-y.dtb",
      "/usr/lib/modules/6.1/dtb/qcom/x-y.dtb",
      "/lib/modules/6.1/dtb/qcom/x-y.dtb",
      "/lib/firmware/6.1/device-tree/qcom/x-y.dtb",
      "/usr/lib/firmware/6.1/device-tree/qcom/x-y.dtb",
      "/lib/firmware/qcom/x-y.dtb",
      "/usr/lib/firmware/qcom/x-y.dtb",
  };
  EXPECT_EQ(dtb_candidates("qcom/x-y", "6.1"), expected);
  for (std::size_t i = 0; i < expected.size(); ++i)
    put(dir / expected[i].substr(1), dtc("/dts-v1/; / { model = \"" + std::to_string(i) + "\"; };"));
  auto fsys = filesystems::open_host_directory(dir.path().string());
  ASSERT_TRUE(fsys);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto found = select_dtb(**fsys, "qcom/x-y", "6.1");
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->path, expected[i]);
    EXPECT_EQ(found->bytes, dtc("/dts-v1/; / { model = \"" + std::to_string(i) + "\"; };")) << expected[i];
    std::filesystem::remove(dir / expected[i].substr(1));
  }
  EXPECT_FALSE(select_dtb(**fsys, "qcom/x-y", "6.1"));
  // Another kernel's per-version directories do not match.
  put(dir / "lib/firmware/6.2/device-tree/qcom/x-y.dtb", dtc("/dts-v1/; / { };"));
  put(dir / "boot/dtb-6.2/qcom/x-y.dtb", dtc("/dts-v1/; / { };"));
  EXPECT_FALSE(select_dtb(**fsys, "qcom/x-y", "6.1"));
  // A directory where the DTB should be is skipped, not read.
  std::filesystem::create_directories(dir / "boot/dtbs/6.1/qcom/x-y.dtb");
  put(dir / "lib/firmware/6.1/device-tree/qcom/x-y.dtb", dtc("/dts-v1/; / { model = \"fw\"; };"));
  auto found = select_dtb(**fsys, "qcom/x-y", "6.1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->path, "/lib/firmware/6.1/device-tree/qcom/x-y.dtb");
}

TEST(Dtb, OverlayWithLabelFixupsAndLocalPhandles) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("fdtget");
  TempDir dir;
  Bytes base = dtc(R"(/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  soc: soc { #address-cells = <1>; #size-cells = <1>;
    intc: interrupt-controller@100 { reg = <0x100 0x10>; interrupt-controller; #interrupt-cells = <1>; };
    usb: usb@200 { reg = <0x200 0x10>; status = "disabled"; dr_mode = "host"; };
  };
};)");
  // Targets by label (__fixups__), references the base's &intc (a fixup
  // inside the overlay), and a node-local phandle (&ovl_phy, __local_fixups__)
  // whose number collides with the base's and must be renumbered.
  std::string overlay = R"(/dts-v1/;
/plugin/;
&usb {
  status = "okay";
  dr_mode = "peripheral";
  interrupt-parent = <&intc>;
  phys = <&ovl_phy>;
  ovl_phy: phy { #phy-cells = <0>; compatible = "test,phy"; };
};
&{/} { added-by-overlay = "yes"; };
)";
  Bytes ov = dtc(overlay);
  auto merged = apply_overlays(base, {ov}, {"usb.dtso"});
  ASSERT_TRUE(merged) << merged.error().message();
  fastboop::test::write_file(dir / "m.dtb", *merged);
  EXPECT_EQ(fdtget(dir / "m.dtb", "s", "/soc/usb@200 status"), "okay");
  EXPECT_EQ(fdtget(dir / "m.dtb", "s", "/soc/usb@200 dr_mode"), "peripheral");
  EXPECT_EQ(fdtget(dir / "m.dtb", "s", "/ added-by-overlay"), "yes");
  std::string intc = fdtget(dir / "m.dtb", "u", "/soc/interrupt-controller@100 phandle");
  EXPECT_EQ(fdtget(dir / "m.dtb", "u", "/soc/usb@200 interrupt-parent"), intc);
  std::string phy = fdtget(dir / "m.dtb", "u", "/soc/usb@200/phy phandle");
  EXPECT_EQ(fdtget(dir / "m.dtb", "u", "/soc/usb@200 phys"), phy);
  EXPECT_NE(phy, intc);
  ASSERT_TRUE(validate_dtb(*merged, "merged"));

  // Upstream rejected `target` phandles and ignored __fixups__ (spec §2.8);
  // libfdt needs the base's __symbols__, and says so when they are missing.
  auto no_symbols = run_process({"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"},
                                as_bytes("/dts-v1/; / { soc { usb@200 { }; }; };"));
  ASSERT_TRUE(no_symbols);
  auto fail = apply_overlays(no_symbols->out, {ov}, {"usb.dtso"});
  ASSERT_FALSE(fail);
  EXPECT_NE(fail.error().message().find("usb.dtso"), std::string::npos) << fail.error().message();
}

TEST(Dtb, MacVectorsFromSpec) {
  auto hex = [](const std::array<std::uint8_t, 6>& m) { return to_hex(ByteSpan(m.data(), m.size())); };
  EXPECT_EQ(hex(mac_from_seed("serial-1", "wifi", "qcom,wcn3990-wifi")), "9633b99a1d5d");
  EXPECT_EQ(hex(mac_from_seed("serial-1", "bluetooth", "qcom,wcn3990-bt")), "aa8bb23f1f1d");
  EXPECT_EQ(hex(mac_from_seed("0", "wifi", "qcom,wcn3990-wifi")), "4e508b04a94b");
  EXPECT_EQ(hex(mac_from_seed("ABCDEF0123", "wifi", "qcom,wcn3990-wifi")), "926fe7a53654");
}

// fdtget -t bx prints bytes without leading zeros; pad them back.
std::string padded_bytes(const std::string& fdtget_out) {
  std::istringstream in(fdtget_out);
  std::string out, word;
  while (in >> word) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%02lx", std::stoul(word, nullptr, 16));
    out += (out.empty() ? "" : " ") + std::string(buf);
  }
  return out;
}

TEST(Dtb, MacInjectionIntoTree) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("fdtget");
  TempDir dir;
  Bytes tree = dtc(R"(/dts-v1/;
/ { soc@0 {
  serial@1 { bluetooth { compatible = "qcom,wcn3990-bt"; }; };
  wifi@18800000 { compatible = "qcom,wcn3990-wifi"; local-mac-address = [00 00 00 00 00 00]; };
  wifi@2 { compatible = "qcom,wcn3990-wifi"; };
}; };)");
  struct Case {
    const char* seed;
    const char* wifi;
    const char* bd;
  };
  for (const Case& c : {Case{"serial-1", "96 33 b9 9a 1d 5d", "1d 1f 3f b2 8b aa"},
                        Case{"0", "4e 50 8b 04 a9 4b", "01 8b 10 2a 1b 12"},
                        Case{"ABCDEF0123", "92 6f e7 a5 36 54", "a8 3e 0d 98 f3 8e"}}) {
    auto out = inject_mac(tree, {"qcom,wcn3990-wifi", "qcom,wcn3990-bt"}, c.seed);
    ASSERT_TRUE(out) << out.error().message();
    fastboop::test::write_file(dir / "m.dtb", *out);
    EXPECT_EQ(padded_bytes(fdtget(dir / "m.dtb", "bx", "/soc@0/wifi@18800000 local-mac-address")),
              c.wifi) << c.seed;
    EXPECT_EQ(padded_bytes(fdtget(dir / "m.dtb", "bx", "/soc@0/serial@1/bluetooth local-bd-address")), c.bd) << c.seed;
    // Only the first matching node (pre-order) is changed.
    EXPECT_NE(fdtget(dir / "m.dtb", "bx", "/soc@0/wifi@2 local-mac-address").find("FDT_ERR_NOTFOUND"),
              std::string::npos);
  }
  auto missing = inject_mac(tree, {"vendor,nothing", std::nullopt}, "0");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "inject_mac wifi compatible not found: vendor,nothing");
}

} // namespace
} // namespace fastboop::stage0

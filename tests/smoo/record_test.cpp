// The `rootfs` record stage0.json carries (and fastboop-bootimg copies into
// boot.img.json): which root the PID1 mounts and who provides it.
#include "fastboot/sidecar.hpp"
#include "stage0/build.hpp"

#include <gtest/gtest.h>

using namespace fastboop;

namespace {

nlohmann::json record_of(const stage0::Stage0Result& r) {
  return stage0::stage0_manifest(r, "dev", {})["rootfs"];
}

} // namespace

TEST(SmooRootfsRecord, AnImageServedOverSmooIsIdentified) {
  stage0::Stage0Result r;
  r.rootfs = stage0::RootfsIdentity{"/srv/root.img", "file{path=len:13:/srv/root.img;}", 8192,
                                    std::string(128, 'c')};
  const auto j = record_of(r);
  EXPECT_EQ(j["transport"], "smoo");
  EXPECT_EQ(j["source"], "/srv/root.img");
  EXPECT_EQ(j["pipeline"], "file{path=len:13:/srv/root.img;}");
  EXPECT_EQ(j["size"], 8192);
  EXPECT_EQ(j["sha512"], std::string(128, 'c'));
  EXPECT_FALSE(j.contains("device"));
  // The pusher reads back what stage0 wrote.
  auto sidecar = fastboot::parse_sidecar(
      R"({"device_profile": {"id": "dev"}, "rootfs": )" + j.dump() + "}", "x.json");
  ASSERT_TRUE(sidecar) << sidecar.error().message();
  EXPECT_EQ(sidecar->rootfs->size, 8192u);
  EXPECT_EQ(sidecar->rootfs->sha512, std::string(128, 'c'));
}

TEST(SmooRootfsRecord, AnUnknownDigestIsNull) {
  stage0::Stage0Result r;
  r.rootfs = stage0::RootfsIdentity{"https://x/r.img", "http{…}", 4096, std::nullopt};
  const auto j = record_of(r);
  EXPECT_TRUE(j["sha512"].is_null());
  auto sidecar = fastboot::parse_sidecar(
      R"({"device_profile": {"id": "dev"}, "rootfs": )" + j.dump() + "}", "x.json");
  ASSERT_TRUE(sidecar) << sidecar.error().message();
  EXPECT_FALSE(sidecar->rootfs->sha512);
}

TEST(SmooRootfsRecord, ALocalRootDeviceIsNotServed) {
  stage0::Stage0Result r;
  r.settings["stage0.root_device"] = "/dev/mmcblk1p2";
  r.rootfs = stage0::RootfsIdentity{"/srv/root.img", "file{…}", 4096, std::nullopt};
  const auto j = record_of(r);
  EXPECT_EQ(j["transport"], "local");
  EXPECT_EQ(j["device"], "/dev/mmcblk1p2");
}

TEST(SmooRootfsRecord, ADirectoryIsNamedWithoutAnImageIdentity) {
  stage0::Stage0Result r;
  r.rootfs = stage0::RootfsIdentity{"/srv/rootdir", {}, 0, std::nullopt};
  const auto j = record_of(r);
  EXPECT_EQ(j["source"], "/srv/rootdir");
  EXPECT_FALSE(j.contains("pipeline"));
  auto sidecar = fastboot::parse_sidecar(
      R"({"device_profile": {"id": "dev"}, "rootfs": )" + j.dump() + "}", "x.json");
  ASSERT_TRUE(sidecar) << sidecar.error().message();
  EXPECT_TRUE(sidecar->rootfs->pipeline.empty());
}

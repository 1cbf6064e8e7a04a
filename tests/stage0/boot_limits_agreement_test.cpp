// ## Show that fastboop-stage0's boot-image limit check and fastboop-bootimg's
// packer agree: on every built-in Device Profile, with every kernel encoding,
// with and without the Samsung footer and the DTB in `second`, an output that
// stage0 accepts is one the packer accepts, and the other way round. stage0
// used to estimate the size itself and left out the v2 DTB section of "+dtb"
// encodings, the second section and the footer (issue 22).
#include "bootimg/devpro.hpp"
#include "bootimg/kernel_encoding.hpp"
#include "profiles/profiles.hpp"
#include "result_matchers.hpp"
#include "stage0/build.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fastboop::stage0 {
namespace {

using ::testing::HasSubstr;
using test::FailedWithMessage;
using test::Succeeded;

// A kernel that starts with the encoding's magic, so the packer takes it.
Bytes kernel_for(profiles::KernelEncoding e) {
  Bytes k = test::random_bytes(10007, 21);
  const std::string_view magic = bootimg::kernel_encoding_info(e).magic;
  std::copy(magic.begin(), magic.end(), reinterpret_cast<char*>(k.data()));
  return k;
}

struct Variant {
  profiles::DeviceProfile profile;
  std::string label;
};

std::vector<Variant> variants() {
  auto loaded = profiles::builtin_device_profiles();
  EXPECT_THAT(loaded, Succeeded());
  std::vector<Variant> out;
  if (!loaded)
    return out;
  for (const auto& l : *loaded)
    for (const auto& enc : bootimg::kernel_encodings())
      for (bool footer : {false, true})
        for (bool second : {false, true}) {
          Variant v{l.profile, l.profile.id + " " + std::string(enc.name) + (footer ? " +footer" : "") +
                                   (second ? " +dtb_in_second" : "")};
          v.profile.boot.kernel_encoding = enc.encoding;
          v.profile.boot.extensions.samsung_seandroidenforce = footer;
          v.profile.boot.extensions.dtb_in_second = second;
          v.profile.boot.limits.reset();
          out.push_back(std::move(v));
        }
  return out;
}

struct Payload {
  Bytes kernel, dtb = test::random_bytes(3001, 22), initrd = test::random_bytes(7003, 23);
  Stage0Result result(profiles::KernelEncoding e) const {
    Stage0Result r;
    r.kernel = kernel;
    r.dtb = dtb;
    r.initrd = initrd;
    r.encoding = e;
    return r;
  }
  bootimg::DevproInputs inputs() const {
    bootimg::DevproInputs in;
    in.kernel = kernel;
    in.dtb = ByteSpan(dtb);
    in.ramdisk = initrd;
    return in;
  }
};

TEST(BootLimitsAgreement, Stage0AndThePackerAgreeOnEveryBuiltInProfileAndEncoding) {
  int compared = 0;
  for (auto& v : variants()) {
    SCOPED_TRACE(v.label);
    Payload p{kernel_for(v.profile.boot.kernel_encoding)};
    const auto plan = bootimg::plan_devpro_image(v.profile, p.inputs());
    if (!plan)
      continue; // a rule other than the limits refuses this combination
    ++compared;
    const std::uint64_t total = plan->image_size, kernel = plan->args.kernel.size();
    const auto r = p.result(v.profile.boot.kernel_encoding);
    // The size plan is the packer's layout, byte for byte.
    const auto sizes = bootimg::plan_boot_image_sizes(v.profile, p.kernel.size(), p.dtb.size(), p.initrd.size());
    ASSERT_THAT(sizes, Succeeded());
    EXPECT_EQ(sizes->total, total);
    EXPECT_EQ(sizes->kernel, kernel);
    auto limited = [&](profiles::BootLimits l) {
      profiles::DeviceProfile d = v.profile;
      d.boot.limits = l;
      return d;
    };
    // At the limit both accept; one byte under it both refuse, naming the limit.
    const std::uint64_t initrd = p.initrd.size();
    const std::optional<std::uint64_t> none;
    for (const auto& d : {limited({none, none, total}), limited({kernel, none, none}), limited({none, initrd, none})}) {
      EXPECT_THAT(bootimg::plan_devpro_image(d, p.inputs()), Succeeded());
      EXPECT_THAT(check_boot_limits(d, r, OutputSet::All), Succeeded());
    }
    const std::pair<profiles::DeviceProfile, std::string> over[] = {
        {limited({none, none, total - 1}), "max_total_bytes = " + std::to_string(total - 1)},
        {limited({kernel - 1, none, none}), "max_kernel_bytes = " + std::to_string(kernel - 1)},
        {limited({none, initrd - 1, none}), "max_initrd_bytes = " + std::to_string(initrd - 1)}};
    for (const auto& [d, field] : over) {
      EXPECT_THAT(bootimg::plan_devpro_image(d, p.inputs()), FailedWithMessage(HasSubstr(field)));
      EXPECT_THAT(check_boot_limits(d, r, OutputSet::All), FailedWithMessage(HasSubstr(field)));
    }
  }
  // v2 profiles take every encoding, so each +dtb encoding on v2 is among them.
  EXPECT_GE(compared, 32);
}

TEST(BootLimitsAgreement, WithoutTheKernelOnlyTheInitramfsLimitIsChecked) {
  Payload p{kernel_for(profiles::KernelEncoding::ImageGz)};
  auto d = profiles::builtin_device_profiles()->front().profile;
  d.boot.limits = profiles::BootLimits{1, std::nullopt, 1};
  Stage0Result r = p.result(d.boot.kernel_encoding);
  r.kernel.clear();
  EXPECT_THAT(check_boot_limits(d, r, OutputSet::InitrdOnly), Succeeded());
  d.boot.limits = profiles::BootLimits{std::nullopt, 100, std::nullopt};
  EXPECT_THAT(check_boot_limits(d, r, OutputSet::InitrdOnly),
              FailedWithMessage(HasSubstr("max_initrd_bytes = 100")));
}

} // namespace
} // namespace fastboop::stage0

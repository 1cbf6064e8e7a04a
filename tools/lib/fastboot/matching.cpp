#include "fastboot/matching.hpp"

#include "profiles/profiles.hpp"

namespace fastboop::fastboot {

namespace {
const char* op_name(profiles::ProbeOp op) {
  switch (op) {
  case profiles::ProbeOp::Equals:
    return "equals";
  case profiles::ProbeOp::StartsWith:
    return "starts_with";
  case profiles::ProbeOp::NotEquals:
    return "not_equals";
  case profiles::ProbeOp::Exists:
    return "exists";
  case profiles::ProbeOp::NotExists:
    return "not_exists";
  }
  return "?";
}
} // namespace

std::string describe_step(const profiles::ProbeStep& step) {
  std::string text = "getvar:" + step.var + " " + op_name(step.op);
  if (step.op == profiles::ProbeOp::Equals || step.op == profiles::ProbeOp::StartsWith ||
      step.op == profiles::ProbeOp::NotEquals)
    text += " '" + step.value + "'";
  return text;
}

bool usb_prefilter_passes(const profiles::DeviceProfile& profile, const Candidate& candidate) {
  if (candidate.is_network())
    return true;
  if (!candidate.usb)
    return false;
  for (const auto& m : profile.match)
    if (m.vid == candidate.usb->vid && m.pid == candidate.usb->pid)
      return true;
  return false;
}

Result<ProfileVerdict> evaluate_profile(Driver& driver, const profiles::DeviceProfile& profile) {
  ProfileVerdict verdict;
  verdict.profile_id = profile.id;
  verdict.display_name = profile.display_name.value_or("unknown");
  for (const auto& step : profile.probe) {
    auto answer = TRY_CTX(driver.getvar_cached(step.var), "probing profile '" + profile.id + "'");
    if (!profiles::probe_step_passes(step, answer)) {
      verdict.detail = "probe " + describe_step(step) + " failed: device answered " +
                       (answer ? "'" + *answer + "'" : std::string("FAIL"));
      return verdict;
    }
  }
  verdict.passed = true;
  return verdict;
}

Result<std::vector<ProfileVerdict>> match_profiles(Driver& driver, const Candidate& candidate,
                                                   const std::vector<profiles::DeviceProfile>& pool) {
  std::vector<ProfileVerdict> verdicts;
  for (const auto& profile : pool) {
    if (!usb_prefilter_passes(profile, candidate))
      continue;
    verdicts.push_back(TRY(evaluate_profile(driver, profile)));
  }
  return verdicts;
}

} // namespace fastboop::fastboot

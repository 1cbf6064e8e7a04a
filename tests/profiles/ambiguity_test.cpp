// The ambiguity check: overlapping match sets whose probes cannot tell the
// profiles apart.
#include "profiles/tooling.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop::profiles;
using ::testing::HasSubstr;

namespace {
DeviceProfile make(const std::string& id, std::vector<ProbeStep> probe, std::uint16_t pid = 0xd00d) {
  DeviceProfile p;
  p.id = id;
  p.match = {{0x18d1, pid}};
  p.probe = std::move(probe);
  return p;
}
ProbeStep eq(std::string var, std::string v) { return {ProbeOp::Equals, std::move(var), std::move(v)}; }
ProbeStep sw(std::string var, std::string v) { return {ProbeOp::StartsWith, std::move(var), std::move(v)}; }
ProbeStep ne(std::string var, std::string v) { return {ProbeOp::NotEquals, std::move(var), std::move(v)}; }
ProbeStep ex(std::string var) { return {ProbeOp::Exists, std::move(var), {}}; }
ProbeStep nx(std::string var) { return {ProbeOp::NotExists, std::move(var), {}}; }

bool ambiguous(const DeviceProfile& a, const DeviceProfile& b) { return !find_ambiguities({a, b}).empty(); }
} // namespace

TEST(Ambiguity, EnchiladaFajitaAxolotl) {
  auto enchilada = make("oneplus-enchilada", {eq("product", "sdm845"), eq("partition-type:op2", "raw")});
  auto fajita = make("oneplus-fajita", {eq("product", "sdm845"), eq("partition-type:op2", "raw")});
  auto axolotl = make("shift-axolotl", {sw("serialno", "S6MQ"), eq("product", "sdm845")});
  auto found = find_ambiguities({fajita, axolotl, enchilada});
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].first, "oneplus-enchilada");
  EXPECT_EQ(found[0].second, "oneplus-fajita");
  EXPECT_EQ(found[0].reason, "both match USB 18d1:d00d and their probes accept exactly the same devices; a device "
                             "answering getvar product=\"sdm845\", partition-type:op2=\"raw\" passes both");
  // Partial overlap: an axolotl whose bootloader also answers op2=raw passes
  // the OnePlus probes too, so probing alone cannot choose.
  EXPECT_EQ(found[1].first, "oneplus-enchilada");
  EXPECT_EQ(found[1].second, "shift-axolotl");
  EXPECT_EQ(found[1].reason, "both match USB 18d1:d00d and their probes overlap; a device answering getvar "
                             "product=\"sdm845\", partition-type:op2=\"raw\", serialno=\"S6MQ\" passes both");
  EXPECT_EQ(found[2].first, "oneplus-fajita");
  EXPECT_EQ(found[2].second, "shift-axolotl");
}

// The real built-ins: which pairs are reported, and nothing else.
TEST(Ambiguity, BuiltinReport) {
  auto builtins = builtin_device_profiles();
  ASSERT_TRUE(builtins.ok()) << builtins.error().message();
  std::vector<DeviceProfile> profiles;
  for (const auto& b : *builtins)
    profiles.push_back(b.profile);
  std::vector<std::string> pairs;
  for (const auto& a : find_ambiguities(profiles))
    pairs.push_back(a.first + " " + a.second);
  EXPECT_THAT(pairs, ::testing::ElementsAre("oneplus-enchilada oneplus-fajita", "oneplus-enchilada shift-axolotl",
                                            "oneplus-fajita shift-axolotl",
                                            "xiaomi-beryllium-ebbg xiaomi-beryllium-tianma"));
  // Issue 16 item 4: every one is declared by both profiles, with the reason.
  for (const auto& a : find_ambiguities(profiles))
    EXPECT_FALSE(a.known.empty()) << a.first << " " << a.second;
}

TEST(Ambiguity, AKnownOverlapNeedsBothProfilesIssue16Item4) {
  auto a = make("a", {eq("product", "x")});
  auto b = make("b", {eq("product", "x")});
  a.known_overlaps = {{"b", "same board"}};
  EXPECT_EQ(find_ambiguities({a, b})[0].known, "");
  b.known_overlaps = {{"a", "same board"}};
  EXPECT_EQ(find_ambiguities({a, b})[0].known, "same board");
  b.known_overlaps = {{"a", "other words"}};
  EXPECT_EQ(find_ambiguities({a, b})[0].known, "a: same board; b: other words");
}

TEST(Ambiguity, Rules) {
  // Different USB ids never collide.
  EXPECT_FALSE(ambiguous(make("a", {}), make("b", {}, 0x4ee0)));
  // Empty probes accept everything.
  EXPECT_TRUE(ambiguous(make("a", {}), make("b", {})));
  EXPECT_THAT(find_ambiguities({make("a", {}), make("b", {})})[0].reason,
              HasSubstr("exactly the same devices (neither probes any getvar)"));
  // A stricter profile is implied by a looser one: the stricter can never win.
  auto found = find_ambiguities({make("a", {eq("product", "x")}), make("b", {eq("product", "x"), ex("serial")})});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].reason, HasSubstr("every device passing b's probes also passes a's, so b can never be chosen"));
  EXPECT_THAT(found[0].reason, HasSubstr("getvar product=\"x\", serial=\"fastboop\" passes both"));
  // Distinguishable pairs: no device passes both.
  EXPECT_FALSE(ambiguous(make("a", {eq("p", "x")}), make("b", {eq("p", "y")})));
  EXPECT_FALSE(ambiguous(make("a", {eq("p", "x")}), make("b", {ne("p", "x")})));
  EXPECT_FALSE(ambiguous(make("a", {ex("v")}), make("b", {nx("v")})));
  EXPECT_FALSE(ambiguous(make("a", {sw("s", "AB")}), make("b", {sw("s", "AC")})));
  EXPECT_FALSE(ambiguous(make("a", {eq("p", "MSM8916")}), make("b", {eq("p", "lk2nd-msm8916")})));
  EXPECT_FALSE(ambiguous(make("a", {sw("serialno", "S6MQ"), eq("product", "sdm845")}),
                         make("b", {eq("product", "sdm845"), nx("serialno")})));
  EXPECT_FALSE(ambiguous(make("a", {eq("p", "x"), eq("q", "1")}), make("b", {eq("p", "x"), eq("q", "2")})));
  // Partial overlaps: neither implies the other, yet one device passes both.
  auto partial = find_ambiguities({make("a", {sw("serialno", "S6MQ"), eq("product", "sdm845")}),
                                   make("b", {eq("product", "sdm845"), eq("op2", "raw")})});
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(partial[0].reason, "both match USB 18d1:d00d and their probes overlap; a device answering getvar "
                               "serialno=\"S6MQ\", product=\"sdm845\", op2=\"raw\" passes both");
  EXPECT_TRUE(ambiguous(make("a", {sw("s", "AB")}), make("b", {sw("s", "ABC"), ne("t", "x")})));
  EXPECT_TRUE(ambiguous(make("a", {ex("v")}), make("b", {ne("v", "x")})));
  EXPECT_THAT(find_ambiguities({make("a", {nx("v")}), make("b", {ne("v", "x")})})[0].reason,
              HasSubstr("getvar v (no answer) passes both"));
  // Implications through the operators.
  EXPECT_TRUE(ambiguous(make("a", {sw("s", "AB")}), make("b", {sw("s", "A")})));
  EXPECT_TRUE(ambiguous(make("a", {eq("s", "ABC")}), make("b", {sw("s", "AB")})));
  EXPECT_TRUE(ambiguous(make("a", {eq("s", "x")}), make("b", {ex("s")})));
  EXPECT_TRUE(ambiguous(make("a", {eq("s", "x")}), make("b", {ne("s", "y")})));
  EXPECT_TRUE(ambiguous(make("a", {eq("s", "unknown")}), make("b", {nx("s")})));
  EXPECT_FALSE(ambiguous(make("a", {eq("s", "known")}), make("b", {nx("s")})));
  // A profile no device can pass is never ambiguous.
  EXPECT_FALSE(ambiguous(make("a", {eq("s", "x"), eq("s", "y")}), make("b", {})));
}

// fastboop:// links: what a download page may say, and every way a hostile
// link could try to smuggle options, files or shell into `fastboop boot`.
#include "boot/url.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>

namespace fastboop::boot {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kSha(128, 'a');

TEST(BootLink, AFullLinkBecomesBootArgumentsWithTheSourceLast) {
  auto link = parse_boot_link(
      "fastboop://boot?source=https%3A%2F%2Fexample.org%2Fimages%2Frootfs.img.xz&sha512=" + kSha +
      "&device-profile=oneplus-fajita&boot-profile=pmos-edge");
  ASSERT_TRUE(link) << link.error().message();
  EXPECT_THAT(boot_arguments(*link),
              ElementsAre("boot", "--expect-sha512=" + kSha, "--device-profile=oneplus-fajita",
                          "--boot-profile=pmos-edge", "--",
                          "https://example.org/images/rootfs.img.xz"));
}

TEST(BootLink, SourceAloneIsEnough) {
  auto link = parse_boot_link("fastboop://boot?source=http://example.org/r.img");
  ASSERT_TRUE(link) << link.error().message();
  EXPECT_THAT(boot_arguments(*link), ElementsAre("boot", "--", "http://example.org/r.img"));
}

void expect_refused(const std::string& url, const std::string& why) {
  auto link = parse_boot_link(url);
  ASSERT_FALSE(link) << url << " was accepted";
  EXPECT_THAT(link.error().message(), HasSubstr(why)) << url;
  EXPECT_EQ(link.error().kind(), ErrorKind::Usage);
}

TEST(BootLink, OptionsCannotBeSmuggledInValuesOrKeys) {
  expect_refused("fastboop://boot?source=https://e.org/r&device-profile=--force-device",
                 "starts with '-'");
  expect_refused("fastboop://boot?source=https://e.org/r&device-profile=%2D%2Fforce",
                 "starts with '-'");
  expect_refused("fastboop://boot?source=--stage0=/tmp/evil", "starts with '-'");
  expect_refused("fastboop://boot?source=https://e.org/r&stage0=/tmp/evil", "unknown key 'stage0'");
  expect_refused("fastboop://boot?source=https://e.org/r&--stage0=/tmp/evil",
                 "unknown key '--stage0'");
  expect_refused("fastboop://boot?source=https://e.org/r&cmdline-append=init=/bin/sh",
                 "unknown key");
  expect_refused("fastboop://boot?source=https://e.org/r&device-profile=a%20--force-device",
                 "blank");
  expect_refused("fastboop://boot?source=https://e.org/r&device-profile=Fajita",
                 "not a profile id");
  expect_refused("fastboop://boot?source=https://e.org/r&device-profile=a&device-profile=b",
                 "given twice");
  expect_refused("fastboop://boot?source=https://e.org/a&source=https://e.org/b", "given twice");
}

TEST(BootLink, ShellAndControlCharactersAreRefused) {
  expect_refused("fastboop://boot?source=https://e.org/r%0Arm%20-rf%20~", "blank or control");
  expect_refused("fastboop://boot?source=https://e.org/r%00x", "blank or control");
  expect_refused("fastboop://boot?source=https://e.org/$(reboot)%20x", "blank or control");
  expect_refused("fastboop://boot?source=https://e.org/r&sha512=" + kSha + "%3Bid",
                 "128 lowercase hex");
  expect_refused("fastboop://boot?source=https://e.org/r%", "truncated");
  expect_refused("fastboop://boot?source=https://e.org/r%zz", "invalid %-escape");
}

TEST(BootLink, OnlyRemoteHttpSourcesAreAccepted) {
  expect_refused("fastboop://boot?source=/etc/shadow", "http:// or https://");
  expect_refused("fastboop://boot?source=file:///home/user/.ssh/id_rsa", "http:// or https://");
  expect_refused("fastboop://boot?source=https://", "no host");
  expect_refused("fastboop://boot?source=https://user:pw@e.org/r", "user information");
  expect_refused("fastboop://boot?source=https://e.org\\evil", "backslash");
}

TEST(BootLink, TheLinkItselfMustBeWellFormed) {
  expect_refused("fastboop://flash?source=https://e.org/r", "expected fastboop://boot?");
  expect_refused("https://e.org/r", "expected fastboop://boot?");
  expect_refused("fastboop://boot?", "not key=value");
  expect_refused("fastboop://boot?source", "not key=value");
  expect_refused("fastboop://boot?source=", "is empty");
  expect_refused("fastboop://boot?device-profile=x", "no source=");
  expect_refused("fastboop://boot?source=https://e.org/r#frag", "fragments");
  expect_refused("fastboop://boot?source=https://e.org/" + std::string(9000, 'a'), "longer than");
}

TEST(BootLink, TheHandlerRunsNothingForAHostileLink) {
  test::TempDir dir;
  const auto marker = dir / "pwned";
  auto out =
      test::run({test::tool_path("fastboop").string(), "url-handler",
                 "fastboop://boot?source=https://e.org/r%60touch%20" + marker.string() + "%60"});
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_THAT(out.err, HasSubstr("fastboop:// link refused"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(BootLink, TheHandlerPrintsTheBootArguments) {
  auto out = test::run(
      {test::tool_path("fastboop").string(), "url-handler", "--print",
       "fastboop://boot?source=https%3A%2F%2Fe.org%2Fr.img&device-profile=oneplus-fajita"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(std::string(as_chars(out.out)),
            "boot\n--device-profile=oneplus-fajita\n--\nhttps://e.org/r.img\n");
}

TEST(BootLink, TheDesktopEntryRegistersTheHandler) {
  FASTBOOP_REQUIRE_PROGRAM("desktop-file-validate");
  const std::string entry =
      test::read_text(test::source_dir() / "tools/fastboop/fastboop-url-handler.desktop");
  EXPECT_THAT(entry, HasSubstr("Exec=fastboop url-handler %u\n"));
  EXPECT_THAT(entry, HasSubstr("MimeType=x-scheme-handler/fastboop;\n"));
  EXPECT_THAT(entry, HasSubstr("Terminal=true\n"));
  auto v =
      test::run({"desktop-file-validate",
                 (test::source_dir() / "tools/fastboop/fastboop-url-handler.desktop").string()});
  EXPECT_EQ(v.exit_code, 0) << std::string(as_chars(v.out)) << v.err;
  EXPECT_EQ(std::string(as_chars(v.out)), "") << "warnings";
}

} // namespace
} // namespace fastboop::boot

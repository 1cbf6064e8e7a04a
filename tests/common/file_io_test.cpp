#include "common/file_io.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

using namespace fastboop;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> dir_names(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}
} // namespace

TEST(AtomicFile, CommitReplacesTarget) {
  test::TempDir tmp;
  auto target = tmp / "out.bin";
  test::write_file(target, "old");
  ASSERT_TRUE(write_file_atomic(target, std::string_view("new contents")));
  EXPECT_EQ(as_chars(test::read_file(target)), "new contents");
  EXPECT_EQ(dir_names(tmp.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, AbandonedWriteLeavesTargetAndNoTemporary) {
  test::TempDir tmp;
  auto target = tmp / "out.bin";
  test::write_file(target, "old");
  {
    auto f = AtomicFile::create(target);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write(std::string_view("partial")));
    // destroyed without commit(): a failure mid-way
  }
  EXPECT_EQ(as_chars(test::read_file(target)), "old");
  EXPECT_EQ(dir_names(tmp.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, MissingDirectoryIsAnErrorNamingThePath) {
  test::TempDir tmp;
  auto r = write_file_atomic(tmp / "no/such/dir/out.bin", std::string_view("x"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no/such/dir/out.bin"), std::string::npos);
}

TEST(ReadFile, LimitIsEnforced) {
  test::TempDir tmp;
  test::write_file(tmp / "big", std::string(100, 'a'));
  auto r = read_file(tmp / "big", 10);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("exceeds the limit"), std::string::npos);
  auto ok = read_file(tmp / "big", 100);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 100u);
}

TEST(Depfile, EscapesSpaces) {
  test::TempDir tmp;
  ASSERT_TRUE(write_depfile(tmp / "d.d", "out/boot.img", {"/a b/c", "/d"}));
  EXPECT_EQ(as_chars(test::read_file(tmp / "d.d")), "out/boot.img: \\\n  /a\\ b/c \\\n  /d\n");
}

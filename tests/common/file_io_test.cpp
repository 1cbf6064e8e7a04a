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

// Issue 16 item 9: one output policy for every tool. The parent directory
// must exist (nothing creates /nonexistent), and the error names the output.
TEST(OutputPath, MissingParentIsRefusedNamingTheOutputAndNothingIsCreatedIssue16Item9) {
  test::TempDir tmp;
  const auto out = tmp / "missing" / "dir" / "boot.img";
  auto checked = check_output_path(out);
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message().find("output " + out.string()), std::string::npos)
      << checked.error().message();
  EXPECT_NE(checked.error().message().find("does not exist"), std::string::npos);
  auto file = AtomicFile::create(out);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message().find("output " + out.string()), std::string::npos);
  auto dir = AtomicDirectory::create(tmp / "missing" / "x", "stage0.json");
  ASSERT_FALSE(dir);
  EXPECT_FALSE(fs::exists(tmp / "missing"));
  // A file output that is a directory, and a parent that is a file.
  fs::create_directory(tmp / "d");
  EXPECT_FALSE(check_output_path(tmp / "d"));
  EXPECT_TRUE(check_output_path(tmp / "d", OutputKind::Directory));
  test::write_file(tmp / "f", "x");
  auto under_file = check_output_path(tmp / "f" / "out");
  ASSERT_FALSE(under_file);
  EXPECT_NE(under_file.error().message().find("is not a directory"), std::string::npos);
  EXPECT_TRUE(check_output_path("relative-in-cwd.bin"));
}

// Issue 16 item 8: a directory output is replaced as a whole, atomically; no
// file of the previous output survives next to the new ones.
TEST(AtomicDirectory, ReplacesTheWholeDirectoryIssue16Item8) {
  test::TempDir tmp;
  const auto out = tmp / "stage0";
  fs::create_directory(out);
  test::write_file(out / "stage0.json", "{}");
  test::write_file(out / "stage0.cpio", "stale");
  auto dir = AtomicDirectory::create(out, "stage0.json");
  ASSERT_TRUE(dir) << dir.error().message();
  ASSERT_TRUE(write_file_atomic(dir->staging() / "stage0.cpio.xz", std::string_view("new")));
  ASSERT_TRUE(write_file_atomic(dir->staging() / "stage0.json", std::string_view("{\"new\": 1}")));
  // Until commit the old output is untouched.
  EXPECT_EQ(dir_names(out), (std::vector<std::string>{"stage0.cpio", "stage0.json"}));
  ASSERT_TRUE(dir->commit());
  EXPECT_EQ(dir_names(out), (std::vector<std::string>{"stage0.cpio.xz", "stage0.json"}));
  EXPECT_EQ(as_chars(test::read_file(out / "stage0.json")), "{\"new\": 1}");
  EXPECT_EQ(dir_names(tmp.path()),
            std::vector<std::string>{"stage0"}); // no staging or old copy left
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::others_exec, fs::perms::others_exec);
}

TEST(AtomicDirectory, NewEmptyAndAbandonedOutputs) {
  test::TempDir tmp;
  {
    auto dir = AtomicDirectory::create(tmp / "fresh", "stage0.json");
    ASSERT_TRUE(dir);
    ASSERT_TRUE(write_file_atomic(dir->staging() / "a", std::string_view("1")));
    ASSERT_TRUE(dir->commit());
  }
  EXPECT_EQ(dir_names(tmp / "fresh"), std::vector<std::string>{"a"});
  // An empty directory (what the CMake cache runner prepares) is replaced.
  fs::create_directory(tmp / "empty");
  {
    auto dir = AtomicDirectory::create(tmp / "empty", "stage0.json");
    ASSERT_TRUE(dir);
    ASSERT_TRUE(write_file_atomic(dir->staging() / "b", std::string_view("2")));
    ASSERT_TRUE(dir->commit());
  }
  EXPECT_EQ(dir_names(tmp / "empty"), std::vector<std::string>{"b"});
  // Abandoned (a failure before commit): the old output stays, no staging left.
  {
    auto dir = AtomicDirectory::create(tmp / "fresh", "a");
    ASSERT_TRUE(dir);
    ASSERT_TRUE(write_file_atomic(dir->staging() / "c", std::string_view("3")));
  }
  EXPECT_EQ(dir_names(tmp / "fresh"), std::vector<std::string>{"a"});
  EXPECT_EQ(dir_names(tmp.path()), (std::vector<std::string>{"empty", "fresh"}));
}

TEST(AtomicDirectory, ANonEmptyDirectoryWithoutTheMarkerIsNotReplaced) {
  test::TempDir tmp;
  fs::create_directory(tmp / "home");
  test::write_file(tmp / "home" / "thesis.tex", "precious");
  auto dir = AtomicDirectory::create(tmp / "home", "stage0.json");
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message().find("without stage0.json"), std::string::npos)
      << dir.error().message();
  EXPECT_EQ(dir_names(tmp / "home"), std::vector<std::string>{"thesis.tex"});
  test::write_file(tmp / "file", "x");
  EXPECT_FALSE(AtomicDirectory::create(tmp / "file", "stage0.json"));
}

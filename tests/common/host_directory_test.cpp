#include "filesystems/filesystem.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::filesystems;
namespace sfs = std::filesystem;

class HostDirectoryTest : public ::testing::Test {
protected:
  void SetUp() override {
    test::write_file(m_tmp / "root/usr/lib/modules/6.1/modules.dep", "a.ko:\n");
    sfs::create_directory_symlink("usr/lib", m_tmp / "root/lib");
    sfs::create_symlink("/usr/lib/modules/6.1/modules.dep", m_tmp / "root/abs-link");
    sfs::create_symlink("../../../../etc/passwd", m_tmp / "root/usr/lib/escape");
    sfs::create_symlink("loop-b", m_tmp / "root/loop-a");
    sfs::create_symlink("loop-a", m_tmp / "root/loop-b");
    auto fs = open_host_directory((m_tmp / "root").string());
    ASSERT_TRUE(fs);
    m_fs = std::move(fs).value();
  }
  test::TempDir m_tmp;
  FilesystemPtr m_fs;
};

TEST_F(HostDirectoryTest, ReadsThroughIntermediateSymlink) {
  auto data = read_file(*m_fs, "/lib/modules/6.1/modules.dep");
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(as_chars(*data), "a.ko:\n");
}

TEST_F(HostDirectoryTest, AbsoluteLinkResolvesInsideTheTree) {
  auto data = read_file(*m_fs, "/abs-link");
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(as_chars(*data), "a.ko:\n");
}

TEST_F(HostDirectoryTest, DotDotNeverEscapesTheRoot) {
  // ../../../../etc/passwd from /usr/lib clamps at our root: /etc/passwd does not exist there.
  auto r = read_file(*m_fs, "/usr/lib/escape");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not found"), std::string::npos);
}

TEST_F(HostDirectoryTest, SymlinkLoopIsBounded) {
  auto r = resolve_path(*m_fs, "/loop-a");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("too many levels"), std::string::npos);
}

TEST_F(HostDirectoryTest, ListIsSortedAndLstatKeepsLinks) {
  auto entries = m_fs->list(m_fs->root());
  ASSERT_TRUE(entries);
  std::vector<std::string> names;
  for (auto& e : *entries)
    names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"abs-link", "lib", "loop-a", "loop-b", "usr"}));
  auto lib = resolve_path(*m_fs, "/lib", FollowFinal::No);
  ASSERT_TRUE(lib);
  EXPECT_EQ(m_fs->stat(*lib)->type, FileType::Symlink);
}

TEST_F(HostDirectoryTest, MissingFinalComponentIsOptional) {
  auto r = try_resolve_path(*m_fs, "/usr/nothing");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(try_resolve_path(*m_fs, "/nothing/deeper"));
}

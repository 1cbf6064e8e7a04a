#include "common/fd.hpp"
#include "common/file_io.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>

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

// ## Show that common/fd.hpp's one EINTR loop reads and writes whole buffers
// across short transfers and interrupted system calls, and that UniqueFd
// owns its descriptor.
namespace {

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0)
        ::close(fd);
  }
};

extern "C" void on_alarm(int) {}

} // namespace

TEST(Fd, ReadFullCollectsShortReadsAndStopsAtTheEnd) {
  Pipe p;
  std::thread writer([&] {
    for (char c : std::string("abcdef")) {
      EXPECT_EQ(::write(p.fds[1], &c, 1), 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::close(std::exchange(p.fds[1], -1));
  });
  std::uint8_t buf[4];
  auto first = read_full(p.fds[0], buf);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "abcd");
  auto rest = read_full(p.fds[0], buf);
  writer.join();
  ASSERT_TRUE(rest) << rest.error().message();
  EXPECT_EQ(*rest, 2u); // the end of the stream
}

TEST(Fd, AnInterruptedReadIsRetried) {
  // SIGALRM without SA_RESTART makes the blocked read(2) fail with EINTR.
  struct sigaction sa {}, old {};
  sa.sa_handler = on_alarm;
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  Pipe p;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(::write(p.fds[1], "xy", 2), 2);
  });
  itimerval t{};
  t.it_value.tv_usec = 50'000;
  ::setitimer(ITIMER_REAL, &t, nullptr);
  std::uint8_t buf[2];
  auto n = read_full(p.fds[0], buf);
  writer.join();
  ::sigaction(SIGALRM, &old, nullptr);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2u);
}

TEST(Fd, WriteFullAndPreadFullRoundTrip) {
  test::TempDir dir;
  UniqueFd fd(::open((dir / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd);
  const Bytes data = test::random_bytes(300000, 5);
  ASSERT_TRUE(write_full(fd.get(), data));
  ASSERT_TRUE(pwrite_full(fd.get(), as_bytes(std::string_view("HEAD")), 0));
  Bytes back(data.size() + 10);
  auto n = pread_full(fd.get(), back, 0);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size()); // short only at the end of the file
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(back.data()), 4), "HEAD");
  EXPECT_TRUE(std::equal(data.begin() + 4, data.end(), back.begin() + 4));
  auto bad = write_full(-1, data);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::Io);
}

TEST(Fd, UniqueFdClosesWhatItOwnsAndNotWhatItReleased) {
  int raw = -1;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw = fd.get();
    ASSERT_GE(raw, 0);
    UniqueFd moved = std::move(fd);
    EXPECT_FALSE(fd);
    EXPECT_EQ(moved.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1); // closed once, by the last owner
  UniqueFd kept(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int released = kept.release();
  EXPECT_FALSE(kept);
  EXPECT_NE(::fcntl(released, F_GETFD), -1);
  ::close(released);
}

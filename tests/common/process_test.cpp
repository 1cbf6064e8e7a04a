#include "common/process.hpp"

#include <gtest/gtest.h>

using namespace fastboop;

TEST(Process, PipesLargeStdinThroughAndCapturesBothStreams) {
  std::string input(1 << 20, 'x'); // larger than a pipe buffer: must not deadlock
  auto r = run_process({"sh", "-c", "cat; echo oops >&2; exit 3"}, as_bytes(input));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out.size(), input.size());
  EXPECT_EQ(r->err, "oops\n");
}

TEST(Process, MissingProgramNamesThePackage) {
  auto r = run_process({"fastboop-no-such-program"}, {}, "some-package");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("apt-get install some-package"), std::string::npos);
}

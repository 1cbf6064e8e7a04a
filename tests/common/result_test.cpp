#include "common/result.hpp"

#include <gtest/gtest.h>

using namespace fastboop;

namespace {
Result<int> parse_positive(int v) {
  if (v <= 0)
    return Error("value " + std::to_string(v) + " is not positive");
  return v;
}
Result<int> doubled(int v) {
  int x = TRY(parse_positive(v));
  return x * 2;
}
Result<void> check(int v) {
  TRY_CTX(parse_positive(v), "while checking field 'count'");
  return ok();
}
Result<std::string> chained(int v) {
  TRY(check(v));
  return std::string("fine");
}
} // namespace

TEST(Result, ValuePropagates) {
  auto r = doubled(21);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
}

TEST(Result, TryReturnsTheErrorUnchanged) {
  auto r = doubled(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "value -1 is not positive");
}

TEST(Result, ContextIsPrefixedOutermostFirst) {
  auto r = chained(0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "while checking field 'count': value 0 is not positive");
  auto r2 = chained(0).with_context("while reading x.yaml");
  EXPECT_EQ(r2.error().message(),
            "while reading x.yaml: while checking field 'count': value 0 is not positive");
}

TEST(Result, ErrorKindIsKept) {
  Result<void> r = Error("bad flag", ErrorKind::Usage);
  EXPECT_EQ(r.error().kind(), ErrorKind::Usage);
}

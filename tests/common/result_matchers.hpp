// GoogleMock matchers for Result<T>, so a failed assertion prints the error's
// message without each test spelling out `<< r.error().message()`:
//   EXPECT_THAT(parse(x), Succeeded());
//   EXPECT_THAT(parse(x), HasValue(Eq(3)));
//   EXPECT_THAT(parse(y), FailedWithMessage(HasSubstr("line 2")));
#pragma once

#include "common/result.hpp"

#include <gmock/gmock.h>

#include <ostream>
#include <string>

namespace fastboop {

// How gtest prints a Result in a failed expectation (found by ADL).
template <typename T> void PrintTo(const Result<T>& r, std::ostream* os) {
  if (r.ok())
    *os << "a Result that succeeded";
  else
    *os << "a Result that failed with \"" << r.error().message() << "\"";
}

} // namespace fastboop

namespace fastboop::test {

MATCHER(Succeeded, negation ? "fails" : "succeeds") {
  if (arg.ok())
    return true;
  *result_listener << "which failed with: " << arg.error().message();
  return false;
}

MATCHER_P(HasValue, inner, negation ? "fails or has another value" : "succeeds with a matching value") {
  if (!arg.ok()) {
    *result_listener << "which failed with: " << arg.error().message();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

MATCHER_P(FailedWithMessage, inner,
          "fails with a message that " + ::testing::DescribeMatcher<std::string>(inner, negation)) {
  if (arg.ok()) {
    *result_listener << "which succeeded";
    return false;
  }
  *result_listener << "whose message is \"" << arg.error().message() << "\" ";
  return ::testing::ExplainMatchResult(inner, arg.error().message(), result_listener);
}

} // namespace fastboop::test

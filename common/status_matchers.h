// gMock matchers for absl::Status / absl::StatusOr, which Debian's Abseil
// does not ship. Test-only.
#ifndef CCBATCH_COMMON_STATUS_MATCHERS_H_
#define CCBATCH_COMMON_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"

namespace ccbatch::testing {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// EXPECT_THAT(F(), IsOk());
MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status.ToString();
  return status.ok();
}

// EXPECT_THAT(F(), StatusIs(absl::StatusCode::kInvalidArgument,
//                           HasSubstr("line 3")));
MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + ::testing::PrintToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

}  // namespace ccbatch::testing

#define CCB_ASSERT_OK(expr) ASSERT_THAT((expr), ::ccbatch::testing::IsOk())
#define CCB_EXPECT_OK(expr) EXPECT_THAT((expr), ::ccbatch::testing::IsOk())

// Unwraps a StatusOr in a test, failing the test if it holds an error.
#define CCB_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                \
  CCB_ASSERT_OK_AND_ASSIGN_IMPL_(CCB_STATUS_CONCAT_(ccb_test_or_, __LINE__), \
                                 lhs, rexpr)
#define CCB_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  ASSERT_TRUE(statusor.ok()) << statusor.status().ToString(); \
  lhs = std::move(statusor).value()

#endif  // CCBATCH_COMMON_STATUS_MATCHERS_H_

#include "common/current_user.h"

#include <string>

#include "absl/strings/strip.h"
#include "common/process_runner.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

TEST(CurrentUserNameTest, AgreesWithId) {
  CCB_ASSERT_OK_AND_ASSIGN(std::string name, CurrentUserName());
  EXPECT_FALSE(name.empty());
  RealProcessRunner runner;
  ProcessRequest request;
  request.argv = {"id", "-un"};
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult id, runner.Run(request));
  ASSERT_EQ(id.exit_code, 0) << id.stderr_text;
  EXPECT_EQ(name, absl::StripTrailingAsciiWhitespace(id.stdout_text));
}

TEST(CurrentUserNameTest, IgnoresTheUserEnvironmentVariable) {
  CCB_ASSERT_OK_AND_ASSIGN(std::string before, CurrentUserName());
  setenv("USER", "-h", 1);
  setenv("LOGNAME", "", 1);
  CCB_ASSERT_OK_AND_ASSIGN(std::string after, CurrentUserName());
  EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace ccbatch::common

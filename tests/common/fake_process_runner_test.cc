#include "common/fake_process_runner.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ProcessRequest Request(std::vector<std::string> argv) {
  ProcessRequest request;
  request.argv = std::move(argv);
  return request;
}

TEST(FakeProcessRunnerTest, MatchesByProgramNameOrPathSuffix) {
  FakeProcessRunner runner;
  runner.OnProgram("squeue", ExitedWith(0, "1|RUNNING\n"));
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult a, runner.Run(Request({"squeue"})));
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult b,
                           runner.Run(Request({"/usr/bin/squeue", "-h"})));
  EXPECT_EQ(a.stdout_text, "1|RUNNING\n");
  EXPECT_EQ(b.stdout_text, "1|RUNNING\n");
  EXPECT_THAT(runner.Run(Request({"/usr/bin/xsqueue"})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("/usr/bin/xsqueue")));
}

TEST(FakeProcessRunnerTest, PlaysResultsInOrderThenRepeatsTheLast) {
  FakeProcessRunner runner;
  runner.OnProgram("sbatch", ExitedWith(0, "101\n"));
  runner.OnProgram("sbatch", ExitedWith(1, "", "sbatch: error: x"));
  std::vector<int> codes;
  for (int i = 0; i < 4; ++i) {
    CCB_ASSERT_OK_AND_ASSIGN(ProcessResult r, runner.Run(Request({"sbatch"})));
    codes.push_back(r.exit_code);
  }
  EXPECT_THAT(codes, ElementsAre(0, 1, 1, 1));
}

TEST(FakeProcessRunnerTest, FirstMatchingRuleWins) {
  FakeProcessRunner runner;
  runner.OnMatch(
      [](const ProcessRequest& r) {
        return r.argv.size() > 1 && r.argv[1] == "--special";
      },
      ExitedWith(3));
  runner.OnProgram("scancel", ExitedWith(0));
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult special,
                           runner.Run(Request({"scancel", "--special"})));
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult plain,
                           runner.Run(Request({"scancel", "5"})));
  EXPECT_EQ(special.exit_code, 3);
  EXPECT_EQ(plain.exit_code, 0);
}

TEST(FakeProcessRunnerTest, ScriptsStartErrorsAndTimeouts) {
  FakeProcessRunner runner;
  runner.OnProgram("gone", absl::NotFoundError("could not start gone"));
  runner.OnProgram("slow", TimedOutWith("partial"));
  EXPECT_THAT(runner.Run(Request({"gone"})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("gone")));
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult slow, runner.Run(Request({"slow"})));
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.exit_code, -1);
  EXPECT_EQ(slow.stderr_text, "partial");
}

TEST(FakeProcessRunnerTest, RecordsCallsAndAdvancesTheClock) {
  FakeClock clock(absl::FromUnixSeconds(100));
  FakeProcessRunner runner(&clock);
  runner.OnProgram("squeue", ExitedWith(0), absl::Seconds(2));
  ProcessRequest request = Request({"squeue", "--noheader"});
  request.env_unset = {"SQUEUE_FORMAT"};
  CCB_ASSERT_OK(runner.Run(request));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(102));
  ASSERT_EQ(runner.CallCount(), 1);
  EXPECT_THAT(runner.Calls()[0].argv, ElementsAre("squeue", "--noheader"));
  EXPECT_THAT(runner.Calls()[0].env_unset, ElementsAre("SQUEUE_FORMAT"));
}

TEST(FakeProcessRunnerTest, ConcurrentCallsAreAllRecorded) {
  FakeProcessRunner runner;
  runner.OnProgram("squeue", ExitedWith(0));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&runner] {
      for (int i = 0; i < 100; ++i) (void)runner.Run(Request({"squeue"}));
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(runner.CallCount(), 800);
}

}  // namespace
}  // namespace ccbatch::common

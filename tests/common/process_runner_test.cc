#include "common/process_runner.h"

#include <signal.h>
#include <sys/time.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

ProcessRequest Request(std::vector<std::string> argv) {
  ProcessRequest request;
  request.argv = std::move(argv);
  request.timeout = absl::Seconds(30);
  return request;
}

ProcessRequest Shell(const std::string& script) {
  return Request({"/bin/sh", "-c", script});
}

TEST(RealProcessRunnerTest, CapturesStdoutAndExitZero) {
  RealProcessRunner runner;
  CCB_ASSERT_OK_AND_ASSIGN(
      ProcessResult result,
      runner.Run(Request({"/bin/echo", "hello", "world"})));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.term_signal, 0);
  EXPECT_FALSE(result.timed_out);
  EXPECT_TRUE(result.Succeeded());
  EXPECT_EQ(result.stdout_text, "hello world\n");
  EXPECT_EQ(result.stderr_text, "");
}

TEST(RealProcessRunnerTest, ArgumentsAreNotInterpretedByAShell) {
  RealProcessRunner runner;
  const std::string tricky = "a|b c; $HOME `id` 'q' \"d\"\t*";
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result,
                           runner.Run(Request({"/bin/echo", tricky})));
  EXPECT_EQ(result.stdout_text, tricky + "\n");
}

TEST(RealProcessRunnerTest, BareProgramNameIsSearchedInPath) {
  RealProcessRunner runner;
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result,
                           runner.Run(Request({"echo", "via-path"})));
  EXPECT_EQ(result.stdout_text, "via-path\n");
}

TEST(RealProcessRunnerTest, ReportsNonZeroExitCodes) {
  RealProcessRunner runner;
  for (int code : {1, 2, 7, 255}) {
    CCB_ASSERT_OK_AND_ASSIGN(
        ProcessResult result,
        runner.Run(Shell(absl::StrCat("echo out; echo err >&2; exit ", code))));
    EXPECT_EQ(result.exit_code, code);
    EXPECT_FALSE(result.Succeeded());
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(result.stdout_text, "out\n");
    EXPECT_EQ(result.stderr_text, "err\n");
  }
}

TEST(RealProcessRunnerTest, ReportsDeathBySignal) {
  RealProcessRunner runner;
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result,
                           runner.Run(Shell("kill -TERM $$")));
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGTERM);
  EXPECT_FALSE(result.timed_out);
}

TEST(RealProcessRunnerTest, DrainsFiveMegabytesOnBothStreams) {
  RealProcessRunner runner;
  // Both streams at once: a runner that reads them one after the other would
  // deadlock on the full stderr pipe.
  CCB_ASSERT_OK_AND_ASSIGN(
      ProcessResult result,
      runner.Run(Shell("head -c 5242880 /dev/zero | tr '\\0' x; "
                       "head -c 5242880 /dev/zero | tr '\\0' y >&2; "
                       "head -c 1000 /dev/zero | tr '\\0' z")));
  EXPECT_EQ(result.exit_code, 0);
  ASSERT_THAT(result.stdout_text, SizeIs(5242880 + 1000));
  ASSERT_THAT(result.stderr_text, SizeIs(5242880));
  EXPECT_EQ(result.stdout_text.find_first_not_of('x'), 5242880u);
  EXPECT_EQ(result.stderr_text.find_first_not_of('y'), std::string::npos);
  EXPECT_FALSE(result.stdout_truncated);
}

TEST(RealProcessRunnerTest, KeepsAtMostMaxOutputBytesButDrainsTheRest) {
  RealProcessRunner runner;
  ProcessRequest request = Shell("head -c 1000000 /dev/zero; echo done >&2");
  request.max_output_bytes = 4096;
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.stdout_text, SizeIs(4096));
  EXPECT_TRUE(result.stdout_truncated);
  EXPECT_EQ(result.stderr_text, "done\n");
  EXPECT_FALSE(result.stderr_truncated);
}

TEST(RealProcessRunnerTest, FeedsStdinWhileReadingLargeOutput) {
  RealProcessRunner runner;
  ProcessRequest request = Request({"/bin/cat"});
  std::string input;
  for (int i = 0; i < 200000; ++i) absl::StrAppend(&input, "line ", i, "\n");
  request.stdin_data = input;
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_text.size(), input.size());
  EXPECT_TRUE(result.stdout_text == input);
}

TEST(RealProcessRunnerTest, ChildThatIgnoresStdinDoesNotKillUs) {
  RealProcessRunner runner;
  ProcessRequest request = Request({"/bin/true"});
  request.stdin_data = std::string(8 << 20, 'a');  // far beyond a pipe buffer
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_EQ(result.exit_code, 0);
}

TEST(RealProcessRunnerTest, WithoutStdinDataTheChildReadsDevNull) {
  RealProcessRunner runner;
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result,
                           runner.Run(Request({"/bin/cat"})));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_text, "");
}

TEST(RealProcessRunnerTest, TimeoutKillsTheProcess) {
  RealProcessRunner runner;
  ProcessRequest request = Shell("echo started; exec /bin/sleep 60");
  request.timeout = absl::Milliseconds(300);
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_TRUE(result.timed_out);
  EXPECT_FALSE(result.Succeeded());
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_EQ(result.stdout_text, "started\n");
}

TEST(RealProcessRunnerTest, InfiniteTimeoutMeansNone) {
  RealProcessRunner runner;
  ProcessRequest request = Request({"/bin/echo", "ok"});
  request.timeout = absl::InfiniteDuration();
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.stdout_text, "ok\n");
}

// True once `pid` no longer exists or is a zombie.
bool Gone(int pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
}

TEST(RealProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  RealProcessRunner runner;
  // The background sleep holds stdout open: only killing the group lets Run
  // return.
  ProcessRequest request = Shell("/bin/sleep 60 & echo $!; wait");
  request.timeout = absl::Milliseconds(300);
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_TRUE(result.timed_out);
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(result.stdout_text),
                               &grandchild))
      << result.stdout_text;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!Gone(grandchild) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(Gone(grandchild)) << "pid " << grandchild << " survived";
}

TEST(RealProcessRunnerTest, MissingProgramIsAStartError) {
  RealProcessRunner runner;
  EXPECT_THAT(
      runner.Run(Request({"/nonexistent/ccbatch-squeue"})),
      StatusIs(absl::StatusCode::kNotFound,
               HasSubstr("could not start /nonexistent/ccbatch-squeue")));
  EXPECT_THAT(runner.Run(Request({"ccbatch-no-such-program-anywhere"})),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("ccbatch-no-such-program-anywhere")));
}

TEST(RealProcessRunnerTest, NonExecutableFileIsAStartError) {
  RealProcessRunner runner;
  EXPECT_THAT(
      runner.Run(Request({"/etc/passwd"})),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("/etc/passwd")));
}

TEST(RealProcessRunnerTest, EmptyArgvIsRejected) {
  RealProcessRunner runner;
  EXPECT_THAT(runner.Run(Request({})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("argv")));
}

TEST(RealProcessRunnerTest, EnvironmentOverridesAndUnsets) {
  setenv("CCB_TEST_INHERITED", "kept", 1);
  setenv("CCB_TEST_DROPPED", "present", 1);
  setenv("CCB_TEST_REPLACED", "old", 1);
  RealProcessRunner runner;
  ProcessRequest request = Shell(
      "echo \"$CCB_TEST_INHERITED:${CCB_TEST_DROPPED-unset}:"
      "$CCB_TEST_REPLACED:$CCB_TEST_NEW\"");
  request.env_unset = {"CCB_TEST_DROPPED", "CCB_TEST_REPLACED"};
  request.env_set = {{"CCB_TEST_REPLACED", "new"}, {"CCB_TEST_NEW", "x y"}};
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_EQ(result.stdout_text, "kept:unset:new:x y\n");
}

TEST(RealProcessRunnerTest, RunsInTheWorkingDirectory) {
  RealProcessRunner runner;
  ProcessRequest request = Request({"/bin/pwd"});
  request.working_directory = "/";
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result, runner.Run(request));
  EXPECT_EQ(result.stdout_text, "/\n");

  request.working_directory = "/nonexistent/dir";
  EXPECT_THAT(runner.Run(request), StatusIs(absl::StatusCode::kNotFound,
                                            HasSubstr("in /nonexistent/dir")));
}

TEST(RealProcessRunnerTest, ChildSeesOnlyItsStandardDescriptors) {
  RealProcessRunner runner;
  CCB_ASSERT_OK_AND_ASSIGN(ProcessResult result,
                           runner.Run(Request({"/bin/ls", "/proc/self/fd"})));
  // ls itself opens one descriptor to read the directory.
  std::vector<std::string> fds = absl::StrSplit(
      absl::StripTrailingAsciiWhitespace(result.stdout_text), '\n');
  EXPECT_LE(fds.size(), 4u) << result.stdout_text;
}

extern "C" void IgnoreAlarm(int) {}

TEST(RealProcessRunnerTest, SurvivesInterruptingSignals) {
  struct sigaction action = {};
  action.sa_handler = IgnoreAlarm;
  action.sa_flags = 0;  // no SA_RESTART: poll/read/waitpid see EINTR
  struct sigaction previous;
  ASSERT_EQ(sigaction(SIGALRM, &action, &previous), 0);
  itimerval every_ms = {{0, 1000}, {0, 1000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &every_ms, nullptr), 0);

  RealProcessRunner runner;
  ProcessRequest request = Shell("/bin/sleep 0.3; head -c 300000 /dev/zero");
  request.stdin_data = std::string(1 << 20, 'a');
  absl::StatusOr<ProcessResult> result = runner.Run(request);

  itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &previous, nullptr);
  CCB_ASSERT_OK(result);
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_FALSE(result->timed_out);
  EXPECT_THAT(result->stdout_text, SizeIs(300000));
}

TEST(RealProcessRunnerTest, ConcurrentRunsKeepTheirOutputsApart) {
  RealProcessRunner runner;
  std::vector<std::string> outputs(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&runner, &outputs, i] {
      absl::StatusOr<ProcessResult> result = runner.Run(
          Shell(absl::StrCat("for k in 1 2 3; do echo ", i, "; done")));
      if (result.ok()) outputs[i] = result->stdout_text;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(outputs[i], absl::StrCat(i, "\n", i, "\n", i, "\n"));
  }
}

}  // namespace
}  // namespace ccbatch::common

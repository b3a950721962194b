// A ProcessRunner that plays scripted results and records what was asked of
// it, for tests of code that runs squeue, sbatch and scancel.
#ifndef CCBATCH_COMMON_FAKE_PROCESS_RUNNER_H_
#define CCBATCH_COMMON_FAKE_PROCESS_RUNNER_H_

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/process_runner.h"

namespace ccbatch::common {

// A process that exited by itself with `exit_code`.
ProcessResult ExitedWith(int exit_code, std::string stdout_text = "",
                         std::string stderr_text = "");
// A process killed after its timeout, having printed `stderr_text`.
ProcessResult TimedOutWith(std::string stderr_text = "");

// Thread-safe. Requests are matched against rules in the order the rules were
// added; the first matching rule answers. A rule plays its results in order
// and then keeps repeating its last one. A request no rule matches gets a
// kFailedPrecondition error naming its argv, which a test will notice.
class FakeProcessRunner final : public ProcessRunner {
 public:
  using Matcher = std::function<bool(const ProcessRequest&)>;

  // One scripted answer: the result (or the start error) and how long the
  // process "ran", by which the clock given to the constructor is advanced.
  struct Script {
    absl::StatusOr<ProcessResult> result;
    absl::Duration runs_for = absl::ZeroDuration();
  };

  // REQUIRES: `clock`, if not null, outlives this runner. Not owned.
  explicit FakeProcessRunner(FakeClock* clock = nullptr);

  // Answers requests whose argv[0] is `program` or ends in "/<program>".
  // Every call for the same program appends to that program's one rule.
  void OnProgram(const std::string& program,
                 absl::StatusOr<ProcessResult> result,
                 absl::Duration runs_for = absl::ZeroDuration());
  // Answers requests `matcher` accepts; each call adds a new rule.
  void OnMatch(Matcher matcher, absl::StatusOr<ProcessResult> result,
               absl::Duration runs_for = absl::ZeroDuration());

  absl::StatusOr<ProcessResult> Run(const ProcessRequest& request) override;

  // Every request received, in order.
  std::vector<ProcessRequest> Calls() const;
  int CallCount() const;

 private:
  struct Rule {
    std::string program;  // empty for OnMatch rules
    Matcher matcher;
    std::deque<Script> scripts;
  };

  FakeClock* const clock_;
  mutable absl::Mutex mu_;
  std::vector<Rule> rules_ ABSL_GUARDED_BY(mu_);
  std::vector<ProcessRequest> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_FAKE_PROCESS_RUNNER_H_

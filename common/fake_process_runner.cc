#include "common/fake_process_runner.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ccbatch::common {
namespace {

bool IsProgram(const ProcessRequest& request, const std::string& program) {
  if (request.argv.empty()) return false;
  const std::string& argv0 = request.argv[0];
  return argv0 == program || absl::EndsWith(argv0, absl::StrCat("/", program));
}

}  // namespace

ProcessResult ExitedWith(int exit_code, std::string stdout_text,
                         std::string stderr_text) {
  ProcessResult result;
  result.exit_code = exit_code;
  result.stdout_text = std::move(stdout_text);
  result.stderr_text = std::move(stderr_text);
  return result;
}

ProcessResult TimedOutWith(std::string stderr_text) {
  ProcessResult result;
  result.exit_code = -1;
  result.term_signal = 9;
  result.timed_out = true;
  result.stderr_text = std::move(stderr_text);
  return result;
}

FakeProcessRunner::FakeProcessRunner(FakeClock* clock) : clock_(clock) {}

void FakeProcessRunner::OnProgram(const std::string& program,
                                  absl::StatusOr<ProcessResult> result,
                                  absl::Duration runs_for) {
  absl::MutexLock lock(&mu_);
  for (Rule& rule : rules_) {
    if (rule.program == program) {
      rule.scripts.push_back({std::move(result), runs_for});
      return;
    }
  }
  Rule rule;
  rule.program = program;
  rule.matcher = [program](const ProcessRequest& request) {
    return IsProgram(request, program);
  };
  rule.scripts.push_back({std::move(result), runs_for});
  rules_.push_back(std::move(rule));
}

void FakeProcessRunner::OnMatch(Matcher matcher,
                                absl::StatusOr<ProcessResult> result,
                                absl::Duration runs_for) {
  absl::MutexLock lock(&mu_);
  Rule rule;
  rule.matcher = std::move(matcher);
  rule.scripts.push_back({std::move(result), runs_for});
  rules_.push_back(std::move(rule));
}

absl::StatusOr<ProcessResult> FakeProcessRunner::Run(
    const ProcessRequest& request) {
  Script script;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(request);
    Rule* match = nullptr;
    for (Rule& rule : rules_) {
      if (rule.matcher(request)) {
        match = &rule;
        break;
      }
    }
    if (match == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("FakeProcessRunner: nothing scripted for argv [",
                       absl::StrJoin(request.argv, ", "), "]"));
    }
    script = match->scripts.front();
    if (match->scripts.size() > 1) match->scripts.pop_front();
  }
  if (clock_ != nullptr) clock_->Advance(script.runs_for);
  return script.result;
}

std::vector<ProcessRequest> FakeProcessRunner::Calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int FakeProcessRunner::CallCount() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(calls_.size());
}

}  // namespace ccbatch::common

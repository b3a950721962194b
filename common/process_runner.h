// Running external programs (squeue, sbatch, scancel) behind an interface, so
// everything above it is tested with FakeProcessRunner and only main.cc files
// wire RealProcessRunner.
#ifndef CCBATCH_COMMON_PROCESS_RUNNER_H_
#define CCBATCH_COMMON_PROCESS_RUNNER_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ccbatch::common {

// What to run. A program and its arguments, never a shell string: nothing is
// interpreted by a shell, so job names and paths need no quoting.
struct ProcessRequest {
  // argv[0] is the program: a path containing '/' is used as is; a bare name
  // is looked up in this process's PATH. REQUIRES: non-empty.
  std::vector<std::string> argv;
  // The process group is killed with SIGKILL once this has elapsed.
  absl::Duration timeout = absl::Seconds(60);
  // Written to the child's standard input, which is then closed. Without
  // it the child reads /dev/null.
  std::optional<std::string> stdin_data;
  // The child's environment is this process's, minus `env_unset`, plus
  // `env_set` (which wins over `env_unset` for the same name).
  std::map<std::string, std::string> env_set;
  std::vector<std::string> env_unset;
  // Directory the child starts in; empty means this process's.
  std::string working_directory;
  // Bytes kept per stream; the rest is read and discarded (so the child
  // never blocks on a full pipe) and the result says it was truncated.
  size_t max_output_bytes = size_t{256} << 20;
};

// How a started process ended.
struct ProcessResult {
  // Exit status if the process exited; -1 if it was killed by a signal
  // (including our own SIGKILL on timeout).
  int exit_code = -1;
  // The signal that ended it, 0 if it exited.
  int term_signal = 0;
  // True if the timeout expired and the process group was killed; the
  // output is what was read until then.
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;

  // Exited by itself with status 0.
  bool Succeeded() const { return exit_code == 0 && !timed_out; }
};

// Runs programs. Implementations are thread-safe: Run may be called from
// several threads at once.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;

  // Runs `request` to completion (or timeout) and returns how it ended. An
  // error status means the program could not be started at all (not found,
  // not executable, bad working directory, no resources): kNotFound,
  // kPermissionDenied, kInvalidArgument or kInternal/kResourceExhausted,
  // with the program's name in the message. A program that ran and failed is
  // an OK result with its exit code.
  virtual absl::StatusOr<ProcessResult> Run(const ProcessRequest& request) = 0;
};

// Runs real processes with posix_spawn. Each child gets its own process
// group (so a timeout kills its children too), the default signal
// dispositions and an empty signal mask. Output pipes are drained with
// poll(), so arbitrarily large output never deadlocks; reading stops when
// both pipes reach end-of-file, so a background grandchild that keeps them
// open holds Run until the timeout.
class RealProcessRunner final : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const ProcessRequest& request) override;
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_PROCESS_RUNNER_H_

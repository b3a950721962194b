// A long-running child process for system tests (ledger_service,
// queue_agent): started with posix_spawn, its output appended to a log file,
// stopped with a signal of the test's choosing (SIGKILL for crash tests).
// Not thread-safe; owned by one test.
#ifndef CCBATCH_TESTS_SYSTEM_DAEMON_PROCESS_H_
#define CCBATCH_TESTS_SYSTEM_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ccbatch::system_test {

class DaemonProcess final {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();  // SIGKILLs a process still running.
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts argv (argv[0] an absolute path) with stdout and stderr appended
  // to `log_path`. REQUIRES: not running.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::string& log_path);
  // Sends `signal` and reaps the process, waiting up to `timeout` (then
  // SIGKILL). OK if it was not running.
  absl::Status Stop(int signal, absl::Duration timeout = absl::Seconds(20));
  // Suspends / resumes the process (SIGSTOP / SIGCONT).
  void Pause();
  void Resume();
  // True while the process has not exited.
  bool Running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace ccbatch::system_test

#endif  // CCBATCH_TESTS_SYSTEM_DAEMON_PROCESS_H_

#include "tests/system/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

extern char** environ;

namespace ccbatch::system_test {
namespace {

// Waits for `pid` to exit until `deadline`, polling waitpid(WNOHANG) on a
// condition with a timeout: a child's exit has no other portable signal.
bool ReapUntil(pid_t pid, absl::Time deadline) {
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return true;
    if (absl::Now() >= deadline) return false;
    mu.AwaitWithTimeout(absl::Condition::kTrue, absl::Milliseconds(20));
  }
}

}  // namespace

DaemonProcess::~DaemonProcess() { Stop(SIGKILL).IgnoreError(); }

absl::Status DaemonProcess::Start(const std::vector<std::string>& argv,
                                  const std::string& log_path) {
  if (pid_ > 0) return absl::FailedPreconditionError("already running");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status DaemonProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGCONT);
  kill(pid_, signal);
  if (!ReapUntil(pid_, absl::Now() + timeout)) {
    kill(pid_, SIGKILL);
    ReapUntil(pid_, absl::Now() + absl::Seconds(10));
    pid_ = -1;
    return absl::DeadlineExceededError(absl::StrCat(
        "process did not exit within ", absl::FormatDuration(timeout),
        " of signal ", signal, "; killed"));
  }
  pid_ = -1;
  return absl::OkStatus();
}

void DaemonProcess::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void DaemonProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

bool DaemonProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

}  // namespace ccbatch::system_test

#include "common/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace ccbatch::common {
namespace {

using SteadyClock = std::chrono::steady_clock;

// After our SIGKILL, how long to keep reading output that a process which
// escaped the group may hold open before giving up on end-of-file.
constexpr auto kDrainAfterKill = std::chrono::seconds(2);
constexpr size_t kReadChunk = 64 * 1024;

// Closes the descriptor it owns.
class ScopedFd final {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~ScopedFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  ScopedFd read_end;
  ScopedFd write_end;
};

// Both ends close-on-exec (posix_spawn's dup2 clears it on the child's 0-2),
// so concurrent Runs never leak each other's pipes into their children.
absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "could not create a pipe");
  }
  return Pipe{ScopedFd(fds[0]), ScopedFd(fds[1])};
}

void SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

std::vector<std::string> ChildEnvironment(const ProcessRequest& request) {
  std::set<std::string_view> dropped(request.env_unset.begin(),
                                     request.env_unset.end());
  for (const auto& [name, value] : request.env_set) dropped.insert(name);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (dropped.count(text.substr(0, text.find('='))) > 0) continue;
    env.emplace_back(text);
  }
  for (const auto& [name, value] : request.env_set) {
    env.push_back(absl::StrCat(name, "=", value));
  }
  return env;
}

std::vector<char*> NullTerminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Owns posix_spawn's attribute and file-action objects.
class SpawnSetup final {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr_);
    posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Own process group (so the timeout kills grandchildren too), default
  // signal handling and an empty mask whatever this thread has.
  void ConfigureAttributes() {
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setpgroup(&attr_, 0);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETPGROUP |
                                         POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF);
  }

  void ConfigureFiles(int stdin_fd, int stdout_fd, int stderr_fd,
                      const std::string& working_directory) {
    if (stdin_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions_, stdin_fd, STDIN_FILENO);
    } else {
      posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null",
                                       O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions_, stdout_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions_, stderr_fd, STDERR_FILENO);
    // Descriptors this process opened without O_CLOEXEC (databases, sockets)
    // must not leak into squeue or sbatch.
    posix_spawn_file_actions_addclosefrom_np(&actions_, STDERR_FILENO + 1);
    if (!working_directory.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions_,
                                           working_directory.c_str());
    }
  }

  // Returns the child's pid or the errno of the failed start.
  absl::StatusOr<pid_t> Spawn(std::vector<std::string> argv,
                              std::vector<std::string> env) {
    std::vector<char*> argv_ptrs = NullTerminated(argv);
    std::vector<char*> env_ptrs = NullTerminated(env);
    const bool search_path = argv[0].find('/') == std::string::npos;
    pid_t pid = -1;
    const int error =
        search_path ? posix_spawnp(&pid, argv[0].c_str(), &actions_, &attr_,
                                   argv_ptrs.data(), env_ptrs.data())
                    : posix_spawn(&pid, argv[0].c_str(), &actions_, &attr_,
                                  argv_ptrs.data(), env_ptrs.data());
    if (error != 0) return absl::ErrnoToStatus(error, "");
    return pid;
  }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

// Appends what can be read now from `fd`; closes it at end-of-file.
void ReadAvailable(ScopedFd& fd, std::string& out, bool& truncated,
                   size_t limit) {
  char buffer[kReadChunk];
  while (true) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n > 0) {
      const size_t room = limit > out.size() ? limit - out.size() : 0;
      const size_t keep = std::min(room, static_cast<size_t>(n));
      out.append(buffer, keep);
      if (keep < static_cast<size_t>(n)) truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fd.Reset();  // end-of-file or a read error: nothing more will come
    return;
  }
}

// Writes as much of `data` from `offset` as the pipe takes now. A child that
// exits or closes stdin early makes the write fail with EPIPE; SIGPIPE is
// blocked on this thread meanwhile and a pending one is consumed, so the
// process is never killed by it and other threads are unaffected.
void WriteAvailable(ScopedFd& fd, const std::string& data, size_t& offset) {
  sigset_t pipe_only;
  sigset_t previous;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  bool broken = false;
  while (offset < data.size()) {
    const ssize_t n = write(fd.get(), data.data() + offset,
                            std::min(data.size() - offset, kReadChunk));
    if (n > 0) {
      offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    broken = true;
    break;
  }
  if (broken) {
    const struct timespec zero = {0, 0};
    sigtimedwait(&pipe_only, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (broken || offset >= data.size()) fd.Reset();
}

int MillisUntil(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - SteadyClock::now());
  return static_cast<int>(
      std::clamp<int64_t>(left.count() + 1, 0, 24 * 3600 * 1000));
}

void KillGroup(pid_t pid) {
  if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
}

// Returns true and fills `status` once `pid` has exited; EINTR-safe.
bool Reap(pid_t pid, int& status, bool block) {
  while (true) {
    const pid_t r = waitpid(pid, &status, block ? 0 : WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno == EINTR) continue;
    return false;
  }
}

// The child's pipes and how far its stdin has been written.
struct ChildIo {
  ScopedFd stdin_w;
  ScopedFd stdout_r;
  ScopedFd stderr_r;
  size_t stdin_offset = 0;
};

// Services the pipes until both outputs are at end-of-file or `deadline`.
// Returns false on timeout.
bool PumpUntil(ChildIo& io, const ProcessRequest& request,
               ProcessResult& result, SteadyClock::time_point deadline) {
  while (io.stdout_r.valid() || io.stderr_r.valid()) {
    pollfd fds[3];
    int count = 0;
    for (ScopedFd* fd : {&io.stdout_r, &io.stderr_r}) {
      if (fd->valid()) fds[count++] = {fd->get(), POLLIN, 0};
    }
    if (io.stdin_w.valid()) fds[count++] = {io.stdin_w.get(), POLLOUT, 0};
    const int timeout_ms = MillisUntil(deadline);
    if (timeout_ms == 0) return false;
    const int ready = poll(fds, count, timeout_ms);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    if (io.stdout_r.valid()) {
      ReadAvailable(io.stdout_r, result.stdout_text, result.stdout_truncated,
                    request.max_output_bytes);
    }
    if (io.stderr_r.valid()) {
      ReadAvailable(io.stderr_r, result.stderr_text, result.stderr_truncated,
                    request.max_output_bytes);
    }
    if (io.stdin_w.valid()) {
      WriteAvailable(io.stdin_w, *request.stdin_data, io.stdin_offset);
    }
  }
  return true;
}

// Waits for `pid` to exit until `deadline`, polling with a growing interval:
// only reached when the child closed its output before exiting.
bool WaitUntil(pid_t pid, int& status, SteadyClock::time_point deadline) {
  int interval_ms = 1;
  while (!Reap(pid, status, /*block=*/false)) {
    const int left = MillisUntil(deadline);
    if (left == 0) return false;
    poll(nullptr, 0, std::min(interval_ms, left));
    interval_ms = std::min(interval_ms * 2, 50);
  }
  return true;
}

void RecordExit(int status, ProcessResult& result) {
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = -1;
    result.term_signal = WTERMSIG(status);
  }
}

absl::StatusOr<ChildIo> StartChild(const ProcessRequest& request, pid_t& pid) {
  ChildIo io;
  std::optional<Pipe> in;
  if (request.stdin_data.has_value()) {
    absl::StatusOr<Pipe> made = MakePipe();
    if (!made.ok()) return made.status();
    in = std::move(*made);
  }
  absl::StatusOr<Pipe> out = MakePipe();
  if (!out.ok()) return out.status();
  absl::StatusOr<Pipe> err = MakePipe();
  if (!err.ok()) return err.status();

  SpawnSetup setup;
  setup.ConfigureAttributes();
  setup.ConfigureFiles(in ? in->read_end.get() : -1, out->write_end.get(),
                       err->write_end.get(), request.working_directory);
  absl::StatusOr<pid_t> spawned =
      setup.Spawn(request.argv, ChildEnvironment(request));
  if (!spawned.ok()) {
    std::string where = request.working_directory.empty()
                            ? ""
                            : absl::StrCat(" in ", request.working_directory);
    return absl::Status(spawned.status().code(),
                        absl::StrCat("could not start ", request.argv[0], where,
                                     spawned.status().message()));
  }
  pid = *spawned;
  if (in) {
    io.stdin_w = std::move(in->write_end);
    SetNonBlocking(io.stdin_w.get());
  }
  io.stdout_r = std::move(out->read_end);
  io.stderr_r = std::move(err->read_end);
  SetNonBlocking(io.stdout_r.get());
  SetNonBlocking(io.stderr_r.get());
  return io;  // the child's ends close here, so EOF follows its exit
}

}  // namespace

absl::StatusOr<ProcessResult> RealProcessRunner::Run(
    const ProcessRequest& request) {
  if (request.argv.empty() || request.argv[0].empty()) {
    return absl::InvalidArgumentError("ProcessRequest.argv is empty");
  }
  // Clamped so an infinite timeout cannot overflow the deadline.
  const absl::Duration timeout =
      std::clamp(request.timeout, absl::ZeroDuration(), absl::Hours(24 * 365));
  const auto deadline = SteadyClock::now() + absl::ToChronoNanoseconds(timeout);
  pid_t pid = -1;
  absl::StatusOr<ChildIo> io = StartChild(request, pid);
  if (!io.ok()) return io.status();

  ProcessResult result;
  int status = 0;
  bool finished = PumpUntil(*io, request, result, deadline) &&
                  WaitUntil(pid, status, deadline);
  if (!finished) {
    result.timed_out = true;
    KillGroup(pid);
    io->stdin_w.Reset();
    PumpUntil(*io, request, result, SteadyClock::now() + kDrainAfterKill);
    Reap(pid, status, /*block=*/true);
  }
  RecordExit(status, result);
  return result;
}

}  // namespace ccbatch::common

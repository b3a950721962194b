// ccctl's entry point: wires the real clock, files, environment, terminal
// and Ctrl-C into RunCcctl (ccctl_app.h), which does everything else.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "cli/ccctl_app.h"
#include "cli/ledger_client.h"
#include "common/clock.h"
#include "common/file_system.h"

namespace {

// Ctrl-C during `status --watch` ends the watch cleanly; at any other time
// it ends ccctl at once, as a person expects. Signals are taken by one
// thread with sigwait, so no work happens in a signal handler.
void HandleInterrupts(ccbatch::cli::CallCanceller* canceller) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before gRPC starts its threads, which inherit the mask.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals, canceller] {
    while (true) {
      int signal_number = 0;
      if (sigwait(&signals, &signal_number) != 0) continue;
      if (!canceller->Cancel()) std::_Exit(128 + signal_number);
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  static ccbatch::cli::CallCanceller canceller;
  HandleInterrupts(&canceller);

  ccbatch::cli::CcctlEnvironment env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.out_is_tty = isatty(STDOUT_FILENO) == 1;
  env.clock = ccbatch::common::RealClock::Default();
  env.time_zone = absl::LocalTimeZone();
  env.get_env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  env.fs = ccbatch::common::PosixFileSystem::Default();
  env.canceller = &canceller;
  std::vector<std::string> args(argv, argv + argc);
  const int code = ccbatch::cli::RunCcctl(args, env);
  std::cout.flush();
  return code;
}

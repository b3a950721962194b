// ccctl's command line: parses arguments with CLI11, resolves the
// connection (--ledger, else $CCBATCH_LEDGER, else 127.0.0.1:50051; token
// from --token-file; TLS from --tls*), runs the command and maps its result
// to an exit code (exit_code.h). Everything outside the process comes in
// through CcctlEnvironment, so tests drive the whole program in-process.
//
// Thread-compatible.
#ifndef CCBATCH_CLI_CCCTL_APP_H_
#define CCBATCH_CLI_CCCTL_APP_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/ledger_client.h"
#include "common/clock.h"
#include "common/file_system.h"

namespace ccbatch::cli {

// The address used when neither --ledger nor CCBATCH_LEDGER is given.
inline constexpr char kDefaultLedgerAddress[] = "127.0.0.1:50051";

// Not owned; every member must be set except `canceller`.
struct CcctlEnvironment {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  // Standard output is a terminal (colours, live redraw).
  bool out_is_tty = false;
  const common::Clock* clock = nullptr;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  // An environment variable, nullopt when unset.
  std::function<std::optional<std::string>(const std::string& name)> get_env;
  // Batchfiles, the token file, TLS material, `export --out`.
  common::FileSystem* fs = nullptr;
  // Ctrl-C ends a running watch through it; may be null.
  CallCanceller* canceller = nullptr;
};

// Runs `args` (args[0] is the program name) and returns the exit code:
// 0 ok, 1 the ledger refused, 2 bad usage or input, 3 ledger unreachable.
// Results go to env.out; errors, each saying what to do, to env.err.
int RunCcctl(const std::vector<std::string>& args, const CcctlEnvironment& env);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_CCCTL_APP_H_

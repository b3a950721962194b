// ccctl's exit codes (issue 5) and how an absl::Status maps onto them.
//
// Commands return absl::Status. A status that came back from the ledger is
// marked with MarkFromLedger(); everything else is local (bad flags, a file
// that cannot be read, a batchfile the reader refused). That mark, not the
// canonical code, separates "you typed something wrong" (2) from "the server
// said no" (1): both can be INVALID_ARGUMENT.
//
// Pure functions, thread-safe.
#ifndef CCBATCH_CLI_EXIT_CODE_H_
#define CCBATCH_CLI_EXIT_CODE_H_

#include "absl/status/status.h"

namespace ccbatch::cli {

enum class ExitCode : int {
  kOk = 0,
  // The ledger answered with an error (NOT_FOUND, PERMISSION_DENIED, ...).
  kRefused = 1,
  // Bad usage or bad input, found before (or without) asking the ledger.
  kBadInput = 2,
  // The ledger could not be reached or did not answer in time.
  kUnreachable = 3,
};

// Returns `status` marked as the ledger's answer. OK stays OK.
absl::Status MarkFromLedger(absl::Status status);

// True if `status` carries the MarkFromLedger() mark.
bool IsFromLedger(const absl::Status& status);

// 0 for OK; for a ledger status: 3 for UNAVAILABLE and DEADLINE_EXCEEDED,
// 1 otherwise; 2 for every local error.
ExitCode ExitCodeFor(const absl::Status& status);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_EXIT_CODE_H_

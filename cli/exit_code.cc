#include "cli/exit_code.h"

#include <utility>

#include "absl/strings/cord.h"

namespace ccbatch::cli {
namespace {

// A payload type URL is the documented way to attach facts to a Status.
constexpr char kLedgerOriginUrl[] = "type.ccbatch.dev/ccctl.LedgerOrigin";

}  // namespace

absl::Status MarkFromLedger(absl::Status status) {
  if (!status.ok()) status.SetPayload(kLedgerOriginUrl, absl::Cord("ledger"));
  return status;
}

bool IsFromLedger(const absl::Status& status) {
  return status.GetPayload(kLedgerOriginUrl).has_value();
}

ExitCode ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return ExitCode::kOk;
  if (!IsFromLedger(status)) return ExitCode::kBadInput;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return ExitCode::kUnreachable;
    default:
      return ExitCode::kRefused;
  }
}

}  // namespace ccbatch::cli

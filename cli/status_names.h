// How ccctl names job statuses to people and parses them from flags.
// The name is the enum's suffix in lower case ("running",
// "broken_dependency"), the same words `--status` accepts, so what a table
// shows can be typed back.
//
// Pure functions, thread-safe.
#ifndef CCBATCH_CLI_STATUS_NAMES_H_
#define CCBATCH_CLI_STATUS_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "cli/text_table.h"

namespace ccbatch::cli {

// "running" for JOB_STATUS_RUNNING; "unspecified" for 0; "status_<n>" for a
// value this build does not know (a newer ledger).
std::string StatusName(ccbatch::v1::JobStatus status);

// Colour of a status on a terminal: green succeeded, red failed and broken,
// cyan running, yellow queued, magenta cancelled, bold red unknown.
CellStyle StatusStyle(ccbatch::v1::JobStatus status);

// SUCCEEDED, FAILED, BROKEN_DEPENDENCY or CANCELLED (BatchSummary.final).
bool IsFinal(ccbatch::v1::JobStatus status);

// Every known status, in enum order (UNSPECIFIED excluded).
const std::vector<ccbatch::v1::JobStatus>& AllStatuses();

// Parses a comma-separated list such as "failed,running", case-insensitive,
// blanks around names ignored; also accepts the enum names
// ("JOB_STATUS_FAILED") and "broken". InvalidArgument names the bad word
// and lists the valid ones. An empty list is InvalidArgument too.
absl::StatusOr<std::vector<ccbatch::v1::JobStatus>> ParseStatusList(
    absl::string_view text);

// A reason without a leading "<STATUS>: " that repeats the status column.
absl::string_view ReasonWithoutStatus(ccbatch::v1::JobStatus status,
                                      absl::string_view reason);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_STATUS_NAMES_H_

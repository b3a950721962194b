#include "cli/status_names.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ccbatch::cli {
namespace {

using ::ccbatch::v1::JobStatus;

constexpr absl::string_view kStatusPrefix = "JOB_STATUS_";

}  // namespace

std::string StatusName(JobStatus status) {
  if (!ccbatch::v1::JobStatus_IsValid(status)) {
    return absl::StrCat("status_", static_cast<int>(status));
  }
  return absl::AsciiStrToLower(
      absl::StripPrefix(ccbatch::v1::JobStatus_Name(status), kStatusPrefix));
}

CellStyle StatusStyle(JobStatus status) {
  switch (status) {
    case ccbatch::v1::JOB_STATUS_SUCCEEDED:
      return CellStyle::kGreen;
    case ccbatch::v1::JOB_STATUS_FAILED:
    case ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY:
      return CellStyle::kRed;
    case ccbatch::v1::JOB_STATUS_RUNNING:
    case ccbatch::v1::JOB_STATUS_COMPLETING:
      return CellStyle::kCyan;
    case ccbatch::v1::JOB_STATUS_SUBMITTING:
    case ccbatch::v1::JOB_STATUS_SUBMITTED:
    case ccbatch::v1::JOB_STATUS_PENDING:
      return CellStyle::kYellow;
    case ccbatch::v1::JOB_STATUS_CANCELLED:
      return CellStyle::kMagenta;
    case ccbatch::v1::JOB_STATUS_UNKNOWN:
      return CellStyle::kBold;
    default:
      return CellStyle::kPlain;
  }
}

bool IsFinal(JobStatus status) {
  return status == ccbatch::v1::JOB_STATUS_SUCCEEDED ||
         status == ccbatch::v1::JOB_STATUS_FAILED ||
         status == ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY ||
         status == ccbatch::v1::JOB_STATUS_CANCELLED;
}

const std::vector<JobStatus>& AllStatuses() {
  static const std::vector<JobStatus>* const kAll = [] {
    auto* all = new std::vector<JobStatus>;
    for (int i = ccbatch::v1::JobStatus_MIN + 1;
         i <= ccbatch::v1::JobStatus_MAX; ++i) {
      if (ccbatch::v1::JobStatus_IsValid(i)) {
        all->push_back(static_cast<JobStatus>(i));
      }
    }
    return all;
  }();
  return *kAll;
}

absl::StatusOr<std::vector<JobStatus>> ParseStatusList(absl::string_view text) {
  std::vector<JobStatus> statuses;
  for (absl::string_view word :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(word));
    if (name == "BROKEN") name = "BROKEN_DEPENDENCY";
    if (!absl::StartsWith(name, kStatusPrefix)) {
      name = absl::StrCat(kStatusPrefix, name);
    }
    JobStatus status;
    if (!ccbatch::v1::JobStatus_Parse(name, &status) ||
        status == ccbatch::v1::JOB_STATUS_UNSPECIFIED) {
      std::vector<std::string> valid;
      for (JobStatus s : AllStatuses()) valid.push_back(StatusName(s));
      return absl::InvalidArgumentError(
          absl::StrCat("unknown status \"", absl::StripAsciiWhitespace(word),
                       "\"; expected a comma-separated list of: ",
                       absl::StrJoin(valid, ", ")));
    }
    statuses.push_back(status);
  }
  if (statuses.empty()) {
    return absl::InvalidArgumentError(
        "empty status list; give e.g. --status failed,running");
  }
  return statuses;
}

absl::string_view ReasonWithoutStatus(JobStatus status,
                                      absl::string_view reason) {
  const std::string prefix = absl::StrCat(
      absl::StripPrefix(ccbatch::v1::JobStatus_Name(status), kStatusPrefix),
      ":");
  if (!absl::StartsWith(reason, prefix)) return reason;
  return absl::StripLeadingAsciiWhitespace(reason.substr(prefix.size()));
}

}  // namespace ccbatch::cli

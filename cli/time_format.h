// Times and durations as ccctl prints them. Pure functions, thread-safe.
#ifndef CCBATCH_CLI_TIME_FORMAT_H_
#define CCBATCH_CLI_TIME_FORMAT_H_

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace ccbatch::cli {

// Compact, two units at most: "45s", "12m05s", "3h04m", "2d03h". Negative
// durations (clock skew between ledger and client) print as "0s".
std::string FormatAge(absl::Duration age);

// Unset (all zero) timestamps are "never set" in the API.
bool IsSet(const google::protobuf::Timestamp& timestamp);

absl::Time ToTime(const google::protobuf::Timestamp& timestamp);

// "2026-01-01 12:00:03 UTC" in `zone`; "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp,
                            absl::TimeZone zone);

// "12m05s ago" relative to `now`; "never" when unset.
std::string FormatAgo(const google::protobuf::Timestamp& timestamp,
                      absl::Time now);

// RFC 3339 in UTC ("2026-01-01T12:00:03Z"); "" when unset. For CSV.
std::string FormatRfc3339(const google::protobuf::Timestamp& timestamp);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_TIME_FORMAT_H_

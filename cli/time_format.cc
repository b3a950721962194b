#include "cli/time_format.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ccbatch::cli {

std::string FormatAge(absl::Duration age) {
  const int64_t seconds =
      age < absl::ZeroDuration() ? 0 : absl::ToInt64Seconds(age);
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) {
    return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  }
  if (seconds < 86400) {
    return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
  }
  return absl::StrFormat("%dd%02dh", seconds / 86400, (seconds % 86400) / 3600);
}

bool IsSet(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() != 0 || timestamp.nanos() != 0;
}

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp,
                            absl::TimeZone zone) {
  if (!IsSet(timestamp)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", ToTime(timestamp), zone);
}

std::string FormatAgo(const google::protobuf::Timestamp& timestamp,
                      absl::Time now) {
  if (!IsSet(timestamp)) return "never";
  return absl::StrCat(FormatAge(now - ToTime(timestamp)), " ago");
}

std::string FormatRfc3339(const google::protobuf::Timestamp& timestamp) {
  if (!IsSet(timestamp)) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", ToTime(timestamp),
                          absl::UTCTimeZone());
}

}  // namespace ccbatch::cli

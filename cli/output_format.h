// What every ccctl renderer needs to know besides the message it renders.
#ifndef CCBATCH_CLI_OUTPUT_FORMAT_H_
#define CCBATCH_CLI_OUTPUT_FORMAT_H_

#include "absl/time/time.h"

namespace ccbatch::cli {

// `-o table|json|csv`.
enum class OutputFormat { kTable, kJson, kCsv };

struct RenderOptions {
  // "Now" for ages ("age in status", "snapshot taken 12s ago"); from the
  // injected Clock, so golden outputs are stable.
  absl::Time now = absl::UnixEpoch();
  // Zone for absolute times in tables (CSV and JSON are always UTC).
  absl::TimeZone time_zone = absl::UTCTimeZone();
  // ANSI colours: only on a terminal and without NO_COLOR.
  bool color = false;
};

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_OUTPUT_FORMAT_H_

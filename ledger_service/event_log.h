// The ledger service's operational log: one line per event, key=value
// (logfmt), e.g.
//   ts=2026-01-01T00:00:00Z event=agent_connected cluster=hpc1 stream=3
// Values containing spaces, quotes, '=' or control characters are quoted
// with C-style escapes, so every line splits unambiguously.
#ifndef CCBATCH_LEDGER_SERVICE_EVENT_LOG_H_
#define CCBATCH_LEDGER_SERVICE_EVENT_LOG_H_

#include <functional>
#include <initializer_list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace ccbatch::ledger {

struct LogField {
  LogField(absl::string_view key, const absl::AlphaNum& value)
      : key(key), value(value.Piece()) {}
  absl::string_view key;
  std::string value;
};

// `ts=... event=<event> k=v ...` without a newline. Pure.
std::string FormatEventLine(absl::Time at, absl::string_view event,
                            std::initializer_list<LogField> fields);

// Thread-safe: lines reach the sink whole and one at a time.
class EventLog final {
 public:
  using Sink = std::function<void(absl::string_view line)>;

  // REQUIRES: `clock` outlives the log (not owned).
  EventLog(common::Clock* clock, Sink sink);
  // Lines (with a newline) to stderr, stamped by `clock`.
  static EventLog ToStderr(common::Clock* clock);

  void Log(absl::string_view event, std::initializer_list<LogField> fields);
  // For sources that format their own `key=value` pairs (the ledger core's
  // LedgerOptions::log): `fields` is appended as is after the event.
  void LogPreformatted(absl::string_view event, absl::string_view fields);

 private:
  common::Clock* const clock_;
  absl::Mutex mu_;
  Sink sink_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_EVENT_LOG_H_

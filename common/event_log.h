// The operational log of every ccbatch daemon: one line per event, a
// timestamp, a level and `key=value` pairs (logfmt), so a person can grep it
// and a log shipper can parse it without a schema:
//
//   ts=2026-01-01T00:00:00.123Z level=warning cluster=hpc1
//   event=probe_failed exit_code=1 error="slurm_load_jobs error: ..."
//
// (one line). The order is fixed: `ts`, `level`, the log's context pairs
// (e.g. the agent's cluster), `event`, then the event's own fields in the
// order given. Every line about a cluster or a job carries `cluster=` and
// `job=` (callers pass them; the agent's cluster is context).
//
// A value is written bare unless it is empty or holds a space, '"', '=',
// '\\' or a control character; then it is quoted, with \" \\ \n \r \t and
// \xNN for other control bytes, so a line is always one line and splits
// unambiguously. Apostrophes and UTF-8 stay readable.
#ifndef CCBATCH_COMMON_EVENT_LOG_H_
#define CCBATCH_COMMON_EVENT_LOG_H_

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"

namespace ccbatch::common {

enum class LogLevel { kInfo, kWarning, kError };

// "info", "warning", "error".
absl::string_view LogLevelName(LogLevel level);

// One `key=value` pair. The value is anything absl::StrCat takes (strings,
// integers, doubles) and is copied; the key must outlive the field (a
// literal, in practice).
struct LogField {
  LogField(absl::string_view key, const absl::AlphaNum& value)
      : key(key), value(value.Piece()) {}
  absl::string_view key;
  std::string value;
};

// `value` as it appears after '=' in a line. Pure.
std::string LogValue(absl::string_view value);

// The line (without newline) for an event at `at`. Pure.
std::string FormatLogLine(absl::Time at, LogLevel level,
                          absl::Span<const LogField> context,
                          absl::string_view event,
                          absl::Span<const LogField> fields);

// Thread-safe: lines reach the sink whole and one at a time, so a sink
// needs no locking of its own.
class EventLog final {
 public:
  // Receives each complete line, without the newline.
  using Sink = std::function<void(const std::string& line)>;

  // Lines are stamped by `clock` and carry `context` after the level.
  // REQUIRES: `clock` outlives the log (not owned).
  EventLog(const Clock* clock, Sink sink, std::vector<LogField> context = {});

  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Routine events: a stream opened, a snapshot applied, an order sent.
  void Info(absl::string_view event,
            absl::Span<const LogField> fields = {}) const;
  // Something went wrong that the system works around (a probe failed, a
  // result was ignored, a snapshot was dropped).
  void Warning(absl::string_view event,
               absl::Span<const LogField> fields = {}) const;
  // Something an operator must look at (a write failed, a fatal error).
  void Error(absl::string_view event,
             absl::Span<const LogField> fields = {}) const;
  void Log(LogLevel level, absl::string_view event,
           absl::Span<const LogField> fields = {}) const;

  // Writes each line and a newline to stderr with one write(2), so lines
  // never interleave even with other writers of stderr.
  static Sink StderrSink();
  // Drops every line (for tests and benchmarks that do not look at logs).
  static Sink DiscardSink();

 private:
  const Clock* const clock_;
  const std::vector<LogField> context_;
  mutable absl::Mutex mu_;
  const Sink sink_ ABSL_GUARDED_BY(mu_);
};

// A sink that keeps the lines, for tests. Thread-safe.
class LogCapture final {
 public:
  // REQUIRES: the capture outlives every log using the sink.
  EventLog::Sink Sink();

  std::vector<std::string> Lines() const;
  // The lines containing every one of `parts`.
  std::vector<std::string> LinesWith(
      std::initializer_list<absl::string_view> parts) const;
  // Waits (real time, up to `timeout`) until at least `count` lines contain
  // every one of `parts`; returns whether they do.
  bool AwaitLinesWith(std::initializer_list<absl::string_view> parts, int count,
                      absl::Duration timeout) const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_EVENT_LOG_H_

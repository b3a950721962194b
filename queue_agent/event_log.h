// The agent's log: one line per event, `key=value` pairs, so a person can
// grep it and a log shipper can parse it without a schema:
//
//   ts=2026-01-01T00:00:00.000Z cluster=hpc1 event=probe_failed exit_code=1
//   error="slurm_load_jobs error: Unable to contact slurm controller"
//
// (one line). Every line carries the log's context pairs (the cluster) after
// the timestamp; callers add the job key where an event concerns one.
#ifndef CCBATCH_QUEUE_AGENT_EVENT_LOG_H_
#define CCBATCH_QUEUE_AGENT_EVENT_LOG_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/clock.h"

namespace ccbatch::agent {

// One `key=value` pair of a log line. The value is quoted (with C escapes)
// when it is empty or holds a space, '"', '=', '\\' or a control character, so
// a line is always one line and splits unambiguously.
using LogField = std::pair<absl::string_view, absl::string_view>;

// Thread-safe if the sink is (the stderr sink is).
class EventLog final {
 public:
  // Receives each complete line, without the newline.
  using Sink = std::function<void(const std::string& line)>;

  // REQUIRES: `clock` outlives the log; not owned.
  EventLog(const common::Clock* clock, Sink sink,
           std::vector<std::pair<std::string, std::string>> context);

  // Writes `ts=<now> <context> event=<event> <fields>`.
  void Log(absl::string_view event,
           absl::Span<const LogField> fields = {}) const;

  // A sink writing each line and a newline to stderr with one write(2), so
  // lines from different threads never interleave.
  static Sink StderrSink();

 private:
  const common::Clock* const clock_;
  const Sink sink_;
  // The rendered context pairs, with a trailing space.
  const std::string context_;
};

// `value` as it appears after '=' in a line.
std::string LogValue(absl::string_view value);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_EVENT_LOG_H_

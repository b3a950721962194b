// Turns `squeue` text output into queue entries. Pure: text in, entries and
// diagnostics out; no I/O, no clock.
//
// The agent's query (SqueueProbe) prints, per job or array task, one line of
// six fields separated by the ASCII unit separator 0x1F:
//
//   %i job id | %T state (long) | %r reason | %N nodes | %k comment | %j name
//
// Why this shape:
// - 0x1F never occurs in what SLURM generates (ids, states, reasons, node
//   lists) and practically never in what users type; Open OnDemand's ood_core
//   uses the same separator against production squeue (see the captures in
//   corpus/squeue/), so squeue passes it through untouched.
// - The job name is free text that can hold spaces, `|` and tabs (lab report
//   §8.9), so it is LAST: the last field takes the rest of the line, whatever
//   it contains.
// - The comment is free text too. It goes just before the name and is cut at
//   its first 0x1F; were a user to put 0x1F into a comment, the remainder
//   would land in the name, never in another job's fields. ccbatch's own tag
//   ("ccb:<order id>") is a prefix of the comment and survives that intact.
// - A name or comment containing a newline splits its record: the first part
//   parses (truncated), the continuation is counted as a malformed line.
#ifndef CCBATCH_QUEUE_AGENT_SQUEUE_PARSER_H_
#define CCBATCH_QUEUE_AGENT_SQUEUE_PARSER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "queue_agent/queue_snapshot.h"

namespace ccbatch::agent {

// The `-o` argument of the agent's squeue query; SqueueLayout::Agent()
// describes the lines it produces.
inline constexpr char kAgentSqueueFormat[] = "%i\x1f%T\x1f%r\x1f%N\x1f%k\x1f%j";

// What a column of squeue output holds.
enum class SqueueField {
  kJobId,    // %i: "4812", "4812_7", "4812_[8-10]", "4812+1"
  kState,    // %T long form or %t short form; stored in long form
  kReason,   // %r
  kNodes,    // %N; "(null)" is stored as ""
  kComment,  // %k; "(null)" is stored as ""
  kName,     // %j
  kIgnored,  // any other column
};

// How the fields of one line are laid out. The last field takes the rest of
// the line, delimiters included.
struct SqueueLayout {
  std::string delimiter;
  std::vector<SqueueField> fields;

  // The layout of kAgentSqueueFormat.
  static SqueueLayout Agent();
};

// The parse of one squeue output as views into it.
struct ParsedSqueueRows {
  // One row per well-formed line, in output order. Views into the parsed
  // output (and static storage): valid while the output is.
  std::vector<QueueRow> rows;
  // True if every field of every row is valid UTF-8: the output (and the
  // layout's delimiter) was, as a whole, checked in one pass.
  bool rows_are_utf8 = false;
  // malformed_lines, malformed_samples and unknown_states; probe_millis is
  // left for the caller.
  v1::SnapshotDiagnostics diagnostics;
  // Non-blank lines seen (rows + malformed lines).
  int64_t lines = 0;
};

// The parse of one squeue output as messages.
struct ParsedSqueue {
  // One entry per well-formed line, in output order.
  std::vector<v1::QueueEntry> entries;
  // As in ParsedSqueueRows.
  v1::SnapshotDiagnostics diagnostics;
  int64_t lines = 0;
};

// Thread-safe (const after construction).
class SqueueParser final {
 public:
  // At most this many malformed lines are quoted in diagnostics.
  static constexpr int kMaxMalformedSamples = 5;
  // A quoted line is cut to this many bytes before escaping.
  static constexpr size_t kMaxSampleBytes = 160;

  // A parser for the agent's own format (kAgentSqueueFormat).
  SqueueParser();

  // A parser for another field layout, e.g. a capture made with a different
  // `-o`. kInvalidArgument unless the delimiter is non-empty, there is
  // exactly one kJobId and no other field kind but kIgnored repeats.
  static absl::StatusOr<SqueueParser> ForLayout(SqueueLayout layout);

  // Parses `output` into rows viewing it; what the probe uses (no
  // allocation per field). Never fails: blank lines are skipped; a line
  // with too few fields, an empty or ill-formed job id, or an empty state is
  // counted as malformed (with its 1-based line number in the samples) and
  // yields no row; an unknown state is kept verbatim and counted. Accepts
  // "\r\n". REQUIRES: `output` outlives the rows' use.
  ParsedSqueueRows ParseRows(absl::string_view output) const;

  // As ParseRows, but into self-contained QueueEntry messages: the same
  // fields (made valid UTF-8 as QueueRow::FillEntry does), diagnostics and
  // line count. About 6 times slower for large outputs (protobuf allocates
  // every field); for callers that keep entries apart from the text.
  ParsedSqueue Parse(absl::string_view output) const;

 private:
  explicit SqueueParser(SqueueLayout layout);

  SqueueLayout layout_;
};

// True if `id` is a SLURM job id as squeue's %i prints it: digits, optionally
// followed by "_<task>", "_[<task list>]" (list of digits, '-', ',', ':',
// '%') or "+<het offset>". Pure.
bool IsSlurmJobId(absl::string_view id);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SQUEUE_PARSER_H_

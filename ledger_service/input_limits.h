// Limits on what one peer may send the ledger (DESIGN §8), on top of
// gRPC's message size limit (LedgerServerOptions::max_receive_message_bytes)
// and the snapshot assembler's (entries and chunks per snapshot, one
// snapshot in flight per stream: snapshot_assembler.h).
//
// A request or agent message over a limit is refused whole before the
// ledger sees it, so nothing stored changes and every other caller is
// served as before:
//  - a string field longer than max_string_bytes: INVALID_ARGUMENT naming
//    the field (names, paths, reasons, squeue fields, errors; the stricter
//    rules for names and paths of an import are batch_validator.h's);
//  - more jobs (or job keys) in one request than max_jobs_per_request:
//    RESOURCE_EXHAUSTED.
// Verdict evidence is the exception: it is cut to the limits, never
// refused, and the verdict says so in a warning. A refused verdict would
// close the agent's stream; the agent would judge the same output again
// after reconnecting and send the same evidence, and the job would never
// get a verdict.
//
// Pure functions, thread-compatible.
#ifndef CCBATCH_LEDGER_SERVICE_INPUT_LIMITS_H_
#define CCBATCH_LEDGER_SERVICE_INPUT_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "google/protobuf/message.h"

namespace ccbatch::ledger {

struct InputLimits {
  // Bytes in any one string field. The agent quotes at most 4 KiB of a
  // tool's error; SLURM job names and comments are far shorter.
  size_t max_string_bytes = 64 << 10;
  // Jobs in one ImportBatch; job keys in one Retry, Cancel or Watch. (An
  // import of that many would not fit the default message size limit; this
  // bounds the ledger's work if that limit is raised.)
  int64_t max_jobs_per_request = 1'000'000;
  // Evidence kept per verdict: lines, and bytes of their text in total. The
  // agent sends at most a few dozen lines of at most 300 bytes.
  int max_evidence_lines = 100;
  size_t max_evidence_bytes = 32 << 10;
};

// OK, or INVALID_ARGUMENT naming the first string field of `message` (as
// a path: "snapshot_chunk.entries[12].name", nested and repeated fields
// included) longer than `max_bytes`, its length and the limit.
absl::Status CheckStringLengths(const google::protobuf::Message& message,
                                size_t max_bytes);

// OK, or RESOURCE_EXHAUSTED naming `field`, `count` and the limit.
absl::Status CheckJobCount(int64_t count, absl::string_view field,
                           const InputLimits& limits);

// Keeps the first evidence lines of `verdict` while they stay within
// max_evidence_lines and max_evidence_bytes (cutting the text of the line
// that crosses the byte limit at a UTF-8 boundary), and adds a warning
// "the ledger kept N of M evidence lines (...)" when anything was cut.
// Returns whether it was.
bool TrimEvidence(ccbatch::v1::Verdict& verdict, const InputLimits& limits);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_INPUT_LIMITS_H_

// Server-side validation of a batch definition (DESIGN §8). The ledger runs
// ValidateBatch on every ImportBatch, because a client other than ccctl may
// send anything; ccctl's batchfile reader applies the same rules line by line
// (through the Check* functions below) so that its output always passes.
//
// Pure functions: no I/O, thread-compatible, no state.
#ifndef CCBATCH_COMMON_BATCH_VALIDATOR_H_
#define CCBATCH_COMMON_BATCH_VALIDATOR_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"

namespace ccbatch::common {

// Longest name (batch, cluster, basename, pipe file name, retry cause), bytes.
inline constexpr size_t kMaxNameLength = 256;
// Longest path (run root, directories), bytes.
inline constexpr size_t kMaxPathLength = 4096;
// Upper bound on RetryPolicy.max_attempts: a guard against typos such as 1000.
inline constexpr int32_t kMaxAttempts = 100;
// At most this many defects are listed in one status; the rest are counted.
inline constexpr int kMaxReportedDefects = 20;

// Each Check* returns OK or InvalidArgument whose message says what is wrong
// with the value and what is allowed, without naming where the value came
// from (callers prefix that: "batch.csv:3: batch=", "job \"b/opt\": ").

// Batch and cluster names: 1..kMaxNameLength of [A-Za-z0-9._-], starting
// with a letter or digit. (Used in job keys "<batch>/<basename>", file names
// and command lines, hence no '/', spaces or shell metacharacters.)
absl::Status CheckBatchName(absl::string_view name);
absl::Status CheckClusterName(absl::string_view name);

// A job basename names the job's files (`<basename>.sh`, its output): 1 to
// kMaxNameLength bytes, not "." or "..", without '/', '|' (the ledger export
// separator), whitespace or control characters.
absl::Status CheckJobBasename(absl::string_view basename);

// A path as written in a batchfile (job directory, pipe DIR or FILE):
// non-empty, at most kMaxPathLength bytes, without '|' or control characters.
absl::Status CheckPathText(absl::string_view path);

// An absolute path in lexical normal form: starts with '/', no empty, "." or
// ".." component, no trailing '/' (except "/" itself), within kMaxPathLength,
// and passes CheckPathText.
absl::Status CheckNormalizedAbsolutePath(absl::string_view path);

// A failure cause a retry policy may name. Upper case names must be SLURM
// terminal states that mean "the machine, not the chemistry, failed"
// (BOOT_FAIL, CANCELLED, DEADLINE, FAILED, NODE_FAIL, OUT_OF_MEMORY,
// PREEMPTED, TIMEOUT) so that a typo such as NODEFAIL is caught; lower case
// names ([a-z0-9_]+, e.g. "scf_fail", "no_output") are verdict causes, whose
// vocabulary belongs to the verdict engine and is not checked here.
absl::Status CheckRetryCause(absl::string_view cause);

// Checks everything the ledger relies on; returns OK or InvalidArgument
// listing every defect found (at most kMaxReportedDefects, then "and N
// more"), one per line, each naming the job key (or the batch) and the field:
//  - name (CheckBatchName), cluster (empty, or CheckClusterName; the ledger
//    decides what an empty cluster means), max_parallel >= 0, retry policy
//    (CheckRetryCause, 0 <= max_attempts <= kMaxAttempts),
//    run_root_directory (CheckNormalizedAbsolutePath);
//  - at least one job; per job: key == "<name>/<basename>", basename
//    (CheckJobBasename), directory (CheckNormalizedAbsolutePath, inside the
//    run root), relative_directory (empty or CheckPathText), a known program,
//    order == position in `jobs`;
//  - basenames and directories unique across the batch;
//  - pipe sources (coords, orbitals), when present: directory and filename
//    non-empty (CheckPathText), upstream_key set and listed in upstream_keys,
//    resolved_directory equal to that job's directory;
//  - upstream_keys sorted, without duplicates, each naming another job of the
//    batch (no self-dependency); the dependency graph has no cycle.
absl::Status ValidateBatch(const ccbatch::v1::BatchDefinition& batch);

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_BATCH_VALIDATOR_H_

// Reads a BatchRunner batchfile into a BatchDefinition (DESIGN §8: a bad
// batchfile is refused whole, naming file, line and reason).
//
// The format, as BatchRunner's users already write it, plus optional
// settings lines:
//
//   run_root_directory=/path/to/calculations      (absolute; first line)
//   batch=NAME                                    (optional settings, before
//   cluster=NAME                                  the header, each at most
//   max_parallel=N                                once)
//   retry_on=NODE_FAIL,PREEMPTED
//   max_attempts=N
//   job_basename|job_directory|program|pipe       (header, verbatim)
//   opt|mol1/opt|xtb|
//   sp|mol1/sp|ORCA|coords{../opt,xtbopt.xyz};orbitals{../opt,}
//
// Rules, beyond what the example shows:
//  - Lines end in LF or CRLF; a leading UTF-8 byte order mark is skipped;
//    every line must be valid UTF-8.
//  - Blank lines (only white space) are ignored anywhere. A line whose first
//    non-blank character is '#' is a comment and ignored anywhere (an
//    extension: BatchRunner would have read it as a job). There are no
//    end-of-line comments: '#' may occur in paths. "First line" means the
//    first line that is neither blank nor a comment.
//  - White space around every field, key and value is trimmed.
//  - A row has 4 '|'-separated fields; the pipe field may be empty but its
//    separator is required ("opt|mol1/opt|xtb|"). A fifth, empty field (a
//    trailing '|') is tolerated.
//  - job_directory is relative to the run root (an absolute one must lie
//    inside it); it is normalised lexically ("a/./b//c/.." -> "a/b") and may
//    not escape the run root through "..".
//  - program is one of Gaussian, ORCA, CREST, xTB, pyAroma, any case.
//  - pipe is a ';'-separated list of at most one `coords{DIR,FILE}` and one
//    `orbitals{DIR,FILE}` (command names in any case; empty list items are
//    ignored). DIR is relative to the job's own directory (or absolute) and
//    must resolve to the directory of another job of the batch, which becomes
//    an upstream job. FILE is a relative path without ".."; when empty it is
//    `<last component of DIR>.xyz` for coords and `.gbw` for orbitals. (Like
//    BatchRunner's os.path.basename(DIR) for every ordinary DIR; for DIR
//    "..", "." or "x/" the component is taken from the resolved directory,
//    where BatchRunner would have produced "...xyz" or ".xyz".)
//  - The dependency graph must be acyclic.
//  - Settings: retry_on is a comma-separated list of causes (see
//    common::CheckRetryCause); max_attempts (1..100, the first attempt
//    included) defaults to 3 when retry_on is given and requires retry_on.
//    max_parallel >= 0, 0 meaning no limit beyond the cluster's cap.
//    Unknown keys are errors.
//
// Names: the batch is named by BatchfileOptions::batch_name, else by
// `batch=`, else by the last component of the run root (which must then be a
// valid batch name). Job keys are "<batch>/<basename>". The cluster is
// BatchfileOptions::cluster, else `cluster=`, else empty (the ledger decides:
// see common::ValidateBatch).
//
// Every defect found is reported (at most common::kMaxReportedDefects, then
// "and N more defects"), one per line of an InvalidArgument status, each as
// "<file>:<line>: what is wrong (what to do)", sorted by line. Nothing is
// returned half-read: either every job is read or the status is an error.
// A successful result always passes common::ValidateBatch.
#ifndef CCBATCH_CLI_BATCHFILE_READER_H_
#define CCBATCH_CLI_BATCHFILE_READER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"

namespace ccbatch::cli {

// Values given on ccctl's command line; each, when set, wins over the
// batchfile's own setting. Empty strings mean "not given".
struct BatchfileOptions {
  std::string batch_name;
  std::string cluster;
  std::optional<int32_t> max_parallel;
};

// Parses `contents`, the text of the batchfile `file_name` (used only in
// messages and as BatchDefinition.source_file). Pure: no file system access;
// the run root and job directories need not exist. Linear in the size of
// the file. Thread-compatible.
absl::StatusOr<ccbatch::v1::BatchDefinition> ReadBatchfile(
    absl::string_view file_name, absl::string_view contents,
    const BatchfileOptions& options);

// The program named in a batchfile (case-insensitive), or nullopt.
std::optional<ccbatch::v1::Program> ParseProgramName(absl::string_view name);

// The spelling BatchRunner's users know ("Gaussian", "ORCA", "xTB", ...), for
// messages and the exported ledger; "unspecified" for anything else.
absl::string_view ProgramName(ccbatch::v1::Program program);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_BATCHFILE_READER_H_

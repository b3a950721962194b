// BatchRunner's `__ledger__.csv` (DESIGN §4, ExportLedger): one row per job,
// `|`-separated, with BatchRunner's own status names, so scripts written
// against the old tool keep working. Pure formatting; no I/O.
//
// Status names. BatchRunner knows six; every ccbatch status maps to the one
// that makes BatchRunner (or a script reading its ledger) do the right thing:
//   WAITING, READY                         -> not_started
//   SUBMITTING, SUBMITTED, PENDING         -> pending
//   RUNNING, COMPLETING, UNKNOWN           -> running   (the job has a SLURM
//       id and may still be in the queue or writing output: never
//       "not_started", which would invite a second submission)
//   SUCCEEDED                              -> succeeded
//   FAILED, CANCELLED                      -> failed    (it will not run; its
//       dependants are broken, as BatchRunner reasons about failed jobs)
//   BROKEN_DEPENDENCY                      -> broken_dependency
#ifndef CCBATCH_LEDGER_SERVICE_EXPORT_CSV_H_
#define CCBATCH_LEDGER_SERVICE_EXPORT_CSV_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ccbatch/v1/job.pb.h"

namespace ccbatch::ledger {

// The header line, without newline.
inline constexpr absl::string_view kLedgerCsvHeader =
    "job_id|job_basename|job_directory|job_status|program|coords_from|"
    "xyz_filename|orbitals_from|gbw_filename";

// BatchRunner's name for `status` (table above).
absl::string_view SeedStatusName(ccbatch::v1::JobStatus status);

// The spelling BatchRunner's users write ("Gaussian", "ORCA", "xTB",
// "CREST", "pyAroma"); "unspecified" otherwise.
absl::string_view SeedProgramName(ccbatch::v1::Program program);

// One job's row.
struct LedgerCsvRow {
  // The current attempt's SLURM job id; empty before one is known.
  std::string slurm_job_id;
  ccbatch::v1::JobDefinition definition;
  ccbatch::v1::JobStatus status = ccbatch::v1::JOB_STATUS_UNSPECIFIED;
};

// Appends the row's line (with "\n") to `out`. job_directory is the
// directory as written in the batchfile (relative_directory; the absolute
// one when that is empty); coords_from/orbitals_from and their file names
// are the pipe's DIR and FILE as written, empty without a pipe.
// The batch validator forbids '|' and line breaks in every field, so no
// quoting is needed.
void AppendLedgerCsvRow(const LedgerCsvRow& row, std::string* out);

// The whole file: header, then the rows in the order given.
std::string FormatLedgerCsv(absl::Span<const LedgerCsvRow> rows);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_EXPORT_CSV_H_

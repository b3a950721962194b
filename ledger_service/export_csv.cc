#include "ledger_service/export_csv.h"

#include "absl/strings/str_cat.h"

namespace ccbatch::ledger {

absl::string_view SeedStatusName(ccbatch::v1::JobStatus status) {
  switch (status) {
    case ccbatch::v1::JOB_STATUS_SUBMITTING:
    case ccbatch::v1::JOB_STATUS_SUBMITTED:
    case ccbatch::v1::JOB_STATUS_PENDING:
      return "pending";
    case ccbatch::v1::JOB_STATUS_RUNNING:
    case ccbatch::v1::JOB_STATUS_COMPLETING:
    case ccbatch::v1::JOB_STATUS_UNKNOWN:
      return "running";
    case ccbatch::v1::JOB_STATUS_SUCCEEDED:
      return "succeeded";
    case ccbatch::v1::JOB_STATUS_FAILED:
    case ccbatch::v1::JOB_STATUS_CANCELLED:
      return "failed";
    case ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY:
      return "broken_dependency";
    default:  // WAITING, READY (and UNSPECIFIED, which no job has)
      return "not_started";
  }
}

absl::string_view SeedProgramName(ccbatch::v1::Program program) {
  switch (program) {
    case ccbatch::v1::PROGRAM_GAUSSIAN:
      return "Gaussian";
    case ccbatch::v1::PROGRAM_ORCA:
      return "ORCA";
    case ccbatch::v1::PROGRAM_XTB:
      return "xTB";
    case ccbatch::v1::PROGRAM_CREST:
      return "CREST";
    case ccbatch::v1::PROGRAM_PYAROMA:
      return "pyAroma";
    default:
      return "unspecified";
  }
}

void AppendLedgerCsvRow(const LedgerCsvRow& row, std::string* out) {
  const ccbatch::v1::JobDefinition& job = row.definition;
  const std::string& directory = job.relative_directory().empty()
                                     ? job.directory()
                                     : job.relative_directory();
  absl::StrAppend(out, row.slurm_job_id, "|", job.basename(), "|", directory,
                  "|", SeedStatusName(row.status), "|",
                  SeedProgramName(job.program()), "|");
  absl::StrAppend(out, job.coords().directory(), "|", job.coords().filename(),
                  "|", job.orbitals().directory(), "|",
                  job.orbitals().filename(), "\n");
}

std::string FormatLedgerCsv(absl::Span<const LedgerCsvRow> rows) {
  std::string out = absl::StrCat(kLedgerCsvHeader, "\n");
  for (const LedgerCsvRow& row : rows) AppendLedgerCsvRow(row, &out);
  return out;
}

}  // namespace ccbatch::ledger

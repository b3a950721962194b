// BatchRunner's ledger CSV: the status mapping for every status, and rows.
#include "ledger_service/export_csv.h"

#include <string>

#include "ccbatch/v1/job.pb.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

TEST(ExportCsvTest, EveryStatusHasABatchRunnerName) {
  struct Row {
    ccbatch::v1::JobStatus status;
    const char* name;
  };
  const Row rows[] = {
      {ccbatch::v1::JOB_STATUS_WAITING, "not_started"},
      {ccbatch::v1::JOB_STATUS_READY, "not_started"},
      {ccbatch::v1::JOB_STATUS_SUBMITTING, "pending"},
      {ccbatch::v1::JOB_STATUS_SUBMITTED, "pending"},
      {ccbatch::v1::JOB_STATUS_PENDING, "pending"},
      {ccbatch::v1::JOB_STATUS_RUNNING, "running"},
      {ccbatch::v1::JOB_STATUS_COMPLETING, "running"},
      {ccbatch::v1::JOB_STATUS_UNKNOWN, "running"},
      {ccbatch::v1::JOB_STATUS_SUCCEEDED, "succeeded"},
      {ccbatch::v1::JOB_STATUS_FAILED, "failed"},
      {ccbatch::v1::JOB_STATUS_CANCELLED, "failed"},
      {ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY, "broken_dependency"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(SeedStatusName(row.status), row.name) << row.status;
  }
}

TEST(ExportCsvTest, RowsUseTheBatchfileSpellings) {
  LedgerCsvRow row;
  row.slurm_job_id = "4812_7";
  row.status = ccbatch::v1::JOB_STATUS_RUNNING;
  ccbatch::v1::JobDefinition& job = row.definition;
  job.set_basename("phenol_sp");
  job.set_directory("/scratch/lab/phenol/wb97x_sp");
  job.set_relative_directory("phenol/wb97x_sp");
  job.set_program(ccbatch::v1::PROGRAM_ORCA);
  job.mutable_coords()->set_directory("../r2scan_opt");
  job.mutable_coords()->set_filename("phenol_opt.xyz");
  job.mutable_coords()->set_upstream_key("b/phenol_opt");
  job.mutable_orbitals()->set_directory("../r2scan_opt");
  job.mutable_orbitals()->set_filename("phenol_opt.gbw");
  LedgerCsvRow bare;
  bare.definition.set_basename("solo");
  bare.definition.set_directory("/abs/solo");
  bare.definition.set_program(ccbatch::v1::PROGRAM_PYAROMA);
  EXPECT_EQ(FormatLedgerCsv({row, bare}),
            "job_id|job_basename|job_directory|job_status|program|coords_from|"
            "xyz_filename|orbitals_from|gbw_filename\n"
            "4812_7|phenol_sp|phenol/wb97x_sp|running|ORCA|../r2scan_opt|"
            "phenol_opt.xyz|../r2scan_opt|phenol_opt.gbw\n"
            "|solo|/abs/solo|not_started|pyAroma||||\n");
}

}  // namespace
}  // namespace ccbatch::ledger

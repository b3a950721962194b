// A small, fixed ledger state for ccctl's tests: two batches, seven jobs of
// chem-1 in every interesting status (a chain of waits, a failure with its
// broken dependant, a running and a pending job), two clusters (one
// connected, one whose agent went away). All times are around kFixtureNow,
// so golden outputs do not move.
#ifndef CCBATCH_TESTS_CLI_LEDGER_FIXTURE_H_
#define CCBATCH_TESTS_CLI_LEDGER_FIXTURE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ccbatch/v1/ledger.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace ccbatch::cli::testing {

// 2026-01-01 12:00:00 UTC.
absl::Time FixtureNow();

// 2026-01-01 hh:mm:ss UTC as a Timestamp.
google::protobuf::Timestamp At(int hour, int minute, int second);

struct LedgerFixture {
  // Every job, by key, in batchfile order within its batch.
  std::vector<std::string> keys;
  std::map<std::string, ccbatch::v1::GetJobResponse> jobs;
  ccbatch::v1::SummaryResponse summary;
  ccbatch::v1::ListClustersResponse clusters;
  std::string export_csv;
};

LedgerFixture MakeLedgerFixture();

// The fixture's JobViews in order, filtered as ListJobs would filter.
std::vector<ccbatch::v1::JobView> FilterJobs(
    const LedgerFixture& fixture, const ccbatch::v1::ListJobsRequest& request);

}  // namespace ccbatch::cli::testing

#endif  // CCBATCH_TESTS_CLI_LEDGER_FIXTURE_H_

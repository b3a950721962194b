// Test support for the ledger core: batches built from a compact spec, and a
// harness owning a MemoryStore, a FakeClock and a Ledger, with the moves a
// scripted agent makes (connect, take orders, answer them, send snapshots).
#ifndef CCBATCH_TESTS_LEDGER_SERVICE_LEDGER_HARNESS_H_
#define CCBATCH_TESTS_LEDGER_SERVICE_LEDGER_HARNESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "ledger_service/ledger.h"
#include "ledger_service/store.h"
#include "ledger_service/store_memory.h"

namespace ccbatch::ledger::testing {

// One job of a test batch: its basename and the basenames of the jobs it
// depends on (the first supplies coordinates, the rest are plain edges).
struct JobSpec {
  std::string basename;
  std::vector<std::string> upstream;
};

// A batch that passes common::ValidateBatch: run root "/scratch/<name>",
// job directories "<run root>/<basename>", program xTB.
ccbatch::v1::BatchDefinition MakeBatch(const std::string& name,
                                       const std::vector<JobSpec>& jobs,
                                       const std::string& cluster = "hpc1",
                                       int max_parallel = 0);

// An entry of a snapshot.
ccbatch::v1::QueueEntry Entry(const std::string& slurm_job_id,
                              const std::string& state,
                              const std::string& nodes = "");

// Directives by kind.
std::vector<ccbatch::v1::SubmitOrder> Submits(
    const std::vector<ccbatch::v1::LedgerDirective>& directives);
std::vector<ccbatch::v1::CheckOutput> Checks(
    const std::vector<ccbatch::v1::LedgerDirective>& directives);
std::vector<ccbatch::v1::CancelOrder> Cancels(
    const std::vector<ccbatch::v1::LedgerDirective>& directives);

// The harness. Not thread-safe; one test drives it.
class LedgerHarness {
 public:
  explicit LedgerHarness(LedgerOptions options = LedgerOptions());
  ~LedgerHarness();

  Ledger& ledger() { return *ledger_; }
  common::FakeClock& clock() { return clock_; }
  MemoryStore& store() { return *store_; }

  // Destroys the ledger and its store and opens both again over the same
  // contents, as a restart would. Streams are gone afterwards.
  absl::Status Reopen();

  absl::StatusOr<ccbatch::v1::ImportBatchResponse> Import(
      const ccbatch::v1::BatchDefinition& batch, bool paused = false);

  // A new stream for `cluster`; returns its id.
  uint64_t Connect(const std::string& cluster = "hpc1");
  // Due directives of the cluster's current stream.
  std::vector<ccbatch::v1::LedgerDirective> Take(
      const std::string& cluster = "hpc1");

  // Answers every adoption check in `directives` with "nothing to adopt".
  void AnswerAdoptionsWithNothing(
      const std::vector<ccbatch::v1::LedgerDirective>& directives,
      const std::string& cluster = "hpc1");

  absl::Status SubmitOk(const std::string& order_id,
                        const std::string& slurm_job_id,
                        const std::string& cluster = "hpc1");
  absl::Status SubmitFailed(const std::string& order_id,
                            const std::string& error,
                            const std::string& cluster = "hpc1");
  absl::Status Verdict(const ccbatch::v1::CheckOutput& check,
                       ccbatch::v1::Verdict::Outcome outcome,
                       const std::string& cause = "",
                       const std::string& cluster = "hpc1");
  // A snapshot taken now (clock), with the next sequence number.
  absl::Status Snapshot(const std::vector<ccbatch::v1::QueueEntry>& entries,
                        const std::string& cluster = "hpc1");

  // The job's current view (fails the test on error).
  ccbatch::v1::JobView View(const std::string& key);
  ccbatch::v1::JobStatus StatusOf(const std::string& key);
  // key -> status of every job.
  std::vector<std::pair<std::string, ccbatch::v1::JobStatus>> AllStatuses();

 private:
  LedgerOptions options_;
  common::FakeClock clock_;
  // The ledger's log unless the options name one.
  common::EventLog quiet_log_{&clock_, common::EventLog::DiscardSink()};
  std::shared_ptr<MemoryStore::Contents> contents_;
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<Ledger> ledger_;
  uint64_t next_stream_ = 1;
  std::vector<std::pair<std::string, uint64_t>> streams_;
  uint64_t next_snapshot_seq_ = 1;
};

}  // namespace ccbatch::ledger::testing

#endif  // CCBATCH_TESTS_LEDGER_SERVICE_LEDGER_HARNESS_H_

// A seeded, random but reproducible history played against a Ledger by a
// simulated agent and user: imports, orders taken and answered (sometimes
// twice), snapshots of a simulated SLURM queue (requeues, jobs leaving,
// foreign jobs), probe failures, reconnects, time passing, retries and
// cancels. Used by the restart property test and the kill -9 test.
#ifndef CCBATCH_TESTS_LEDGER_SERVICE_RANDOM_HISTORY_H_
#define CCBATCH_TESTS_LEDGER_SERVICE_RANDOM_HISTORY_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "common/clock.h"
#include "ledger_service/ledger.h"

namespace ccbatch::ledger::testing {

// An order the agent received, as the history saw it.
struct HandedOrder {
  std::string order_id;
  // "submit", "check" or "cancel".
  std::string kind;
  std::string job_key;
  int attempt = 0;
};

class RandomHistory {
 public:
  // `clock` is advanced by the history (not owned).
  RandomHistory(uint64_t seed, common::FakeClock* clock);

  // The batch the history works on ("rand", about `jobs` jobs, a random DAG,
  // automatic retry of NODE_FAIL up to 3 attempts, max_parallel 4).
  ccbatch::v1::BatchDefinition Batch(int jobs = 12) const;

  // Imports the batch and connects the agent.
  absl::Status Start(Ledger& ledger);
  // After the ledger was reopened: the agent connects again (a new stream)
  // and forgets the orders it held (the ledger hands them out again).
  absl::Status Reconnect(Ledger& ledger);

  // One random step. Orders received during it are appended to `handed`.
  absl::Status Step(Ledger& ledger, std::vector<HandedOrder>* handed);

  // Describes the last step, for failure messages.
  const std::string& last_step() const { return last_step_; }

 private:
  struct SimJob {
    std::string state;
  };

  absl::Status Take(Ledger& ledger, std::vector<HandedOrder>* handed);
  absl::Status AnswerOne(Ledger& ledger);
  absl::Status Answer(Ledger& ledger,
                      const ccbatch::v1::LedgerDirective& directive);
  absl::Status SendSnapshot(Ledger& ledger);
  absl::Status RetrySome(Ledger& ledger);
  absl::Status CancelSome(Ledger& ledger);
  // Keys of jobs with one of `statuses`.
  std::vector<std::string> JobsWith(
      Ledger& ledger, const std::vector<ccbatch::v1::JobStatus>& statuses);
  int Uniform(int below);

  std::mt19937_64 random_;
  common::FakeClock* clock_;
  uint64_t stream_ = 0;
  uint64_t next_stream_base_ = 0;
  uint64_t snapshot_seq_ = 0;
  uint64_t next_slurm_id_ = 1000;
  std::map<std::string, SimJob> queue_;
  std::vector<ccbatch::v1::LedgerDirective> pending_;
  std::string last_step_;
};

}  // namespace ccbatch::ledger::testing

#endif  // CCBATCH_TESTS_LEDGER_SERVICE_RANDOM_HISTORY_H_

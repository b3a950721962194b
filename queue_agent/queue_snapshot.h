// One successful `squeue` probe of a cluster, before it is numbered and
// chunked for the ledger.
#ifndef CCBATCH_QUEUE_AGENT_QUEUE_SNAPSHOT_H_
#define CCBATCH_QUEUE_AGENT_QUEUE_SNAPSHOT_H_

#include <vector>

#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"

namespace ccbatch::agent {

struct QueueSnapshot {
  // When squeue was started: a job submitted after this instant may be
  // missing from `entries` without having left the queue.
  absl::Time taken_at;
  // Wall time of the squeue call (also in diagnostics.probe_millis).
  absl::Duration probe_duration;
  // Every job and array task of the user that squeue listed, in its order.
  std::vector<v1::QueueEntry> entries;
  // Lines that did not parse and states ccbatch does not know.
  v1::SnapshotDiagnostics diagnostics;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_QUEUE_SNAPSHOT_H_

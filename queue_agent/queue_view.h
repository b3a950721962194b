// The queue as the agent's probe loop last saw it, for code that must know
// whether a job is in the queue (the submitter looks for an order's
// `ccb:<order id>` tag before it runs sbatch).
#ifndef CCBATCH_QUEUE_AGENT_QUEUE_VIEW_H_
#define CCBATCH_QUEUE_AGENT_QUEUE_VIEW_H_

#include <memory>

#include "absl/time/time.h"
#include "queue_agent/queue_snapshot.h"

namespace ccbatch::agent {

// Implementations are thread-safe.
class QueueView {
 public:
  virtual ~QueueView() = default;

  // The newest successful snapshot; nullptr before the first one.
  virtual std::shared_ptr<const QueueSnapshot> Latest() const = 0;

  // The newest snapshot whose squeue call started strictly after
  // `not_before`, asking for an early probe if the newest is older and
  // waiting up to `timeout` for it. nullptr if none came in time (squeue
  // failing, or the agent stopping).
  virtual std::shared_ptr<const QueueSnapshot> SnapshotAfter(
      absl::Time not_before, absl::Duration timeout) = 0;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_QUEUE_VIEW_H_

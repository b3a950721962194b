// What the agent runtime asks of whoever carries out the ledger's orders
// (the Submitter in production, scripted fakes in the runtime's tests).
#ifndef CCBATCH_QUEUE_AGENT_ORDER_EXECUTOR_H_
#define CCBATCH_QUEUE_AGENT_ORDER_EXECUTOR_H_

#include "ccbatch/v1/agent.pb.h"

namespace ccbatch::agent {

// Each call returns the answer to send to the ledger, with the order's id;
// failures travel inside the answer (SubmitResult.error,
// CancelResult.error, an inconclusive or failed verdict), never as a
// missing answer. Implementations must be safe to call from one worker
// thread while other threads use the rest of the agent.
class OrderExecutor {
 public:
  virtual ~OrderExecutor() = default;

  virtual v1::SubmitResult Submit(const v1::SubmitOrder& order) = 0;
  virtual v1::CancelResult Cancel(const v1::CancelOrder& order) = 0;
  virtual v1::CheckOutputResult CheckOutput(const v1::CheckOutput& order) = 0;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_ORDER_EXECUTOR_H_

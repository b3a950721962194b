// Delays between attempts to reopen the Connect stream: capped exponential
// backoff with jitter, so a restarted ledger is not hit by every agent at
// the same instant and a long outage costs one attempt per `max`.
#ifndef CCBATCH_QUEUE_AGENT_RECONNECT_BACKOFF_H_
#define CCBATCH_QUEUE_AGENT_RECONNECT_BACKOFF_H_

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace ccbatch::agent {

struct BackoffPolicy {
  // The base delay of the first attempt. REQUIRES: > 0.
  absl::Duration initial = absl::Milliseconds(500);
  // The base delay never exceeds this. REQUIRES: >= initial.
  absl::Duration max = absl::Seconds(30);
  // Growth of the base delay per failed attempt. REQUIRES: >= 1.
  double multiplier = 2.0;
  // Each delay is the base times a uniform factor in [1 - jitter,
  // 1 + jitter]. REQUIRES: 0 <= jitter < 1.
  double jitter = 0.2;
};

// Thread-compatible. Pure: randomness is passed in.
class ReconnectBackoff final {
 public:
  explicit ReconnectBackoff(BackoffPolicy policy);

  // The delay before the next attempt; then grows the base delay.
  absl::Duration Next(absl::BitGenRef random);

  // Back to `initial`, after a stream that worked.
  void Reset();

 private:
  BackoffPolicy policy_;
  absl::Duration base_;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_RECONNECT_BACKOFF_H_

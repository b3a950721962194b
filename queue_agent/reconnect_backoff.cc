#include "queue_agent/reconnect_backoff.h"

#include <algorithm>

#include "absl/random/distributions.h"

namespace ccbatch::agent {

ReconnectBackoff::ReconnectBackoff(BackoffPolicy policy)
    : policy_(policy), base_(policy.initial) {}

absl::Duration ReconnectBackoff::Next(absl::BitGenRef random) {
  const double factor =
      policy_.jitter > 0
          ? absl::Uniform(absl::IntervalClosedClosed, random,
                          1.0 - policy_.jitter, 1.0 + policy_.jitter)
          : 1.0;
  const absl::Duration delay = base_ * factor;
  base_ = std::min(base_ * policy_.multiplier, policy_.max);
  return delay;
}

void ReconnectBackoff::Reset() { base_ = policy_.initial; }

}  // namespace ccbatch::agent

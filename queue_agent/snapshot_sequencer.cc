#include "queue_agent/snapshot_sequencer.h"

#include <algorithm>

namespace ccbatch::agent {

SnapshotSequencer::SnapshotSequencer(uint64_t last_issued)
    : last_(last_issued) {}

uint64_t SnapshotSequencer::Next(absl::Time now) {
  // Times before the epoch (a badly broken clock) count as 0.
  const uint64_t micros =
      static_cast<uint64_t>(std::max<int64_t>(absl::ToUnixMicros(now), 0));
  absl::MutexLock lock(&mu_);
  last_ = std::max(last_ + 1, micros);
  return last_;
}

void SnapshotSequencer::AdvancePast(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  last_ = std::max(last_, seq);
}

uint64_t SnapshotSequencer::LastIssued() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

}  // namespace ccbatch::agent

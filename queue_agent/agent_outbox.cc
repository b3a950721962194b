#include "queue_agent/agent_outbox.h"

#include <utility>

namespace ccbatch::agent {

AgentOutbox::AgentOutbox(size_t max_results)
    : max_results_(max_results == 0 ? 1 : max_results) {}

void AgentOutbox::PutSnapshot(NumberedSnapshot snapshot) {
  if (snapshot_.has_value()) {
    if (snapshot_->seq >= snapshot.seq) return;
    ++counters_.snapshots_superseded;
  }
  if (failure_.has_value()) {
    failure_.reset();
    ++counters_.failures_superseded;
  }
  snapshot_ = std::move(snapshot);
}

void AgentOutbox::PutProbeFailure(v1::ProbeFailure failure) {
  if (failure_.has_value()) ++counters_.failures_superseded;
  failure_ = std::move(failure);
}

void AgentOutbox::PutResult(v1::AgentMessage result) {
  if (results_.size() >= max_results_) {
    results_.pop_front();
    ++counters_.results_dropped;
  }
  results_.push_back(std::move(result));
}

std::optional<OutboxItem> AgentOutbox::Take() {
  if (!results_.empty()) {
    OutboxItem item = std::move(results_.front());
    results_.pop_front();
    return item;
  }
  if (snapshot_.has_value()) {
    OutboxItem item = std::move(*snapshot_);
    snapshot_.reset();
    return item;
  }
  if (failure_.has_value()) {
    OutboxItem item = std::move(*failure_);
    failure_.reset();
    return item;
  }
  return std::nullopt;
}

bool AgentOutbox::empty() const {
  return results_.empty() && !snapshot_.has_value() && !failure_.has_value();
}

}  // namespace ccbatch::agent

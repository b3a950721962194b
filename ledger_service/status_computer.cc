#include "ledger_service/status_computer.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ccbatch::ledger {

absl::StatusOr<StatusComputer> StatusComputer::Create(
    DependencyGraph graph, std::vector<JobFacts> jobs) {
  if (static_cast<int>(jobs.size()) != graph.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("status computer: facts for ", jobs.size(),
                     " jobs but the dependency graph has ", graph.size()));
  }
  return StatusComputer(std::move(graph), std::move(jobs));
}

StatusComputer::StatusComputer(DependencyGraph graph,
                               std::vector<JobFacts> jobs)
    : graph_(std::move(graph)) {
  facts_ = std::move(jobs);
  derived_.resize(facts_.size());
  links_.resize(facts_.size());
  queued_in_pass_.assign(facts_.size(), 0);
}

void StatusComputer::SetCluster(ClusterFacts cluster) {
  const int32_t index = ClusterIndex(cluster.name);
  clusters_[index].facts = std::move(cluster);
}

const ClusterFacts* StatusComputer::cluster(absl::string_view name) const {
  auto it = cluster_index_.find(name);
  return it == cluster_index_.end() ? nullptr : &clusters_[it->second].facts;
}

int32_t StatusComputer::ClusterIndex(absl::string_view name) {
  auto [it, inserted] =
      cluster_index_.try_emplace(name, static_cast<int32_t>(clusters_.size()));
  if (inserted) {
    // A cluster first heard of has no snapshot: exactly what jobs that
    // consulted it before (through a nullptr) were derived with.
    ClusterState state;
    state.facts.name = std::string(name);
    state.derived_with = state.facts;
    clusters_.push_back(std::move(state));
  }
  return it->second;
}

std::vector<int> StatusComputer::DeriveAll(absl::Time now,
                                           absl::Duration staleness_limit) {
  for (ClusterState& cluster : clusters_) {
    cluster.derived_with = cluster.facts;
    cluster.derived_stale = IsClusterStale(cluster.facts, now, staleness_limit);
  }
  derived_once_ = true;
  last_staleness_limit_ = staleness_limit;
  std::vector<int> changed;
  bool status_changed = false;
  for (int job : graph_.topological_order()) {
    if (Derive(job, now, staleness_limit, &status_changed)) {
      changed.push_back(job);
    }
  }
  return changed;
}

std::vector<int> StatusComputer::Rederive(absl::Span<const int> changed_jobs,
                                          absl::Time now,
                                          absl::Duration staleness_limit) {
  if (!derived_once_ || staleness_limit != last_staleness_limit_) {
    return DeriveAll(now, staleness_limit);
  }
  if (++pass_ == 0) {  // wrapped: forget every old mark
    std::fill(queued_in_pass_.begin(), queued_in_pass_.end(), 0);
    pass_ = 1;
  }
  for (int job : changed_jobs) Queue(job);
  QueueClusterChanges(now, staleness_limit);
  return DrainQueue(now, staleness_limit);
}

std::optional<absl::Time> StatusComputer::NextStalenessChange(
    absl::Time now, absl::Duration staleness_limit) const {
  std::optional<absl::Time> next;
  for (const ClusterState& cluster : clusters_) {
    if (!cluster.facts.has_snapshot ||
        IsClusterStale(cluster.facts, now, staleness_limit)) {
      continue;
    }
    const absl::Time stale_after =
        cluster.facts.snapshot_received_at + staleness_limit;
    if (!next.has_value() || stale_after < *next) next = stale_after;
  }
  return next;
}

void StatusComputer::QueueClusterChanges(absl::Time now,
                                         absl::Duration staleness_limit) {
  for (int32_t index = 0; index < static_cast<int32_t>(clusters_.size());
       ++index) {
    ClusterState& cluster = clusters_[index];
    const ClusterFacts& old = cluster.derived_with;
    const ClusterFacts& now_facts = cluster.facts;
    const bool stale = IsClusterStale(now_facts, now, staleness_limit);
    // Mirrors what DeriveStatus reads of a cluster: while stale, the receive
    // time and probe error (UNKNOWN's reason); while fresh, whether there
    // is a snapshot and when it was taken (SUBMITTED or not).
    if (stale != cluster.derived_stale) {
      QueueJobsOfCluster(index, /*submitted_only=*/false);
    } else if (stale) {
      if (old.snapshot_received_at != now_facts.snapshot_received_at ||
          old.last_probe_error != now_facts.last_probe_error ||
          old.last_probe_error_at != now_facts.last_probe_error_at) {
        QueueJobsOfCluster(index, /*submitted_only=*/false);
      }
    } else if (old.has_snapshot != now_facts.has_snapshot ||
               now_facts.snapshot_taken_at < old.snapshot_taken_at) {
      QueueJobsOfCluster(index, /*submitted_only=*/false);
    } else if (now_facts.snapshot_taken_at > old.snapshot_taken_at) {
      // A later snapshot can only end SUBMITTED.
      QueueJobsOfCluster(index, /*submitted_only=*/true);
    }
    cluster.derived_stale = stale;
    if (old.snapshot_taken_at != now_facts.snapshot_taken_at ||
        old.snapshot_received_at != now_facts.snapshot_received_at ||
        old.has_snapshot != now_facts.has_snapshot ||
        old.last_probe_error_at != now_facts.last_probe_error_at ||
        old.last_probe_error != now_facts.last_probe_error) {
      cluster.derived_with = now_facts;
    }
  }
}

void StatusComputer::QueueJobsOfCluster(int32_t cluster, bool submitted_only) {
  for (int job = 0; job < static_cast<int>(links_.size()); ++job) {
    const ClusterLink& link = links_[job];
    if (link.cluster == cluster && (!submitted_only || link.submitted)) {
      Queue(job);
    }
  }
}

void StatusComputer::Queue(int job) {
  if (queued_in_pass_[job] == pass_) return;
  queued_in_pass_[job] = pass_;
  heap_.push_back(graph_.topological_position(job));
  std::push_heap(heap_.begin(), heap_.end(), std::greater<int>());
}

std::vector<int> StatusComputer::DrainQueue(absl::Time now,
                                            absl::Duration staleness_limit) {
  // Popping the lowest topological position first means every upstream job
  // that is due is derived before its dependants read it.
  std::vector<int> changed;
  const absl::Span<const int> order = graph_.topological_order();
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<int>());
    const int job = order[heap_.back()];
    heap_.pop_back();
    bool status_changed = false;
    if (!Derive(job, now, staleness_limit, &status_changed)) continue;
    changed.push_back(job);
    if (!status_changed) continue;
    for (int down : graph_.downstream(job)) Queue(down);
  }
  return changed;
}

bool StatusComputer::Derive(int job, absl::Time now,
                            absl::Duration staleness_limit,
                            bool* status_changed) {
  const JobFacts& facts = facts_[job];
  DerivedStatus& derived = derived_[job];
  upstream_scratch_.clear();
  for (int up : graph_.upstream(job)) {
    upstream_scratch_.push_back(
        UpstreamStatus{facts_[up].key, derived_[up].status});
  }
  int32_t cluster_index = kNoCluster;
  if (std::optional<absl::string_view> name = ClusterConsulted(facts)) {
    cluster_index = ClusterIndex(*name);
  }
  const ClusterFacts* cluster =
      cluster_index == kNoCluster ? nullptr : &clusters_[cluster_index].facts;
  DeriveStatusInto(facts, cluster, upstream_scratch_, now, staleness_limit,
                   &candidate_);
  links_[job].cluster = cluster_index;
  links_[job].submitted =
      candidate_.status == ccbatch::v1::JOB_STATUS_SUBMITTED;
  if (candidate_ == derived) {
    *status_changed = false;
    return false;
  }
  *status_changed = candidate_.status != derived.status;
  std::swap(candidate_, derived);
  return true;
}

}  // namespace ccbatch::ledger

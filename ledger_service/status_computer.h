// Every job's derived status, kept equal to DeriveStatus over the current
// facts while only re-deriving what a change can affect (DESIGN §3).
//
// The computer owns the dependency graph, each job's facts (by index) and
// each cluster's facts, and caches each job's DerivedStatus. After facts
// change, Rederive(changed jobs, now, limit) brings the cache up to date:
//  - a job the caller names is re-derived;
//  - a job whose *status* changed makes its downstream jobs re-derive
//    (dependants read only upstream statuses, not reasons), transitively,
//    in topological order; this is how BROKEN_DEPENDENCY spreads and,
//    after a retry, recedes;
//  - cluster facts (SetCluster) and the passage of time are tracked here,
//    not by the caller: on each call the computer compares every cluster
//    with what its jobs were last derived from and re-derives the jobs that
//    consult it (ClusterConsulted) when that can change them — when the
//    cluster turns stale or fresh at `now` (UNKNOWN starts or ends), when
//    a stale cluster's receive time or probe error changes (UNKNOWN
//    reasons), or, for SUBMITTED jobs only, when a newer snapshot was taken
//    (for all of them if the agent's clock went back).
// The result always equals DeriveAll(now, limit) over the same facts: the
// caller only has to name the jobs whose own JobFacts it changed.
//
// Applying a snapshot of cluster C: SetCluster(C with the new taken/received
// times and no probe error); for each attempt on C with a SLURM job id whose
// line appeared, disappeared or changed (state, reason, nodes), update
// queue_entry (and last_queue_state) and name the job. Jobs whose line is
// unchanged need nothing: reasons never name the snapshot's sequence number.
//
// Time passing alone can change statuses (a cluster going stale), so the
// ledger should call Rederive({}, now, limit) at NextStalenessChange() and
// whenever it re-derives anyway.
//
// Cost: Rederive is proportional to the named jobs, the jobs their status
// changes reach, and, per cluster whose facts changed, one pass over a
// compact per-job array (no strings). A derivation that gives the same
// result reuses scratch buffers (only reasons that print a time allocate).
//
// Not thread-safe: the ledger serialises access (one mutex around it).
#ifndef CCBATCH_LEDGER_SERVICE_STATUS_COMPUTER_H_
#define CCBATCH_LEDGER_SERVICE_STATUS_COMPUTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ledger_service/dependency_graph.h"
#include "ledger_service/derive.h"
#include "ledger_service/job_facts.h"

namespace ccbatch::ledger {

class StatusComputer final {
 public:
  // One entry of `jobs` per job of `graph`, same indices. Statuses are
  // JOB_STATUS_UNSPECIFIED until the first DeriveAll or Rederive.
  // InvalidArgument if the sizes differ.
  static absl::StatusOr<StatusComputer> Create(DependencyGraph graph,
                                               std::vector<JobFacts> jobs);

  StatusComputer(StatusComputer&&) = default;
  StatusComputer& operator=(StatusComputer&&) = default;

  int job_count() const { return static_cast<int>(facts_.size()); }
  const DependencyGraph& graph() const { return graph_; }

  // REQUIRES for every `job` argument here: 0 <= job < job_count().
  const JobFacts& facts(int job) const { return facts_[job]; }
  // To change a job's facts; name the job in the next Rederive.
  JobFacts& mutable_facts(int job) { return facts_[job]; }
  const DerivedStatus& status(int job) const { return derived_[job]; }

  // Adds or replaces the facts of cluster `cluster.name`. Jobs consulting it
  // are re-derived by the next Rederive where needed; nothing to name.
  void SetCluster(ClusterFacts cluster);
  // nullptr if the computer has never heard of the cluster.
  const ClusterFacts* cluster(absl::string_view name) const;

  // Derives every job, upstream before downstream. Returns the jobs whose
  // DerivedStatus changed, in topological order.
  std::vector<int> DeriveAll(absl::Time now, absl::Duration staleness_limit);

  // Re-derives `changed_jobs` (indices may repeat) and whatever the changes
  // and the cluster facts can affect (see the file comment). Returns the
  // jobs whose DerivedStatus (status, reason or scheduler state) changed, in
  // topological order. Before the first derivation, or when the staleness
  // limit differs from the previous call's, this is DeriveAll.
  // REQUIRES: every index in `changed_jobs` is in [0, job_count()).
  std::vector<int> Rederive(absl::Span<const int> changed_jobs, absl::Time now,
                            absl::Duration staleness_limit);

  // The earliest time after which a cluster that is fresh at `now` turns
  // stale (its jobs may become UNKNOWN); nullopt if none can.
  std::optional<absl::Time> NextStalenessChange(
      absl::Time now, absl::Duration staleness_limit) const;

 private:
  static constexpr int32_t kNoCluster = -1;

  struct ClusterState {
    ClusterFacts facts;
    // The facts and staleness the cluster's jobs were last derived with.
    ClusterFacts derived_with;
    bool derived_stale = false;
  };

  // Per job, what cluster-change scans read: kept apart from the facts so a
  // scan walks one dense array.
  struct ClusterLink {
    // Index into clusters_ of ClusterConsulted(facts) at the last
    // derivation, or kNoCluster.
    int32_t cluster = kNoCluster;
    bool submitted = false;  // last derived status was SUBMITTED
  };

  StatusComputer(DependencyGraph graph, std::vector<JobFacts> jobs);

  int32_t ClusterIndex(absl::string_view name);
  // Queues the jobs a cluster's change since their derivation may affect.
  void QueueClusterChanges(absl::Time now, absl::Duration staleness_limit);
  void QueueJobsOfCluster(int32_t cluster, bool submitted_only);
  void Queue(int job);
  // Derives `job` from current facts; true if its DerivedStatus changed,
  // and `*status_changed` tells whether the JobStatus did.
  bool Derive(int job, absl::Time now, absl::Duration staleness_limit,
              bool* status_changed);
  std::vector<int> DrainQueue(absl::Time now, absl::Duration staleness_limit);

  DependencyGraph graph_;
  // Per job, by index. The facts are the vector Create was given (moved,
  // not copied: a million jobs' facts are half a gigabyte).
  std::vector<JobFacts> facts_;
  std::vector<DerivedStatus> derived_;
  std::vector<ClusterLink> links_;
  std::vector<ClusterState> clusters_;
  absl::flat_hash_map<std::string, int32_t> cluster_index_;
  bool derived_once_ = false;
  absl::Duration last_staleness_limit_;

  // Scratch reused across calls: the pending jobs as a min-heap of
  // topological positions, a per-job "queued in pass N" mark, the upstream
  // view handed to DeriveStatus, and the candidate result.
  std::vector<int> heap_;
  std::vector<uint32_t> queued_in_pass_;
  uint32_t pass_ = 0;
  std::vector<UpstreamStatus> upstream_scratch_;
  DerivedStatus candidate_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_STATUS_COMPUTER_H_

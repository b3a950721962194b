// The dependency graph of a ledger's jobs (DESIGN §3, §8).
//
// Jobs are dense indices 0..n-1 (batchfile order within a batch); edges point
// from a job to the jobs it depends on ("upstream"). Everything here is
// iterative and linear in jobs + edges, so it is fine at 1,000,000 jobs.
#ifndef CCBATCH_LEDGER_SERVICE_DEPENDENCY_GRAPH_H_
#define CCBATCH_LEDGER_SERVICE_DEPENDENCY_GRAPH_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ccbatch::ledger {

// upstream[i] = indices of the jobs job i depends on. Returns the jobs of one
// cycle in dependency order: result[k] depends on result[k + 1] and the last
// element depends on result[0] (the first element is NOT repeated at the end).
// Returns nullopt when the graph is acyclic. A job depending on itself is a
// cycle of one.
//
// Deterministic: the cycle is the first one a depth-first search meets when
// it starts from nodes in index order and follows each upstream list in
// order; it is rotated so that its lowest index comes first.
//
// Indices outside [0, upstream.size()) are ignored here: validating them is
// the caller's job (DependencyGraph::Build refuses them).
std::optional<std::vector<int>> FindCycle(
    const std::vector<std::vector<int>>& upstream);

// The jobs' dependencies, checked acyclic, with both directions and a
// topological order stored flat (offsets + indices), so a million-job graph
// is a few arrays and every query is a slice.
//
// Immutable once built; safe to read from several threads.
class DependencyGraph final {
 public:
  // The empty graph.
  DependencyGraph() = default;

  // upstream[i] = the jobs job i depends on (duplicates are merged).
  // names[i] names job i in error messages (the job key); when `names` is
  // empty jobs are named "#<index>".
  // Errors (InvalidArgument): names.size() is neither 0 nor upstream.size();
  // an index outside [0, upstream.size()); a cycle, named in dependency
  // order as "dependency cycle: a -> b -> c -> a" (a depends on b).
  static absl::StatusOr<DependencyGraph> Build(
      const std::vector<std::vector<int>>& upstream,
      absl::Span<const std::string> names = {});

  int size() const { return static_cast<int>(order_.size()); }

  // REQUIRES for the accessors taking a job: 0 <= job < size().
  // The jobs `job` depends on, ascending.
  absl::Span<const int> upstream(int job) const {
    return Slice(up_offsets_, up_, job);
  }
  // The jobs that depend on `job`, ascending.
  absl::Span<const int> downstream(int job) const {
    return Slice(down_offsets_, down_, job);
  }

  // Every job once, each after all its upstream jobs. Stable: it is
  // batchfile (index) order except that a job's upstream jobs that come
  // later in the batchfile are moved before it (in this same order). When
  // every job's upstream jobs precede it, this is 0, 1, 2, ...
  absl::Span<const int> topological_order() const { return order_; }
  // The position of `job` in topological_order().
  int topological_position(int job) const { return position_[job]; }

  // Every job transitively downstream of any of `jobs`, in topological
  // order. A job of `jobs` is included only if it is downstream of another
  // one. Time: linear in the jobs and edges reached, plus size() to clear a
  // visited mark. REQUIRES: every index in `jobs` is in [0, size()).
  std::vector<int> DownstreamOf(absl::Span<const int> jobs) const;

 private:
  void ComputeTopologicalOrder();

  static absl::Span<const int> Slice(const std::vector<int>& offsets,
                                     const std::vector<int>& flat, int job) {
    return absl::Span<const int>(flat.data() + offsets[job],
                                 offsets[job + 1] - offsets[job]);
  }

  // Compressed rows: the edges of job i are flat[offsets[i], offsets[i+1]).
  std::vector<int> up_offsets_{0};
  std::vector<int> up_;
  std::vector<int> down_offsets_{0};
  std::vector<int> down_;
  std::vector<int> order_;
  std::vector<int> position_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_DEPENDENCY_GRAPH_H_

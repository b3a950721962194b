// The dependency graph of a ledger's jobs (DESIGN §3, §8).
//
// Jobs are dense indices 0..n-1 (batchfile order within a batch); edges point
// from a job to the jobs it depends on ("upstream"). Everything here is
// iterative and linear in jobs + edges, so it is fine at 1,000,000 jobs.
#ifndef CCBATCH_LEDGER_SERVICE_DEPENDENCY_GRAPH_H_
#define CCBATCH_LEDGER_SERVICE_DEPENDENCY_GRAPH_H_

#include <optional>
#include <vector>

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

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_DEPENDENCY_GRAPH_H_

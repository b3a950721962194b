#include "ledger_service/dependency_graph.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ccbatch::ledger {
namespace {

enum class Mark : uint8_t { kUnvisited, kOnPath, kDone };

// The cycle closed by the back edge path.back() -> target, in dependency
// order, rotated so its lowest index comes first.
std::vector<int> CycleFromPath(const std::vector<int>& path, int target) {
  auto start = std::find(path.begin(), path.end(), target);
  std::vector<int> cycle(start, path.end());
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()),
              cycle.end());
  return cycle;
}

std::string JobName(absl::Span<const std::string> names, int job) {
  return names.empty() ? absl::StrCat("#", job) : names[job];
}

std::string CycleMessage(const std::vector<int>& cycle,
                         absl::Span<const std::string> names) {
  std::string message = "dependency cycle: ";
  for (int job : cycle) absl::StrAppend(&message, JobName(names, job), " -> ");
  absl::StrAppend(&message, JobName(names, cycle.front()));
  return message;
}

// Upstream lists as sorted, duplicate-free compressed rows.
void BuildUpstreamRows(const std::vector<std::vector<int>>& upstream,
                       std::vector<int>* offsets, std::vector<int>* flat) {
  offsets->assign(1, 0);
  offsets->reserve(upstream.size() + 1);
  for (const std::vector<int>& row : upstream) {
    const size_t begin = flat->size();
    flat->insert(flat->end(), row.begin(), row.end());
    std::sort(flat->begin() + begin, flat->end());
    flat->erase(std::unique(flat->begin() + begin, flat->end()), flat->end());
    offsets->push_back(static_cast<int>(flat->size()));
  }
}

// The reverse of the upstream rows; iterating jobs in index order leaves
// each downstream row ascending.
void BuildDownstreamRows(const std::vector<int>& up_offsets,
                         const std::vector<int>& up, std::vector<int>* offsets,
                         std::vector<int>* flat) {
  const int n = static_cast<int>(up_offsets.size()) - 1;
  offsets->assign(n + 1, 0);
  for (int u : up) ++(*offsets)[u + 1];
  for (int i = 0; i < n; ++i) (*offsets)[i + 1] += (*offsets)[i];
  flat->resize(up.size());
  std::vector<int> fill(offsets->begin(), offsets->end() - 1);
  for (int job = 0; job < n; ++job) {
    for (int k = up_offsets[job]; k < up_offsets[job + 1]; ++k) {
      (*flat)[fill[up[k]]++] = job;
    }
  }
}

}  // namespace

std::optional<std::vector<int>> FindCycle(
    const std::vector<std::vector<int>>& upstream) {
  const int n = static_cast<int>(upstream.size());
  std::vector<Mark> mark(n, Mark::kUnvisited);
  // The current DFS path and, per path entry, the next upstream edge to try.
  std::vector<int> path;
  std::vector<size_t> next_edge;
  for (int root = 0; root < n; ++root) {
    if (mark[root] != Mark::kUnvisited) continue;
    path.push_back(root);
    next_edge.push_back(0);
    mark[root] = Mark::kOnPath;
    while (!path.empty()) {
      const int node = path.back();
      const std::vector<int>& edges = upstream[node];
      if (next_edge.back() == edges.size()) {
        mark[node] = Mark::kDone;
        path.pop_back();
        next_edge.pop_back();
        continue;
      }
      const int up = edges[next_edge.back()++];
      if (up < 0 || up >= n) continue;
      if (mark[up] == Mark::kOnPath) return CycleFromPath(path, up);
      if (mark[up] == Mark::kUnvisited) {
        mark[up] = Mark::kOnPath;
        path.push_back(up);
        next_edge.push_back(0);
      }
    }
  }
  return std::nullopt;
}

absl::StatusOr<DependencyGraph> DependencyGraph::Build(
    const std::vector<std::vector<int>>& upstream,
    absl::Span<const std::string> names) {
  const int n = static_cast<int>(upstream.size());
  if (!names.empty() && names.size() != upstream.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dependency graph: ", names.size(), " job names for ", n, " jobs"));
  }
  for (int job = 0; job < n; ++job) {
    for (int up : upstream[job]) {
      if (up < 0 || up >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat("job ", JobName(names, job), " depends on job #", up,
                         ", which is not one of the ", n, " jobs"));
      }
    }
  }
  if (std::optional<std::vector<int>> cycle = FindCycle(upstream)) {
    return absl::InvalidArgumentError(CycleMessage(*cycle, names));
  }
  DependencyGraph graph;
  BuildUpstreamRows(upstream, &graph.up_offsets_, &graph.up_);
  BuildDownstreamRows(graph.up_offsets_, graph.up_, &graph.down_offsets_,
                      &graph.down_);
  graph.ComputeTopologicalOrder();
  return graph;
}

void DependencyGraph::ComputeTopologicalOrder() {
  const int n = static_cast<int>(up_offsets_.size()) - 1;
  order_.clear();
  order_.reserve(n);
  position_.assign(n, -1);
  // Post-order of a depth-first walk up the dependencies, roots in index
  // order: a job is emitted once all its upstream jobs are. position_ is -2
  // while a job is on the walk, then its final position.
  std::vector<int> path;
  std::vector<int> next_edge;
  for (int root = 0; root < n; ++root) {
    if (position_[root] != -1) continue;
    position_[root] = -2;
    path.push_back(root);
    next_edge.push_back(up_offsets_[root]);
    while (!path.empty()) {
      const int job = path.back();
      if (next_edge.back() == up_offsets_[job + 1]) {
        position_[job] = static_cast<int>(order_.size());
        order_.push_back(job);
        path.pop_back();
        next_edge.pop_back();
        continue;
      }
      const int up = up_[next_edge.back()++];
      if (position_[up] == -1) {
        position_[up] = -2;
        path.push_back(up);
        next_edge.push_back(up_offsets_[up]);
      }
    }
  }
}

std::vector<int> DependencyGraph::DownstreamOf(
    absl::Span<const int> jobs) const {
  std::vector<bool> reached(order_.size(), false);
  std::vector<int> result;
  std::vector<int> frontier(jobs.begin(), jobs.end());
  while (!frontier.empty()) {
    const int job = frontier.back();
    frontier.pop_back();
    for (int down : downstream(job)) {
      if (reached[down]) continue;
      reached[down] = true;
      result.push_back(down);
      frontier.push_back(down);
    }
  }
  std::sort(result.begin(), result.end(),
            [this](int a, int b) { return position_[a] < position_[b]; });
  return result;
}

}  // namespace ccbatch::ledger

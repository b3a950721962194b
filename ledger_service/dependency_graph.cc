#include "ledger_service/dependency_graph.h"

#include <algorithm>
#include <cstdint>
#include <utility>

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

}  // namespace ccbatch::ledger

// Parsing a 100,000-line squeue output (~4.6 MB) in the agent's format.
// Target (issue "queue_agent"): <= 15 ms per parse on one core.
//
//   bazel run -c opt //bench:squeue_parse_bench -- --benchmark_repetitions=5
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "queue_agent/squeue_parser.h"

namespace ccbatch::agent {
namespace {

// A realistic queue: mostly pending and running chemistry jobs, array tasks,
// finished jobs kept by `-t all`, ccbatch comments and foreign ones, names
// with spaces and pipes.
std::string MakeSqueueOutput(int lines) {
  static constexpr const char* kStates[] = {
      "PENDING", "PENDING",   "PENDING", "RUNNING",    "RUNNING",
      "RUNNING", "COMPLETED", "FAILED",  "COMPLETING", "TIMEOUT"};
  static constexpr const char* kReasons[] = {
      "Priority", "Resources", "Dependency", "None", "JobHeldUser"};
  std::string out;
  out.reserve(static_cast<size_t>(lines) * 48);
  for (int i = 0; i < lines; ++i) {
    const char* state = kStates[i % 10];
    const bool running = state[0] == 'R' || state[0] == 'C';
    const std::string id = i % 7 == 0
                               ? absl::StrCat(4800000 + i / 100, "_", i % 100)
                               : absl::StrCat(4900000 + i);
    absl::StrAppend(&out, id, "\x1f", state, "\x1f",
                    running ? "None" : kReasons[i % 5], "\x1f",
                    running ? absl::StrCat("c", 100 + i % 400) : "", "\x1f",
                    i % 3 == 0 ? "(null)" : absl::StrCat("ccb:o", i), "\x1f",
                    i % 11 == 0 ? absl::StrCat("h2o | opt ", i)
                                : absl::StrCat("mol", i, "_opt"),
                    "\n");
  }
  return out;
}

void BM_ParseAgentFormat(benchmark::State& state) {
  const std::string output = MakeSqueueOutput(static_cast<int>(state.range(0)));
  const SqueueParser parser;
  for (auto _ : state) {
    ParsedSqueue parsed = parser.Parse(output);
    benchmark::DoNotOptimize(parsed.entries.data());
    if (parsed.diagnostics.malformed_lines() != 0) {
      state.SkipWithError("generated output did not parse");
    }
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(output.size()));
  state.counters["lines"] = static_cast<double>(state.range(0));
  state.counters["bytes"] = static_cast<double>(output.size());
}
BENCHMARK(BM_ParseAgentFormat)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

// What the parse cannot go below: constructing the same number of
// QueueEntry messages with six string fields each (protobuf 3.21 allocates
// every non-empty string field separately), and destroying them.
void BM_QueueEntryConstructionFloor(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> names;
  names.reserve(n);
  for (int i = 0; i < n; ++i) names.push_back(absl::StrCat("mol", i, "_opt"));
  for (auto _ : state) {
    std::vector<v1::QueueEntry> entries;
    entries.reserve(n);
    for (int i = 0; i < n; ++i) {
      v1::QueueEntry& entry = entries.emplace_back();
      entry.set_slurm_job_id("4900123");
      entry.set_state("RUNNING");
      entry.set_reason("None");
      entry.set_nodes("c123");
      entry.set_comment("ccb:o12345");
      entry.set_name(names[i]);
    }
    benchmark::DoNotOptimize(entries.data());
  }
}
BENCHMARK(BM_QueueEntryConstructionFloor)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ccbatch::agent

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "ledger_service/dependency_graph.h"
#include "ledger_service/status_computer.h"

namespace ccbatch::ledger {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);
const absl::Duration kLimit = absl::Minutes(5);

// Molecules of 3 jobs each: opt <- freq <- nmr.
std::vector<std::vector<int>> Upstream(int jobs) {
  std::vector<std::vector<int>> up(jobs);
  for (int i = 0; i < jobs; ++i)
    if (i % 3 != 0) up[i] = {i - 1};
  return up;
}

// opt: SUCCEEDED (verdict); freq: RUNNING in the queue; nmr: WAITING.
StatusComputer Make(int jobs) {
  std::vector<JobFacts> facts(jobs);
  for (int i = 0; i < jobs; ++i) {
    facts[i].key = absl::StrCat("batch/mol", i / 3, "_", i % 3);
    if (i % 3 == 2) continue;
    AttemptFacts a;
    a.number = 1;
    a.cluster = "hpc1";
    a.order_id = absl::StrCat("o", i);
    a.slurm_job_id = absl::StrCat(100000 + i);
    a.submitted_at = kT0 - absl::Hours(1);
    if (i % 3 == 0) {
      VerdictFacts v;
      v.slurm_job_id = a.slurm_job_id;
      v.attempt = 1;
      v.outcome = ccbatch::v1::Verdict::OUTCOME_SUCCEEDED;
      v.summary = "normal termination";
      facts[i].verdict = v;
    } else {
      a.queue_entry = QueueEntryFacts{"RUNNING", "None", "c041"};
      a.last_queue_state = "RUNNING";
    }
    facts[i].attempt = a;
  }
  auto graph = DependencyGraph::Build(Upstream(jobs));
  auto computer = StatusComputer::Create(*std::move(graph), std::move(facts));
  ClusterFacts c;
  c.name = "hpc1";
  c.has_snapshot = true;
  c.snapshot_taken_at = kT0;
  c.snapshot_received_at = kT0;
  computer->SetCluster(c);
  return *std::move(computer);
}

void BM_GraphBuild(benchmark::State& state) {
  const auto up = Upstream(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(DependencyGraph::Build(up));
}
BENCHMARK(BM_GraphBuild)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

void BM_DeriveAll(benchmark::State& state) {
  StatusComputer computer = Make(state.range(0));
  absl::Time now = kT0;
  for (auto _ : state) {
    // Alternate staleness limits so every pass really re-derives (and
    // reasons actually change for nobody: compare cost included).
    benchmark::DoNotOptimize(computer.DeriveAll(now, kLimit));
  }
}
BENCHMARK(BM_DeriveAll)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

void BM_DeriveAllFromScratch(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    StatusComputer computer = Make(state.range(0));
    state.ResumeTiming();
    benchmark::DoNotOptimize(computer.DeriveAll(kT0, kLimit));
    state.PauseTiming();
    { StatusComputer gone = std::move(computer); }
    state.ResumeTiming();
  }
}
BENCHMARK(BM_DeriveAllFromScratch)->Arg(100000)->Unit(benchmark::kMillisecond);

// A snapshot where 1 % of the jobs changed: every 100th running job ends.
void BM_SnapshotOnePercent(benchmark::State& state) {
  const int jobs = state.range(0);
  StatusComputer computer = Make(jobs);
  computer.DeriveAll(kT0, kLimit);
  absl::Time now = kT0;
  bool flip = false;
  std::vector<int> changed;
  for (int i = 1; i < jobs && static_cast<int>(changed.size()) < jobs / 100;
       i += 3) {
    changed.push_back(i);
  }
  for (auto _ : state) {
    now += absl::Seconds(30);
    flip = !flip;
    ClusterFacts c = *computer.cluster("hpc1");
    c.snapshot_taken_at = now;
    c.snapshot_received_at = now;
    computer.SetCluster(c);
    for (int job : changed) {
      computer.mutable_facts(job).attempt->queue_entry->state =
          flip ? "COMPLETED" : "RUNNING";
    }
    auto result = computer.Rederive(changed, now, kLimit);
    if (result.size() < changed.size()) state.SkipWithError("too few changes");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_SnapshotOnePercent)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMicrosecond);

// The cluster goes stale and back: every running job flips.
void BM_StalenessFlip(benchmark::State& state) {
  StatusComputer computer = Make(state.range(0));
  computer.DeriveAll(kT0, kLimit);
  bool stale = false;
  for (auto _ : state) {
    stale = !stale;
    benchmark::DoNotOptimize(
        computer.Rederive({}, stale ? kT0 + absl::Minutes(6) : kT0, kLimit));
  }
}
BENCHMARK(BM_StalenessFlip)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ccbatch::ledger

// The cost of the ledger's input checks (ledger_service/input_limits.h) on
// what agents send most: snapshot chunks. Every chunk is walked for
// overlong strings before the ledger sees it.
//   bazel run -c opt //bench:input_limits_bench
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "ccbatch/v1/agent.pb.h"
#include "ledger_service/input_limits.h"

namespace ccbatch::ledger {
namespace {

// A chunk of `entries` squeue entries shaped like a lab's (ids, states,
// reasons, names, ccbatch comments, nodes).
ccbatch::v1::AgentMessage Chunk(int entries) {
  ccbatch::v1::AgentMessage message;
  ccbatch::v1::SnapshotChunk* chunk = message.mutable_snapshot_chunk();
  chunk->set_snapshot_seq(1);
  chunk->set_total_entries(entries);
  for (int i = 0; i < entries; ++i) {
    ccbatch::v1::QueueEntry* entry = chunk->add_entries();
    entry->set_slurm_job_id(
        absl::StrCat(4'800'000 + i, i % 7 == 0 ? "_3" : ""));
    entry->set_state(i % 3 == 0 ? "RUNNING" : "PENDING");
    entry->set_reason(i % 3 == 0 ? "None" : "Priority");
    entry->set_name(absl::StrCat("opt_conformer_", i, "_b3lyp_def2tzvp"));
    entry->set_comment(absl::StrCat("ccb:", 1'000'000 + i));
    entry->set_nodes(i % 3 == 0 ? "c041" : "");
  }
  return message;
}

void BM_CheckStringLengths(benchmark::State& state) {
  const ccbatch::v1::AgentMessage message =
      Chunk(static_cast<int>(state.range(0)));
  const InputLimits limits;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        CheckStringLengths(message, limits.max_string_bytes));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(message.ByteSizeLong()));
}
BENCHMARK(BM_CheckStringLengths)->Arg(1'000)->Arg(30'000)->Arg(100'000);

}  // namespace
}  // namespace ccbatch::ledger

// The agent's cost per probe for a 100,000-line squeue output (~5 MB) in the
// agent's format: parsing it, and turning the snapshot into the chunks sent
// to the ledger. Target (issue 3): parsing <= 15 ms on one core.
//
// Run each benchmark in its own process (docs/PERFORMANCE.md): glibc's
// malloc adapts its trim threshold to what earlier benchmarks freed, which
// makes the heap-heavy ones up to twice as fast after others in one process.
//
//   bazel build -c opt //bench:squeue_parse_bench
//   for b in ParseRows/100000 ParseAndChunk/100000 ParseToMessages/100000 \
//            FormerParseAndChunk; do
//     bazel-bin/bench/squeue_parse_bench --benchmark_filter=BM_$b \
//         --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   done
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "ccbatch/v1/agent.pb.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "queue_agent/queue_snapshot.h"
#include "queue_agent/snapshot_chunker.h"
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

void SetCounters(benchmark::State& state, const std::string& output) {
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(output.size()));
  state.counters["lines"] = static_cast<double>(state.range(0));
  state.counters["bytes"] = static_cast<double>(output.size());
}

// What the probe does with squeue's output: rows viewing the text.
void BM_ParseRows(benchmark::State& state) {
  const std::string output = MakeSqueueOutput(static_cast<int>(state.range(0)));
  const SqueueParser parser;
  for (auto _ : state) {
    ParsedSqueueRows parsed = parser.ParseRows(output);
    benchmark::DoNotOptimize(parsed.rows.data());
    if (parsed.diagnostics.malformed_lines() != 0) {
      state.SkipWithError("generated output did not parse");
    }
  }
  SetCounters(state, output);
}
BENCHMARK(BM_ParseRows)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

// The snapshot the probe would make of `output` (which must outlive it).
QueueSnapshot ProbeSnapshot(const SqueueParser& parser,
                            const std::shared_ptr<const std::string>& output) {
  ParsedSqueueRows parsed = parser.ParseRows(*output);
  QueueSnapshot snapshot;
  snapshot.text = output;
  snapshot.entries = std::move(parsed.rows);
  snapshot.entries_are_utf8 = parsed.rows_are_utf8;
  snapshot.diagnostics = std::move(parsed.diagnostics);
  return snapshot;
}

// The whole agent-side cost per probe, short of gRPC's serialization: parse,
// then build every chunk the way Agent::WriteItem does (one AgentMessage
// per chunk on its own arena, freed before the next is built).
void BM_ParseAndChunk(benchmark::State& state) {
  const auto output = std::make_shared<const std::string>(
      MakeSqueueOutput(static_cast<int>(state.range(0))));
  const SqueueParser parser;
  for (auto _ : state) {
    const QueueSnapshot snapshot = ProbeSnapshot(parser, output);
    SnapshotChunker chunker(snapshot, 1);
    int chunks = 0;
    while (!chunker.done()) {
      google::protobuf::Arena arena(ChunkArenaOptions());
      auto* message =
          google::protobuf::Arena::CreateMessage<v1::AgentMessage>(&arena);
      chunker.Next(message->mutable_snapshot_chunk());
      benchmark::DoNotOptimize(message);
      ++chunks;
    }
    state.counters["chunks"] = chunks;
  }
  SetCounters(state, *output);
}
BENCHMARK(BM_ParseAndChunk)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

// As BM_ParseAndChunk, but every chunk a heap message (ChunkSnapshot), all
// alive at once: what the arena saves.
void BM_ParseAndChunkOnHeap(benchmark::State& state) {
  const auto output = std::make_shared<const std::string>(
      MakeSqueueOutput(static_cast<int>(state.range(0))));
  const SqueueParser parser;
  for (auto _ : state) {
    const QueueSnapshot snapshot = ProbeSnapshot(parser, output);
    std::vector<v1::SnapshotChunk> chunks = ChunkSnapshot(snapshot, 1);
    benchmark::DoNotOptimize(chunks.data());
  }
  SetCounters(state, *output);
}
BENCHMARK(BM_ParseAndChunkOnHeap)->Arg(100000)->Unit(benchmark::kMillisecond);

// The former probe path, for comparison: parse into heap QueueEntry
// messages (SqueueParser::Parse), which the chunker then had to copy.
void BM_ParseToMessages(benchmark::State& state) {
  const std::string output = MakeSqueueOutput(static_cast<int>(state.range(0)));
  const SqueueParser parser;
  for (auto _ : state) {
    ParsedSqueue parsed = parser.Parse(output);
    benchmark::DoNotOptimize(parsed.entries.data());
    if (parsed.diagnostics.malformed_lines() != 0) {
      state.SkipWithError("generated output did not parse");
    }
  }
  SetCounters(state, output);
}
BENCHMARK(BM_ParseToMessages)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

// The former per-probe path, for comparison: heap entries from Parse,
// then each copied into heap chunks as ChunkSnapshot did before snapshots
// held rows (same chunk limits). Every entry was built twice.
void BM_FormerParseAndChunk(benchmark::State& state) {
  const std::string output = MakeSqueueOutput(static_cast<int>(state.range(0)));
  const SqueueParser parser;
  const ChunkLimits limits;
  for (auto _ : state) {
    const ParsedSqueue parsed = parser.Parse(output);
    std::vector<v1::SnapshotChunk> chunks(1);
    size_t bytes = 0;
    for (const v1::QueueEntry& entry : parsed.entries) {
      const size_t size = entry.ByteSizeLong() + 3;
      const int count = chunks.back().entries_size();
      if (count > 0 && (count >= limits.max_entries ||
                        bytes + size > limits.max_entry_bytes)) {
        chunks.emplace_back();
        bytes = 0;
      }
      *chunks.back().add_entries() = entry;
      bytes += size;
    }
    benchmark::DoNotOptimize(chunks.data());
  }
  SetCounters(state, output);
}
BENCHMARK(BM_FormerParseAndChunk)->Arg(100000)->Unit(benchmark::kMillisecond);

// The option not taken: the parser builds its entries on an arena (one per
// snapshot, the chunks then copy them into theirs).
void BM_ParseToArenaEntries(benchmark::State& state) {
  const std::string output = MakeSqueueOutput(static_cast<int>(state.range(0)));
  const SqueueParser parser;
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* entries = google::protobuf::Arena::CreateMessage<
        google::protobuf::RepeatedPtrField<v1::QueueEntry>>(&arena);
    const ParsedSqueueRows parsed = parser.ParseRows(output);
    entries->Reserve(static_cast<int>(parsed.rows.size()));
    for (const QueueRow& row : parsed.rows) row.FillEntry(entries->Add());
    benchmark::DoNotOptimize(entries);
  }
  SetCounters(state, output);
}
BENCHMARK(BM_ParseToArenaEntries)->Arg(100000)->Unit(benchmark::kMillisecond);

// What building heap messages cannot go below: constructing 100,000
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

// The ledger's RocksDB store under its workload (DESIGN §5, §11): small
// synced batches (imports, orders, attempts), larger unsynced ones (applying
// a queue snapshot), point lookups and prefix scans over a few hundred
// thousand keys, and the full scan that rebuilds memory at start.
//
// bazel run -c opt //bench:store_bench [-- --benchmark_repetitions=5]
// The store lives under $TEST_TMPDIR or /tmp and is removed at exit; synced
// numbers measure that file system's fsync.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "ledger_service/store.h"
#include "ledger_service/store_rocksdb.h"

namespace ccbatch::ledger {
namespace {

namespace fs = std::filesystem;

constexpr int kBatches = 300;
constexpr int kJobsPerBatch = 1000;  // 300,000 jobs

std::string JobKey(int batch, int job) {
  return absl::StrFormat("batch%03d/job%05d", batch, job);
}

// A value the size of a typical JobDefinition / JobView.
const std::string& Value() {
  static const std::string* value = new std::string(200, 'v');
  return *value;
}

fs::path BenchRoot() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return fs::path(tmp != nullptr ? tmp : "/tmp") /
         absl::StrCat("ccbatch_store_bench_", getpid());
}

std::unique_ptr<RocksDbStore> OpenOrDie(const std::string& name) {
  const fs::path path = BenchRoot() / name;
  fs::remove_all(path);
  fs::create_directories(BenchRoot());
  absl::StatusOr<std::unique_ptr<RocksDbStore>> store =
      RocksDbStore::Open(path.string());
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    std::abort();
  }
  return *std::move(store);
}

void WriteOrDie(Store& store, const WriteBatch& batch, bool sync) {
  absl::Status status = store.Write(batch, WriteOptions{sync});
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::abort();
  }
}

// 300,000 jobs with a status each, shared by the read benchmarks.
Store& LoadedStore() {
  static RocksDbStore* store = [] {
    RocksDbStore* loaded = OpenOrDie("loaded").release();
    for (int b = 0; b < kBatches; ++b) {
      WriteBatch batch;
      for (int j = 0; j < kJobsPerBatch; ++j) {
        batch.Put(Column::kJobs, JobKey(b, j), Value());
        batch.Put(Column::kStatus, JobKey(b, j), Value());
      }
      WriteOrDie(*loaded, batch, /*sync=*/false);
    }
    return loaded;
  }();
  return *store;
}

// One order: attempt, order, status, index move, event. Arg: sync.
void BM_OrderBatch(benchmark::State& state) {
  const bool sync = state.range(0) != 0;
  std::unique_ptr<RocksDbStore> store = OpenOrDie(absl::StrCat("order", sync));
  uint64_t seq = 0;
  for (auto _ : state) {
    const std::string job = JobKey(0, static_cast<int>(seq % kJobsPerBatch));
    WriteBatch batch;
    batch.Put(Column::kAttempts, JobAttemptKey(job, 1), Value());
    batch.Put(Column::kOrders, absl::StrFormat("o%012d", seq), Value());
    batch.Put(Column::kStatus, job, Value());
    batch.Delete(Column::kStatusIndex,
                 StatusIndexKey(v1::JOB_STATUS_READY, job));
    batch.Put(Column::kStatusIndex,
              StatusIndexKey(v1::JOB_STATUS_SUBMITTING, job), "");
    batch.Put(Column::kEvents, EventKey(++seq), Value());
    WriteOrDie(*store, batch, sync);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OrderBatch)->Arg(1)->Arg(0)->UseRealTime();

// Applying a snapshot that changed N jobs' statuses: one unsynced batch.
void BM_SnapshotBatch(benchmark::State& state) {
  const int changed = static_cast<int>(state.range(0));
  std::unique_ptr<RocksDbStore> store = OpenOrDie("snapshot");
  uint64_t seq = 0;
  for (auto _ : state) {
    WriteBatch batch;
    batch.Put(Column::kClusters, ClusterKey("hpc1", "snapshot"),
              std::string(static_cast<size_t>(changed) * 60, 's'));
    for (int j = 0; j < changed; ++j) {
      const std::string job = JobKey(1, j);
      batch.Put(Column::kStatus, job, Value());
      batch.Delete(Column::kStatusIndex,
                   StatusIndexKey(v1::JOB_STATUS_PENDING, job));
      batch.Put(Column::kStatusIndex,
                StatusIndexKey(v1::JOB_STATUS_RUNNING, job), "");
      batch.Put(Column::kEvents, EventKey(++seq), Value());
    }
    WriteOrDie(*store, batch, /*sync=*/false);
  }
  state.SetItemsProcessed(state.iterations() * changed);
}
BENCHMARK(BM_SnapshotBatch)->Arg(100)->Arg(10000)->UseRealTime();

void BM_PointGet(benchmark::State& state) {
  const bool hit = state.range(0) != 0;
  Store& store = LoadedStore();
  int i = 0;
  for (auto _ : state) {
    const std::string key =
        hit ? JobKey(i % kBatches, (i * 7919) % kJobsPerBatch)
            : absl::StrCat(JobKey(i % kBatches, i % kJobsPerBatch), "x");
    benchmark::DoNotOptimize(store.Get(Column::kStatus, key));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PointGet)->Arg(1)->Arg(0);

// The jobs of one batch (1,000 of 300,000).
void BM_ScanOneBatch(benchmark::State& state) {
  Store& store = LoadedStore();
  int b = 0;
  int64_t keys = 0;
  for (auto _ : state) {
    absl::Status scanned =
        store.Scan(Column::kJobs, absl::StrFormat("batch%03d/", b++ % kBatches),
                   [&](absl::string_view, absl::string_view value) {
                     benchmark::DoNotOptimize(value.data());
                     ++keys;
                     return true;
                   });
    benchmark::DoNotOptimize(scanned);
  }
  state.SetItemsProcessed(keys);
}
BENCHMARK(BM_ScanOneBatch);

// Rebuilding memory at start: every job.
void BM_ScanAllJobs(benchmark::State& state) {
  Store& store = LoadedStore();
  int64_t keys = 0;
  for (auto _ : state) {
    absl::Status scanned = store.Scan(
        Column::kJobs, "", [&](absl::string_view, absl::string_view) {
          ++keys;
          return true;
        });
    benchmark::DoNotOptimize(scanned);
  }
  state.SetItemsProcessed(keys);
}
BENCHMARK(BM_ScanAllJobs)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ccbatch::ledger

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(ccbatch::ledger::BenchRoot());
  return 0;
}

// One suite run against both Store implementations, plus what only one of
// them has: RocksDB's paths, families and durability across SIGKILL, and
// MemoryStore's fault injection.
//
// The crash test re-executes this binary as the writer (see main()), so the
// child starts clean instead of inheriting a forked copy of a threaded process.
#include "ledger_service/store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/status_macros.h"  // status_matchers.h uses its CONCAT
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger_service/store_memory.h"
#include "ledger_service/store_rocksdb.h"
#include "rocksdb/db.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;

namespace fs = std::filesystem;

// A directory of its own for the running test, under Bazel's TEST_TMPDIR.
std::string FreshTestDir() {
  const char* root = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrReplaceAll(
      absl::StrCat(test->test_suite_name(), ".", test->name()), {{"/", "_"}});
  fs::path dir = fs::path(root != nullptr ? root : "/tmp") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries ScanAll(const Store& store, Column column, absl::string_view prefix) {
  Entries entries;
  EXPECT_THAT(store.Scan(column, prefix,
                         [&](absl::string_view key, absl::string_view value) {
                           entries.emplace_back(key, value);
                           return true;
                         }),
              IsOk());
  return entries;
}

std::vector<std::string> KeysOf(const Entries& entries) {
  std::vector<std::string> keys;
  for (const auto& entry : entries) keys.push_back(entry.first);
  return keys;
}

// The value under `key`; a failed read fails the test and reads as absent.
std::optional<std::string> Read(const Store& store, Column column,
                                absl::string_view key) {
  absl::StatusOr<std::optional<std::string>> value = store.Get(column, key);
  EXPECT_THAT(value, IsOk());
  return value.ok() ? *value : std::nullopt;
}

absl::Status PutOne(Store& store, Column column, absl::string_view key,
                    absl::string_view value) {
  WriteBatch batch;
  batch.Put(column, key, value);
  return store.Write(batch, WriteOptions{});
}

enum class Kind { kRocksDb, kMemory };

class StoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir() + "/store";
    contents_ = MemoryStore::NewContents();
    CCB_ASSERT_OK_AND_ASSIGN(store_, OpenStore());
  }

  absl::StatusOr<std::unique_ptr<Store>> OpenStore() {
    if (GetParam() == Kind::kRocksDb) return RocksDbStore::Open(dir_);
    return MemoryStore::Open(contents_);
  }

  // Closes the store and opens it again over the same directory/contents.
  void Reopen() {
    store_.reset();
    CCB_ASSERT_OK_AND_ASSIGN(store_, OpenStore());
  }

  std::string dir_;
  std::shared_ptr<MemoryStore::Contents> contents_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, AbsentKeyIsNulloptNotAnError) {
  CCB_ASSERT_OK_AND_ASSIGN(auto value, store_->Get(Column::kJobs, "b/none"));
  EXPECT_EQ(value, std::nullopt);
}

TEST_P(StoreTest, PutThenGetThenDelete) {
  CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, "b/a", "one"));
  EXPECT_THAT(Read(*store_, Column::kJobs, "b/a"),
              Optional(std::string("one")));
  CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, "b/a", "two"));
  CCB_ASSERT_OK_AND_ASSIGN(auto overwritten, store_->Get(Column::kJobs, "b/a"));
  EXPECT_THAT(overwritten, Optional(std::string("two")));

  WriteBatch remove;
  remove.Delete(Column::kJobs, "b/a");
  remove.Delete(Column::kJobs, "b/never-there");
  CCB_ASSERT_OK(store_->Write(remove, WriteOptions{}));
  CCB_ASSERT_OK_AND_ASSIGN(auto gone, store_->Get(Column::kJobs, "b/a"));
  EXPECT_EQ(gone, std::nullopt);
}

TEST_P(StoreTest, ValuesAreBytesIncludingNul) {
  const std::string value("a\0b\xff", 4);
  const std::string key("k\0\x01", 3);
  CCB_ASSERT_OK(PutOne(*store_, Column::kClusters, key, value));
  CCB_ASSERT_OK_AND_ASSIGN(auto read, store_->Get(Column::kClusters, key));
  EXPECT_THAT(read, Optional(value));
}

TEST_P(StoreTest, ColumnsAreSeparateKeySpaces) {
  WriteBatch batch;
  batch.Put(Column::kJobs, "b/a", "definition");
  batch.Put(Column::kStatus, "b/a", "view");
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{}));
  CCB_ASSERT_OK_AND_ASSIGN(auto job, store_->Get(Column::kJobs, "b/a"));
  CCB_ASSERT_OK_AND_ASSIGN(auto status, store_->Get(Column::kStatus, "b/a"));
  CCB_ASSERT_OK_AND_ASSIGN(auto batches, store_->Get(Column::kBatches, "b/a"));
  EXPECT_THAT(job, Optional(std::string("definition")));
  EXPECT_THAT(status, Optional(std::string("view")));
  EXPECT_EQ(batches, std::nullopt);
}

TEST_P(StoreTest, BatchAppliesAcrossColumnsInOrder) {
  CCB_ASSERT_OK(PutOne(*store_, Column::kOrders, "o-1", "old order"));
  WriteBatch batch;
  batch.Put(Column::kJobs, "b/a", "def");
  batch.Put(Column::kAttempts, JobAttemptKey("b/a", 1), "attempt");
  batch.Delete(Column::kOrders, "o-1");
  // Later updates of the same key win.
  batch.Put(Column::kVerdicts, "v", "first");
  batch.Delete(Column::kVerdicts, "v");
  batch.Delete(Column::kEvents, EventKey(7));
  batch.Put(Column::kEvents, EventKey(7), "event");
  EXPECT_EQ(batch.size(), 7u);
  EXPECT_EQ(batch.Describe(),
            "7 updates to jobs, attempts, verdicts, events, orders");
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{/*sync=*/true}));

  EXPECT_THAT(Read(*store_, Column::kJobs, "b/a"),
              Optional(std::string("def")));
  EXPECT_THAT(Read(*store_, Column::kAttempts, JobAttemptKey("b/a", 1)),
              Optional(std::string("attempt")));
  EXPECT_EQ(Read(*store_, Column::kOrders, "o-1"), std::nullopt);
  EXPECT_EQ(Read(*store_, Column::kVerdicts, "v"), std::nullopt);
  EXPECT_THAT(Read(*store_, Column::kEvents, EventKey(7)),
              Optional(std::string("event")));
}

TEST_P(StoreTest, EmptyBatchIsANoOp) {
  CCB_EXPECT_OK(store_->Write(WriteBatch(), WriteOptions{}));
}

TEST_P(StoreTest, ScanVisitsPrefixInKeyOrder) {
  for (const char* key : {"b/c", "a/x", "bb/a", "b/a", "b/b", "b"}) {
    CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, key, absl::StrCat("v", key)));
  }
  EXPECT_THAT(ScanAll(*store_, Column::kJobs, "b/"),
              ElementsAre(Pair("b/a", "vb/a"), Pair("b/b", "vb/b"),
                          Pair("b/c", "vb/c")));
  EXPECT_THAT(KeysOf(ScanAll(*store_, Column::kJobs, "")),
              ElementsAre("a/x", "b", "b/a", "b/b", "b/c", "bb/a"));
  EXPECT_THAT(ScanAll(*store_, Column::kJobs, "c"), IsEmpty());
  EXPECT_THAT(ScanAll(*store_, Column::kStatus, ""), IsEmpty());
}

TEST_P(StoreTest, ScanOfAllOnesPrefixHasNoUpperBoundProblem) {
  const std::string high("\xff\xff", 2);
  CCB_ASSERT_OK(PutOne(*store_, Column::kMeta, high + "a", "1"));
  CCB_ASSERT_OK(PutOne(*store_, Column::kMeta, high + "\xff", "2"));
  EXPECT_THAT(KeysOf(ScanAll(*store_, Column::kMeta, high)),
              ElementsAre(high + "a", high + "\xff"));
}

TEST_P(StoreTest, ScanStopsWhenVisitorSaysSo) {
  for (int i = 0; i < 10; ++i) {
    CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, absl::StrCat("b/", i), "v"));
  }
  std::vector<std::string> seen;
  CCB_ASSERT_OK(store_->Scan(Column::kJobs, "b/",
                             [&](absl::string_view key, absl::string_view) {
                               seen.emplace_back(key);
                               return seen.size() < 3;
                             }));
  EXPECT_THAT(seen, ElementsAre("b/0", "b/1", "b/2"));
}

TEST_P(StoreTest, ScanFromPagesThroughAPrefixOnce) {
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    expected.push_back(absl::StrFormat("b/%02d", i));
    CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, expected.back(), "v"));
  }
  CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, "c/00", "other batch"));

  std::vector<std::string> paged;
  std::string start;
  for (int page = 0; page < 10; ++page) {
    std::vector<std::string> keys;
    CCB_ASSERT_OK(
        store_->ScanFrom(Column::kJobs, "b/", start,
                         [&](absl::string_view key, absl::string_view) {
                           keys.emplace_back(key);
                           return keys.size() < 3;
                         }));
    if (keys.empty()) break;
    paged.insert(paged.end(), keys.begin(), keys.end());
    start = KeySuccessor(keys.back());
  }
  EXPECT_EQ(paged, expected);

  // A start inside the prefix is inclusive; one past it finds nothing.
  std::vector<std::string> from_middle;
  CCB_ASSERT_OK(store_->ScanFrom(Column::kJobs, "b/", "b/05",
                                 [&](absl::string_view key, absl::string_view) {
                                   from_middle.emplace_back(key);
                                   return true;
                                 }));
  EXPECT_THAT(from_middle, ElementsAre("b/05", "b/06"));
  bool visited = false;
  CCB_ASSERT_OK(store_->ScanFrom(Column::kJobs, "b/", "b0",
                                 [&](absl::string_view, absl::string_view) {
                                   visited = true;
                                   return true;
                                 }));
  EXPECT_FALSE(visited);
}

TEST_P(StoreTest, EventsIterateInSequenceOrder) {
  const std::vector<uint64_t> seqs = {256, 1, uint64_t{1} << 40, 255, 65536, 2};
  for (uint64_t seq : seqs) {
    CCB_ASSERT_OK(
        PutOne(*store_, Column::kEvents, EventKey(seq), absl::StrCat(seq)));
  }
  std::vector<uint64_t> order;
  for (const auto& [key, value] : ScanAll(*store_, Column::kEvents, "")) {
    CCB_ASSERT_OK_AND_ASSIGN(uint64_t seq, ParseEventKey(key));
    EXPECT_EQ(absl::StrCat(seq), value);
    order.push_back(seq);
  }
  EXPECT_THAT(order, ElementsAre(1, 2, 255, 256, 65536, uint64_t{1} << 40));
}

TEST_P(StoreTest, StatusIndexPrefixSelectsOneStatusInJobOrder) {
  WriteBatch batch;
  batch.Put(Column::kStatusIndex, StatusIndexKey(v1::JOB_STATUS_RUNNING, "b/z"),
            "");
  batch.Put(Column::kStatusIndex, StatusIndexKey(v1::JOB_STATUS_PENDING, "b/m"),
            "");
  batch.Put(Column::kStatusIndex, StatusIndexKey(v1::JOB_STATUS_RUNNING, "a/q"),
            "");
  batch.Put(Column::kStatusIndex, StatusIndexKey(v1::JOB_STATUS_UNKNOWN, "b/a"),
            "");
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{}));

  std::vector<std::string> running;
  for (const std::string& key :
       KeysOf(ScanAll(*store_, Column::kStatusIndex,
                      StatusIndexPrefix(v1::JOB_STATUS_RUNNING)))) {
    CCB_ASSERT_OK_AND_ASSIGN(std::string job, JobKeyOfStatusIndexKey(key));
    running.push_back(job);
  }
  EXPECT_THAT(running, ElementsAre("a/q", "b/z"));
}

TEST_P(StoreTest, JobAttemptPrefixSelectsOneJobInAttemptOrder) {
  WriteBatch batch;
  for (int attempt : {10, 2, 1, 256}) {
    batch.Put(Column::kAttempts, JobAttemptKey("b/a", attempt),
              absl::StrCat(attempt));
  }
  // A job whose key extends b/a must not show up among b/a's attempts.
  batch.Put(Column::kAttempts, JobAttemptKey("b/ab", 1), "other job");
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{}));

  std::vector<int> attempts;
  for (const std::string& key :
       KeysOf(ScanAll(*store_, Column::kAttempts, JobAttemptPrefix("b/a")))) {
    CCB_ASSERT_OK_AND_ASSIGN(JobAttempt parsed, ParseJobAttemptKey(key));
    EXPECT_EQ(parsed.job_key, "b/a");
    attempts.push_back(parsed.attempt);
  }
  EXPECT_THAT(attempts, ElementsAre(1, 2, 10, 256));
}

TEST_P(StoreTest, ScanSeesTheViewFromItsStartEvenIfTheVisitorWrites) {
  CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, "b/1", "v"));
  CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, "b/3", "v"));
  std::vector<std::string> seen;
  CCB_ASSERT_OK(store_->Scan(
      Column::kJobs, "b/", [&](absl::string_view key, absl::string_view) {
        seen.emplace_back(key);
        EXPECT_THAT(PutOne(*store_, Column::kJobs, "b/2", "added"), IsOk());
        return true;
      }));
  EXPECT_THAT(seen, ElementsAre("b/1", "b/3"));
  EXPECT_THAT(KeysOf(ScanAll(*store_, Column::kJobs, "b/")),
              ElementsAre("b/1", "b/2", "b/3"));
}

// Each batch puts key i under both "x/" and "y/"; a reader must never see one
// without the other.
TEST_P(StoreTest, ConcurrentReadersSeeWholeBatches) {
  constexpr int kWriters = 2;
  constexpr int kBatchesPerWriter = 200;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      int x = 0;
      int y = 0;
      absl::Status scanned = store_->Scan(
          Column::kVerdicts, "", [&](absl::string_view key, absl::string_view) {
            (absl::StartsWith(key, "x/") ? x : y)++;
            return true;
          });
      if (!scanned.ok() || x != y) torn.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kBatchesPerWriter; ++i) {
        WriteBatch batch;
        const std::string id = absl::StrCat(w, "-", i);
        batch.Put(Column::kVerdicts, "x/" + id, "v");
        batch.Put(Column::kVerdicts, "y/" + id, "v");
        EXPECT_THAT(store_->Write(batch, WriteOptions{/*sync=*/false}), IsOk());
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(ScanAll(*store_, Column::kVerdicts, "x/").size(),
            size_t{kWriters * kBatchesPerWriter});
}

TEST_P(StoreTest, ReopeningKeepsEveryColumn) {
  WriteBatch batch;
  for (Column column : AllColumns()) {
    batch.Put(column, "kept", ColumnName(column));
  }
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{}));
  CCB_ASSERT_OK(PutOne(*store_, Column::kJobs, "unsynced", "too"));
  Reopen();
  for (Column column : AllColumns()) {
    CCB_ASSERT_OK_AND_ASSIGN(auto value, store_->Get(column, "kept"));
    EXPECT_THAT(value, Optional(std::string(ColumnName(column))))
        << ColumnName(column);
  }
  CCB_ASSERT_OK_AND_ASSIGN(auto unsynced,
                           store_->Get(Column::kJobs, "unsynced"));
  EXPECT_THAT(unsynced, Optional(std::string("too")));
}

TEST_P(StoreTest, SecondOpenWhileOpenIsRefused) {
  EXPECT_THAT(OpenStore(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    HasSubstr("ledger")));
  // And the refusal did not disturb the open store.
  CCB_EXPECT_OK(PutOne(*store_, Column::kJobs, "b/a", "v"));
}

TEST_P(StoreTest, FreshStoreRecordsItsSchemaVersion) {
  CCB_ASSERT_OK_AND_ASSIGN(auto version,
                           store_->Get(Column::kMeta, kSchemaVersionKey));
  EXPECT_THAT(version, Optional(absl::StrCat(kSchemaVersion)));
}

TEST_P(StoreTest, NewerSchemaVersionIsRefusedAtOpen) {
  CCB_ASSERT_OK(PutOne(*store_, Column::kMeta, kSchemaVersionKey,
                       absl::StrCat(kSchemaVersion + 1)));
  store_.reset();
  EXPECT_THAT(
      OpenStore(),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          AllOf(
              HasSubstr(absl::StrCat("schema version ", kSchemaVersion + 1)),
              HasSubstr(absl::StrCat("newer than version ", kSchemaVersion)))));
}

TEST_P(StoreTest, UnreadableSchemaVersionIsDataLoss) {
  CCB_ASSERT_OK(PutOne(*store_, Column::kMeta, kSchemaVersionKey, "one"));
  store_.reset();
  EXPECT_THAT(OpenStore(), StatusIs(absl::StatusCode::kDataLoss,
                                    HasSubstr("\"one\", not a number")));
}

TEST_P(StoreTest, TypedHelpersRoundTripAndReportBadValues) {
  v1::JobDefinition job;
  job.set_key("b/a");
  job.set_program(v1::PROGRAM_XTB);
  job.add_upstream_keys("b/0");
  WriteBatch batch;
  batch.PutMessage(Column::kJobs, job.key(), job);
  batch.Put(Column::kJobs, "b/broken", std::string("\xff\xff\xff", 3));
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{}));

  CCB_ASSERT_OK_AND_ASSIGN(
      std::optional<v1::JobDefinition> read,
      GetMessage<v1::JobDefinition>(*store_, Column::kJobs, "b/a"));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->SerializeAsString(), job.SerializeAsString());
  CCB_ASSERT_OK_AND_ASSIGN(
      std::optional<v1::JobDefinition> absent,
      GetMessage<v1::JobDefinition>(*store_, Column::kJobs, "b/none"));
  EXPECT_FALSE(absent.has_value());

  EXPECT_THAT(GetMessage<v1::JobDefinition>(*store_, Column::kJobs, "b/broken"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("jobs[\"b/broken\"]"),
                             HasSubstr("ccbatch.v1.JobDefinition"))));

  std::vector<std::string> parsed_keys;
  EXPECT_THAT(ScanMessages<v1::JobDefinition>(
                  *store_, Column::kJobs, "b/",
                  [&](absl::string_view key, const v1::JobDefinition& m) {
                    parsed_keys.emplace_back(key);
                    EXPECT_EQ(m.program(), v1::PROGRAM_XTB);
                    return true;
                  }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("b/broken")));
  EXPECT_THAT(parsed_keys, ElementsAre("b/a"));
}

TEST_P(StoreTest, ApproximateCountTracksPuts) {
  WriteBatch batch;
  for (int i = 0; i < 100; ++i) {
    batch.Put(Column::kStatus, absl::StrCat("b/", i), "v");
  }
  CCB_ASSERT_OK(store_->Write(batch, WriteOptions{}));
  CCB_ASSERT_OK_AND_ASSIGN(uint64_t status_count,
                           store_->ApproximateCount(Column::kStatus));
  CCB_ASSERT_OK_AND_ASSIGN(uint64_t job_count,
                           store_->ApproximateCount(Column::kJobs));
  EXPECT_GE(status_count, 90u);
  EXPECT_LE(status_count, 110u);
  EXPECT_EQ(job_count, 0u);
}

INSTANTIATE_TEST_SUITE_P(BothStores, StoreTest,
                         ::testing::Values(Kind::kRocksDb, Kind::kMemory),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kRocksDb ? "RocksDb"
                                                               : "Memory";
                         });

// ---- Key helpers ------------------------------------------------------------

TEST(StoreKeysTest, MalformedKeysAreInvalidArgument) {
  EXPECT_THAT(ParseJobAttemptKey("b/a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a job attempt key")));
  EXPECT_THAT(ParseEventKey("1234"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an event key")));
  EXPECT_THAT(JobKeyOfStatusIndexKey("ab"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a status index key")));
}

TEST(StoreKeysTest, ClusterPartsShareOnlyTheirClustersPrefix) {
  EXPECT_TRUE(
      absl::StartsWith(ClusterKey("hpc1", "health"), ClusterPrefix("hpc1")));
  EXPECT_FALSE(
      absl::StartsWith(ClusterKey("hpc10", "health"), ClusterPrefix("hpc1")));
}

TEST(StoreKeysTest, ColumnNamesAreDistinct) {
  std::set<std::string> names;
  for (Column column : AllColumns()) names.emplace(ColumnName(column));
  EXPECT_EQ(names.size(), size_t{kColumnCount});
}

// ---- RocksDB only ----------------------------------------------------------

TEST(RocksDbStoreTest, FileWhereTheDirectoryShouldBeIsAnActionableError) {
  const std::string file = FreshTestDir() + "/not-a-directory";
  std::ofstream(file) << "x";
  const std::string path = file + "/store";
  EXPECT_THAT(RocksDbStore::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("cannot open ledger store at " + path),
                             HasSubstr("is a directory (or can be created)"))));
}

TEST(RocksDbStoreTest, ForeignRocksDbDatabaseIsRefused) {
  const std::string path = FreshTestDir() + "/foreign";
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, &db).ok());
    delete db;
  }
  EXPECT_THAT(RocksDbStore::Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not a ledger store")));
}

// RocksDB must open every family a database has; a family added by a later
// release (same schema version) must not make this one fail.
TEST(RocksDbStoreTest, OpensDatabasesWithUnknownFamilies) {
  const std::string path = FreshTestDir() + "/store";
  {
    CCB_ASSERT_OK_AND_ASSIGN(auto store, RocksDbStore::Open(path));
    CCB_ASSERT_OK(PutOne(*store, Column::kJobs, "b/a", "v"));
  }
  {
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &db)
            .ok());
    rocksdb::ColumnFamilyHandle* future = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "future",
                                       &future)
                    .ok());
    handles.push_back(future);
    for (auto* handle : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    delete db;
  }
  CCB_ASSERT_OK_AND_ASSIGN(auto store, RocksDbStore::Open(path));
  CCB_ASSERT_OK_AND_ASSIGN(auto value, store->Get(Column::kJobs, "b/a"));
  EXPECT_THAT(value, Optional(std::string("v")));
}

// ---- Durability across SIGKILL ---------------------------------------------

constexpr absl::string_view kCrashChildFlag = "--store_crash_child=";

std::string CrashJobKey(uint64_t i) { return absl::StrFormat("job/%08d", i); }

// The child: writes synced batches forever, reporting each acknowledged one
// on `ack_fd`, until the parent kills it.
int RunCrashChild(const std::string& path, int ack_fd) {
  absl::StatusOr<std::unique_ptr<RocksDbStore>> store =
      RocksDbStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "crash child: %s\n",
                 store.status().ToString().c_str());
    return 2;
  }
  for (uint64_t i = 0;; ++i) {
    WriteBatch batch;
    batch.Put(Column::kJobs, CrashJobKey(i), "job");
    batch.Put(Column::kAttempts, JobAttemptKey(CrashJobKey(i), 1), "attempt");
    batch.Put(Column::kEvents, EventKey(i), "event");
    absl::Status written = (*store)->Write(batch, WriteOptions{/*sync=*/true});
    if (!written.ok()) {
      std::fprintf(stderr, "crash child: %s\n", written.ToString().c_str());
      return 3;
    }
    if (write(ack_fd, &i, sizeof(i)) != sizeof(i)) return 4;
  }
}

// Reads one acknowledgement; false at end of stream. Fails the test (and
// returns false) if nothing arrives within the deadline.
bool ReadAck(int fd, uint64_t* ack) {
  char* out = reinterpret_cast<char*>(ack);
  size_t got = 0;
  while (got < sizeof(*ack)) {
    pollfd poll_fd{fd, POLLIN, 0};
    const int ready = poll(&poll_fd, 1, /*timeout_ms=*/60'000);
    if (ready == 0) {
      ADD_FAILURE() << "no acknowledgement from the crash child in 60 s";
      return false;
    }
    if (ready < 0 && errno == EINTR) continue;
    const ssize_t n = read(fd, out + got, sizeof(*ack) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      EXPECT_EQ(got, 0u) << "torn acknowledgement";
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

TEST(RocksDbStoreTest, SyncedWritesSurviveSigkill) {
  const std::string path = FreshTestDir() + "/store";
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  // Prepared before fork: the child only calls async-signal-safe functions
  // until exec.
  const std::string flag =
      absl::StrCat(kCrashChildFlag, path, ",", pipe_fds[1]);
  char self[] = "/proc/self/exe";
  std::vector<char*> argv = {self, const_cast<char*>(flag.c_str()), nullptr};

  const pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    close(pipe_fds[0]);
    execv(self, argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);

  constexpr uint64_t kAcksBeforeKill = 100;
  uint64_t acked = 0;  // acknowledgements received = batches 0..acked-1
  uint64_t ack = 0;
  while (acked < kAcksBeforeKill && ReadAck(pipe_fds[0], &ack)) {
    ASSERT_EQ(ack, acked);
    ++acked;
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  // Acknowledgements sent before the kill are still in the pipe.
  while (ReadAck(pipe_fds[0], &ack)) {
    ASSERT_EQ(ack, acked);
    ++acked;
  }
  close(pipe_fds[0]);
  ASSERT_TRUE(WIFSIGNALED(wait_status))
      << "the child exited by itself with status " << wait_status;
  ASSERT_GE(acked, kAcksBeforeKill);
  ::testing::Test::RecordProperty("acknowledged_batches", acked);

  CCB_ASSERT_OK_AND_ASSIGN(auto store, RocksDbStore::Open(path));
  // Every acknowledged batch is there, whole; at most the one in flight when
  // the signal came is there unacknowledged; nothing later.
  std::vector<std::string> jobs =
      KeysOf(ScanAll(*store, Column::kJobs, "job/"));
  ASSERT_GE(jobs.size(), acked);
  ASSERT_LE(jobs.size(), acked + 1);
  for (uint64_t i = 0; i < jobs.size(); ++i) {
    ASSERT_EQ(jobs[i], CrashJobKey(i));
    CCB_ASSERT_OK_AND_ASSIGN(
        auto attempt,
        store->Get(Column::kAttempts, JobAttemptKey(CrashJobKey(i), 1)));
    CCB_ASSERT_OK_AND_ASSIGN(auto event,
                             store->Get(Column::kEvents, EventKey(i)));
    EXPECT_TRUE(attempt.has_value() && event.has_value()) << "batch " << i;
  }
  EXPECT_EQ(ScanAll(*store, Column::kEvents, "").size(), jobs.size());
}

// ---- MemoryStore only ------------------------------------------------------

TEST(MemoryStoreTest, InjectedWriteFailureAppliesNothingUntilHealed) {
  auto contents = MemoryStore::NewContents();
  CCB_ASSERT_OK_AND_ASSIGN(auto store, MemoryStore::Open(contents));
  store->FailWritesWith(absl::UnavailableError("disk on fire"));
  WriteBatch batch;
  batch.Put(Column::kJobs, "b/a", "v");
  batch.Put(Column::kAttempts, JobAttemptKey("b/a", 1), "v");
  EXPECT_THAT(store->Write(batch, WriteOptions{}),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("2 updates to jobs, attempts"),
                             HasSubstr("disk on fire"))));
  EXPECT_EQ(Read(*store, Column::kJobs, "b/a"), std::nullopt);
  EXPECT_EQ(Read(*store, Column::kAttempts, JobAttemptKey("b/a", 1)),
            std::nullopt);

  store->FailWritesWith(absl::OkStatus());
  CCB_ASSERT_OK(store->Write(batch, WriteOptions{}));
  EXPECT_THAT(Read(*store, Column::kJobs, "b/a"), Optional(std::string("v")));
}

TEST(MemoryStoreTest, SeparateContentsAreSeparateStores) {
  CCB_ASSERT_OK_AND_ASSIGN(auto first, MemoryStore::Open());
  CCB_ASSERT_OK_AND_ASSIGN(auto second, MemoryStore::Open());
  CCB_ASSERT_OK(PutOne(*first, Column::kJobs, "b/a", "v"));
  EXPECT_EQ(*second->Get(Column::kJobs, "b/a"), std::nullopt);
}

}  // namespace
}  // namespace ccbatch::ledger

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, ccbatch::ledger::kCrashChildFlag)) continue;
    const size_t comma = arg.rfind(',');
    int fd = -1;
    if (comma == absl::string_view::npos ||
        !absl::SimpleAtoi(arg.substr(comma + 1), &fd)) {
      std::fprintf(stderr, "bad %s\n", argv[i]);
      return 2;
    }
    return ccbatch::ledger::RunCrashChild(std::string(arg.substr(0, comma)),
                                          fd);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

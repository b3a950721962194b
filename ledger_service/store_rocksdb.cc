#include "ledger_service/store_rocksdb.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/perf_level.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace ccbatch::ledger {
namespace {

// Debian's Abseil has its own string_view, not std::string_view.
rocksdb::Slice ToSlice(absl::string_view view) {
  return rocksdb::Slice(view.data(), view.size());
}

absl::string_view ToView(const rocksdb::Slice& slice) {
  return absl::string_view(slice.data(), slice.size());
}

absl::StatusCode CanonicalCode(const rocksdb::Status& status) {
  using Code = rocksdb::Status::Code;
  switch (status.code()) {
    case Code::kOk:
      return absl::StatusCode::kOk;
    case Code::kNotFound:
      return absl::StatusCode::kNotFound;
    case Code::kCorruption:
      return absl::StatusCode::kDataLoss;
    case Code::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case Code::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case Code::kIOError:
      if (status.IsNoSpace() ||
          status.subcode() == rocksdb::Status::SubCode::kSpaceLimit) {
        return absl::StatusCode::kResourceExhausted;
      }
      if (status.IsPathNotFound()) return absl::StatusCode::kNotFound;
      return absl::StatusCode::kUnavailable;
    case Code::kBusy:
    case Code::kTryAgain:
    case Code::kShutdownInProgress:
      return absl::StatusCode::kUnavailable;
    case Code::kTimedOut:
      return absl::StatusCode::kDeadlineExceeded;
    case Code::kAborted:
      return absl::StatusCode::kAborted;
    case Code::kCompactionTooLarge:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kInternal;
  }
}

// Keys are bytes (events and the status index start with binary numbers);
// escape them and keep messages one readable line.
std::string KeyForMessage(absl::string_view key) {
  constexpr size_t kMaxShown = 120;
  std::string escaped = absl::CHexEscape(key.substr(0, kMaxShown));
  if (key.size() > kMaxShown) absl::StrAppend(&escaped, "...");
  return escaped;
}

absl::Status OperationError(const rocksdb::Status& status,
                            absl::string_view path, absl::string_view operation,
                            Column column, absl::string_view key) {
  return absl::Status(
      CanonicalCode(status),
      absl::StrCat("ledger store ", path, ": ", operation, " ",
                   ColumnName(column), "[\"", KeyForMessage(key),
                   "\"]: ", status.ToString()));
}

// Opening fails for reasons the operator must fix (a file in the way, no
// permission, another process holding the lock), so most codes become
// FAILED_PRECONDITION; damage and a full disk keep their own codes.
absl::Status OpenError(const rocksdb::Status& status, absl::string_view path) {
  absl::StatusCode code = CanonicalCode(status);
  if (code != absl::StatusCode::kDataLoss &&
      code != absl::StatusCode::kResourceExhausted) {
    code = absl::StatusCode::kFailedPrecondition;
  }
  return absl::Status(
      code, absl::StrCat(
                "cannot open ledger store at ", path, ": ", status.ToString(),
                "; check that the path is a directory (or can be created) "
                "writable by this user, and that no other ledger_service "
                "has it open"));
}

rocksdb::DBOptions MakeDbOptions(const RocksDbStoreOptions& options) {
  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_open_files = options.max_open_files;
  db.db_write_buffer_size = options.write_buffer_bytes;
  // With ten families, a rarely written one (meta) would pin old log files
  // until its memtable flushes; bound the log so it gets flushed.
  db.max_total_wal_size = 4 * options.write_buffer_bytes;
  db.keep_log_file_num = 10;
  return db;
}

// Families read by key get a Bloom filter so a lookup of an absent key
// rarely touches disk; events and the status index are only scanned.
rocksdb::ColumnFamilyOptions MakeFamilyOptions(
    const std::shared_ptr<rocksdb::Cache>& cache, bool point_lookups) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (point_lookups) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  rocksdb::ColumnFamilyOptions family;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  family.level_compaction_dynamic_level_bytes = true;
  return family;
}

// The smallest key above every key that starts with `prefix`, or nullopt if
// there is none ("" or all 0xff).
std::optional<std::string> PrefixUpperBound(absl::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty()) {
    unsigned char last = static_cast<unsigned char>(bound.back());
    if (last != 0xff) {
      bound.back() = static_cast<char>(last + 1);
      return bound;
    }
    bound.pop_back();
  }
  return std::nullopt;
}

}  // namespace

struct RocksDbStore::Handles {
  ~Handles() {
    if (db == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* handle : all) {
      db->DestroyColumnFamilyHandle(handle);
    }
    // Nothing acknowledged is lost if closing fails: it is in the log.
    db->Close().PermitUncheckedError();
  }

  std::unique_ptr<rocksdb::DB> db;
  // Every open family, "default" and unknown ones included.
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> by_column{};
};

RocksDbStore::RocksDbStore(std::string path, std::unique_ptr<Handles> handles)
    : path_(std::move(path)), handles_(std::move(handles)) {}

RocksDbStore::~RocksDbStore() = default;

absl::StatusOr<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(
    const std::string& path, const RocksDbStoreOptions& options) {
  const rocksdb::DBOptions db_options = MakeDbOptions(options);
  const std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options.block_cache_bytes);

  // RocksDB must open every family a database has. Failing to list them
  // means there is no database yet; DB::Open then reports any real problem.
  std::vector<std::string> existing;
  if (!rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok()) {
    existing.clear();
  }
  absl::flat_hash_set<std::string> existing_set(existing.begin(),
                                                existing.end());
  if (!existing.empty() && !existing_set.contains(ColumnName(Column::kMeta))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open ledger store at ", path,
        ": it is a RocksDB database but not a ledger store (no \"meta\" "
        "column family); point --store at an empty or ledger directory"));
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           MakeFamilyOptions(cache, /*point_lookups=*/false));
  absl::flat_hash_set<std::string> known = {rocksdb::kDefaultColumnFamilyName};
  for (Column column : AllColumns()) {
    const bool point_lookups =
        column != Column::kEvents && column != Column::kStatusIndex;
    descriptors.emplace_back(std::string(ColumnName(column)),
                             MakeFamilyOptions(cache, point_lookups));
    known.insert(std::string(ColumnName(column)));
  }
  for (const std::string& name : existing) {
    if (!known.contains(name)) {
      descriptors.emplace_back(name, MakeFamilyOptions(cache, false));
    }
  }

  auto handles = std::make_unique<Handles>();
  rocksdb::DB* db = nullptr;
  rocksdb::Status opened =
      rocksdb::DB::Open(db_options, path, descriptors, &handles->all, &db);
  if (!opened.ok()) return OpenError(opened, path);
  handles->db.reset(db);
  for (size_t i = 0; i < AllColumns().size(); ++i) {
    // descriptors[0] is "default"; ours follow in AllColumns() order.
    handles->by_column[i] = handles->all[i + 1];
  }

  std::unique_ptr<RocksDbStore> store(
      new RocksDbStore(path, std::move(handles)));
  CCB_RETURN_IF_ERROR(InitializeOrCheckSchemaVersion(*store));
  return store;
}

rocksdb::ColumnFamilyHandle* RocksDbStore::Family(Column column) const {
  return handles_->by_column[static_cast<int>(column)];
}

absl::StatusOr<std::optional<std::string>> RocksDbStore::Get(
    Column column, absl::string_view key) const {
  std::string value;
  rocksdb::Status status = handles_->db->Get(
      rocksdb::ReadOptions(), Family(column), ToSlice(key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return OperationError(status, path_, "get", column, key);
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbStore::Write(const WriteBatch& batch,
                                 WriteOptions options) {
  if (!batch.status().ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ledger store ", path_, ": write of ", batch.Describe(),
                     " refused: ", batch.status().message()));
  }
  if (batch.empty()) return absl::OkStatus();
  rocksdb::WriteBatch rocks_batch(/*reserved_bytes=*/batch.ByteSize() +
                                  16 * batch.size());
  for (const WriteBatch::Update& update : batch.updates()) {
    rocksdb::Status added =
        update.value.has_value()
            ? rocks_batch.Put(Family(update.column), update.key, *update.value)
            : rocks_batch.Delete(Family(update.column), update.key);
    if (!added.ok()) {
      return OperationError(
          added, path_, update.value ? "put (batching)" : "delete (batching)",
          update.column, update.key);
    }
  }
  // RocksDB counts every key comparison in a thread-local perf context by
  // default; nobody reads those counters here, and they cost about 15 % of
  // a large snapshot's memtable inserts. The level is per thread.
  thread_local const bool perf_counters_off = [] {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return true;
  }();
  (void)perf_counters_off;
  rocksdb::WriteOptions rocks_options;
  rocks_options.sync = options.sync;
  rocksdb::Status written = handles_->db->Write(rocks_options, &rocks_batch);
  if (!written.ok()) {
    return absl::Status(
        CanonicalCode(written),
        absl::StrCat("ledger store ", path_, ": write of ", batch.Describe(),
                     options.sync ? " (sync)" : "", ": ", written.ToString()));
  }
  return absl::OkStatus();
}

absl::Status RocksDbStore::ScanFrom(Column column, absl::string_view prefix,
                                    absl::string_view start_key,
                                    ScanVisitor visitor) const {
  // The upper bound lets RocksDB stop at the end of the prefix instead of
  // stepping over the next prefix's tombstones.
  const std::optional<std::string> bound = PrefixUpperBound(prefix);
  rocksdb::Slice bound_slice;
  rocksdb::ReadOptions read_options;
  if (bound.has_value()) {
    bound_slice = rocksdb::Slice(*bound);
    read_options.iterate_upper_bound = &bound_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(
      handles_->db->NewIterator(read_options, Family(column)));
  it->Seek(ToSlice(std::max(prefix, start_key)));
  for (; it->Valid(); it->Next()) {
    const absl::string_view key = ToView(it->key());
    if (!absl::StartsWith(key, prefix)) break;
    if (!visitor(key, ToView(it->value()))) break;
  }
  if (!it->status().ok()) {
    return OperationError(it->status(), path_, "scan", column,
                          absl::StrCat(prefix, "*"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksDbStore::ApproximateCount(Column column) const {
  uint64_t count = 0;
  if (!handles_->db->GetIntProperty(
          Family(column), rocksdb::DB::Properties::kEstimateNumKeys, &count)) {
    return absl::InternalError(
        absl::StrCat("ledger store ", path_, ": RocksDB has no ",
                     rocksdb::DB::Properties::kEstimateNumKeys, " for ",
                     ColumnName(column)));
  }
  return count;
}

}  // namespace ccbatch::ledger

// The ledger's store on RocksDB: one column family per Column (store.h).
// The only place in the project that includes RocksDB headers, and the only
// place where RocksDB errors become absl::Status.
#ifndef CCBATCH_LEDGER_SERVICE_STORE_ROCKSDB_H_
#define CCBATCH_LEDGER_SERVICE_STORE_ROCKSDB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger_service/store.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace ccbatch::ledger {

// Tuning for the ledger's workload: a few hundred thousand small keys,
// frequent small batches, point lookups by key, prefix scans at start-up.
struct RocksDbStoreOptions {
  // Shared by all column families; holds data, index and filter blocks.
  size_t block_cache_bytes = size_t{64} << 20;
  // Memtables of all column families together; past it the largest flushes.
  size_t write_buffer_bytes = size_t{64} << 20;
  // File descriptors RocksDB may keep open (the gRPC server needs its own).
  int max_open_files = 256;
};

class RocksDbStore final : public Store {
 public:
  // Opens the store in directory `path`, creating the directory (not its
  // parents: a mistyped path fails instead of growing a tree), the database
  // and missing column families as needed, and checks the schema
  // version (store.h). FAILED_PRECONDITION with the path and what to check if
  // the directory cannot be used (a file in the way, no permission, another
  // process holds it, a RocksDB database that is not a ledger store, a newer
  // schema version).
  static absl::StatusOr<std::unique_ptr<RocksDbStore>> Open(
      const std::string& path, const RocksDbStoreOptions& options = {});

  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;
  // Closes the database. Acknowledged writes are already in its log.
  ~RocksDbStore() override;

  absl::StatusOr<std::optional<std::string>> Get(
      Column column, absl::string_view key) const override;
  absl::Status Write(const WriteBatch& batch, WriteOptions options) override;
  absl::Status ScanFrom(Column column, absl::string_view prefix,
                        absl::string_view start_key,
                        ScanVisitor visitor) const override;
  absl::StatusOr<uint64_t> ApproximateCount(Column column) const override;
  const std::string& location() const override { return path_; }

 private:
  struct Handles;
  RocksDbStore(std::string path, std::unique_ptr<Handles> handles);

  rocksdb::ColumnFamilyHandle* Family(Column column) const;

  const std::string path_;
  // Owns the DB and every column family handle, including families this
  // release does not know (RocksDB requires opening them all).
  const std::unique_ptr<Handles> handles_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_STORE_ROCKSDB_H_

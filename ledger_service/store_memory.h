// An in-memory Store for tests of the ledger logic: the semantics of
// RocksDbStore (store.h) without a disk, plus a way to make writes fail.
//
// A store works on a Contents, which plays the part of the directory: it
// outlives the store, so a test "restarts the ledger" by destroying the store
// and opening a new one over the same Contents. Like RocksDB's directory lock,
// a Contents can be open in one store at a time.
//
// Durability is not modelled: WriteOptions::sync is accepted and ignored.
// Thread-safety: as store.h promises.
#ifndef CCBATCH_LEDGER_SERVICE_STORE_MEMORY_H_
#define CCBATCH_LEDGER_SERVICE_STORE_MEMORY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger_service/store.h"

namespace ccbatch::ledger {

class MemoryStore final : public Store {
 public:
  // The data of a memory store: one ordered map per column. Opaque.
  class Contents;
  static std::shared_ptr<Contents> NewContents();

  // A store over fresh, empty contents.
  static absl::StatusOr<std::unique_ptr<MemoryStore>> Open();
  // A store over `contents`, which may hold an earlier store's data.
  // FAILED_PRECONDITION if another store has it open, or if its schema
  // version is not kSchemaVersion (store.h).
  static absl::StatusOr<std::unique_ptr<MemoryStore>> Open(
      std::shared_ptr<Contents> contents);

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;
  ~MemoryStore() override;

  // Fault injection: while `error` is not OK every Write returns it and
  // applies nothing. OkStatus() heals. Affects the contents, so it survives
  // a reopen (as a broken disk would).
  void FailWritesWith(absl::Status error);

  absl::StatusOr<std::optional<std::string>> Get(
      Column column, absl::string_view key) const override;
  absl::Status Write(const WriteBatch& batch, WriteOptions options) override;
  absl::Status ScanFrom(Column column, absl::string_view prefix,
                        absl::string_view start_key,
                        ScanVisitor visitor) const override;
  absl::StatusOr<uint64_t> ApproximateCount(Column column) const override;
  const std::string& location() const override { return location_; }

 private:
  explicit MemoryStore(std::shared_ptr<Contents> contents);

  const std::shared_ptr<Contents> contents_;
  const std::string location_ = "memory";
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_STORE_MEMORY_H_

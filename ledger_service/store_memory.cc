#include "ledger_service/store_memory.h"

#include <algorithm>
#include <array>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace ccbatch::ledger {

class MemoryStore::Contents {
 public:
  using Map = std::map<std::string, std::string, std::less<>>;

  absl::Mutex mu;
  std::array<Map, kColumnCount> columns ABSL_GUARDED_BY(mu);
  bool open ABSL_GUARDED_BY(mu) = false;
  absl::Status write_error ABSL_GUARDED_BY(mu);
};

std::shared_ptr<MemoryStore::Contents> MemoryStore::NewContents() {
  return std::make_shared<Contents>();
}

absl::StatusOr<std::unique_ptr<MemoryStore>> MemoryStore::Open() {
  return Open(NewContents());
}

absl::StatusOr<std::unique_ptr<MemoryStore>> MemoryStore::Open(
    std::shared_ptr<Contents> contents) {
  {
    absl::MutexLock lock(&contents->mu);
    if (contents->open) {
      return absl::FailedPreconditionError(
          "cannot open memory ledger store: another store has these contents "
          "open; destroy it first (RocksDB locks its directory the same way)");
    }
    contents->open = true;
  }
  // From here the store owns the open flag and clears it when destroyed,
  // including when the schema check fails.
  std::unique_ptr<MemoryStore> store(new MemoryStore(std::move(contents)));
  CCB_RETURN_IF_ERROR(InitializeOrCheckSchemaVersion(*store));
  return store;
}

MemoryStore::MemoryStore(std::shared_ptr<Contents> contents)
    : contents_(std::move(contents)) {}

MemoryStore::~MemoryStore() {
  absl::MutexLock lock(&contents_->mu);
  contents_->open = false;
}

void MemoryStore::FailWritesWith(absl::Status error) {
  absl::MutexLock lock(&contents_->mu);
  contents_->write_error = std::move(error);
}

absl::StatusOr<std::optional<std::string>> MemoryStore::Get(
    Column column, absl::string_view key) const {
  absl::ReaderMutexLock lock(&contents_->mu);
  const Contents::Map& map = contents_->columns[static_cast<int>(column)];
  auto it = map.find(key);
  if (it == map.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::Status MemoryStore::Write(const WriteBatch& batch,
                                WriteOptions /*options*/) {
  if (!batch.status().ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ledger store ", location_, ": write of ",
                     batch.Describe(), " refused: ", batch.status().message()));
  }
  absl::MutexLock lock(&contents_->mu);
  if (!contents_->write_error.ok()) {
    return absl::Status(
        contents_->write_error.code(),
        absl::StrCat("ledger store ", location_, ": write of ",
                     batch.Describe(), ": ", contents_->write_error.message()));
  }
  // Under one lock hold: readers see all of the batch or none of it.
  for (const WriteBatch::Update& update : batch.updates()) {
    Contents::Map& map = contents_->columns[static_cast<int>(update.column)];
    if (update.value.has_value()) {
      map.insert_or_assign(update.key, *update.value);
    } else {
      map.erase(update.key);
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryStore::ScanFrom(Column column, absl::string_view prefix,
                                   absl::string_view start_key,
                                   ScanVisitor visitor) const {
  // Copy the range under the lock and visit outside it, so the view is
  // consistent and the visitor may call the store, as with RocksDB.
  std::vector<std::pair<std::string, std::string>> entries;
  {
    absl::ReaderMutexLock lock(&contents_->mu);
    const Contents::Map& map = contents_->columns[static_cast<int>(column)];
    for (auto it = map.lower_bound(std::max(prefix, start_key));
         it != map.end() && absl::StartsWith(it->first, prefix); ++it) {
      entries.emplace_back(it->first, it->second);
    }
  }
  for (const auto& [key, value] : entries) {
    if (!visitor(key, value)) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemoryStore::ApproximateCount(Column column) const {
  absl::ReaderMutexLock lock(&contents_->mu);
  return contents_->columns[static_cast<int>(column)].size();
}

}  // namespace ccbatch::ledger

#include "ledger_service/store.h"

#include <array>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace ccbatch::ledger {
namespace {

constexpr std::array<Column, kColumnCount> kAllColumns = {
    Column::kBatches,  Column::kJobs,   Column::kAttempts,    Column::kClusters,
    Column::kVerdicts, Column::kStatus, Column::kStatusIndex, Column::kEvents,
    Column::kOrders,   Column::kMeta,
};

constexpr char kSeparator = '\0';

// Big-endian so that byte order (RocksDB's key order) is numeric order.
void AppendBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t LoadBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (char byte : bytes)
    value = (value << 8) | static_cast<unsigned char>(byte);
  return value;
}

std::string NameWithSeparator(absl::string_view name) {
  std::string key(name);
  key.push_back(kSeparator);
  return key;
}

}  // namespace

absl::string_view ColumnName(Column column) {
  switch (column) {
    case Column::kBatches:
      return "batches";
    case Column::kJobs:
      return "jobs";
    case Column::kAttempts:
      return "attempts";
    case Column::kClusters:
      return "clusters";
    case Column::kVerdicts:
      return "verdicts";
    case Column::kStatus:
      return "status";
    case Column::kStatusIndex:
      return "status_index";
    case Column::kEvents:
      return "events";
    case Column::kOrders:
      return "orders";
    case Column::kMeta:
      return "meta";
  }
  return "unknown";
}

absl::Span<const Column> AllColumns() { return kAllColumns; }

std::string JobAttemptPrefix(absl::string_view job_key) {
  return NameWithSeparator(job_key);
}

std::string JobAttemptKey(absl::string_view job_key, int32_t attempt) {
  std::string key = JobAttemptPrefix(job_key);
  AppendBigEndian(static_cast<uint32_t>(attempt), 4, &key);
  return key;
}

absl::StatusOr<JobAttempt> ParseJobAttemptKey(absl::string_view key) {
  constexpr size_t kSuffix = 1 + 4;
  if (key.size() < kSuffix || key[key.size() - kSuffix] != kSeparator) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(key),
                     "\" is not a job attempt key (<job key> \\0 <4 bytes>)"));
  }
  JobAttempt parsed;
  parsed.job_key = std::string(key.substr(0, key.size() - kSuffix));
  parsed.attempt =
      static_cast<int32_t>(LoadBigEndian(key.substr(key.size() - 4)));
  return parsed;
}

std::string ClusterPrefix(absl::string_view cluster) {
  return NameWithSeparator(cluster);
}

std::string ClusterKey(absl::string_view cluster, absl::string_view part) {
  return absl::StrCat(ClusterPrefix(cluster), part);
}

std::string StatusIndexPrefix(v1::JobStatus status) {
  std::string key;
  AppendBigEndian(static_cast<uint32_t>(status), 4, &key);
  return key;
}

std::string StatusIndexKey(v1::JobStatus status, absl::string_view job_key) {
  return absl::StrCat(StatusIndexPrefix(status), job_key);
}

absl::StatusOr<std::string> JobKeyOfStatusIndexKey(absl::string_view key) {
  if (key.size() < 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", absl::CHexEscape(key),
        "\" is not a status index key (<4 bytes status> <job key>)"));
  }
  return std::string(key.substr(4));
}

std::string EventKey(uint64_t seq) {
  std::string key;
  AppendBigEndian(seq, 8, &key);
  return key;
}

absl::StatusOr<uint64_t> ParseEventKey(absl::string_view key) {
  if (key.size() != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(key),
                     "\" is not an event key (8 bytes, big-endian)"));
  }
  return LoadBigEndian(key);
}

std::string KeySuccessor(absl::string_view key) {
  return NameWithSeparator(key);
}

void WriteBatch::Put(Column column, absl::string_view key,
                     absl::string_view value) {
  byte_size_ += key.size() + value.size();
  updates_.push_back(Update{column, std::string(key), std::string(value)});
}

void WriteBatch::PutMessage(Column column, absl::string_view key,
                            const google::protobuf::MessageLite& message) {
  std::string value;
  if (!message.SerializeToString(&value) && status_.ok()) {
    status_ = absl::InvalidArgumentError(
        absl::StrCat("cannot serialize ", message.GetTypeName(), " for ",
                     ColumnName(column), "[\"", absl::CHexEscape(key), "\"] (",
                     message.ByteSizeLong(), " bytes; the limit is 2 GiB)"));
    return;
  }
  byte_size_ += key.size() + value.size();
  updates_.push_back(Update{column, std::string(key), std::move(value)});
}

void WriteBatch::Delete(Column column, absl::string_view key) {
  byte_size_ += key.size();
  updates_.push_back(Update{column, std::string(key), std::nullopt});
}

void WriteBatch::Clear() {
  updates_.clear();
  byte_size_ = 0;
  status_ = absl::OkStatus();
}

std::string WriteBatch::Describe() const {
  std::set<Column> columns;
  for (const Update& update : updates_) columns.insert(update.column);
  return absl::StrCat(
      updates_.size(), updates_.size() == 1 ? " update to " : " updates to ",
      absl::StrJoin(columns, ", ", [](std::string* out, Column column) {
        absl::StrAppend(out, ColumnName(column));
      }));
}

absl::Status InitializeOrCheckSchemaVersion(Store& store) {
  CCB_ASSIGN_OR_RETURN(std::optional<std::string> recorded,
                       store.Get(Column::kMeta, kSchemaVersionKey));
  if (!recorded.has_value()) {
    WriteBatch batch;
    batch.Put(Column::kMeta, kSchemaVersionKey, absl::StrCat(kSchemaVersion));
    return store.Write(batch, WriteOptions{/*sync=*/true});
  }
  int version = 0;
  if (!absl::SimpleAtoi(*recorded, &version)) {
    return absl::DataLossError(absl::StrCat(
        "ledger store ", store.location(), ": meta[\"", kSchemaVersionKey,
        "\"] is \"", absl::CHexEscape(*recorded),
        "\", not a number; the store is damaged or was not written by "
        "ledger_service"));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ledger store ", store.location(), " has schema version ", version,
        ", newer than version ", kSchemaVersion,
        " which this ledger_service understands; run the ledger_service "
        "release that wrote it (or a newer one), or point --store at another "
        "directory"));
  }
  if (version < kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ledger store ", store.location(), " has schema version ", version,
        ", older than version ", kSchemaVersion,
        " and there is no migration from it; export it with the release "
        "that wrote it and import into a new store"));
  }
  return absl::OkStatus();
}

absl::Status ParseStoredMessage(const Store& store, Column column,
                                absl::string_view key, absl::string_view bytes,
                                google::protobuf::MessageLite* message) {
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::OkStatus();
  }
  return absl::DataLossError(absl::StrCat(
      "ledger store ", store.location(), ": ", ColumnName(column), "[\"",
      absl::CHexEscape(key), "\"] holds ", bytes.size(),
      " bytes that do not parse as ", message->GetTypeName(),
      "; the store is damaged or was written by an incompatible release"));
}

}  // namespace ccbatch::ledger

// The ledger's storage: an ordered key-value store split into column
// families ("columns"), written in atomic batches (DESIGN §5).
//
// The store deals in bytes. Values are serialized protobuf messages; the
// typed helpers at the end of this header (WriteBatch::PutMessage,
// GetMessage, ScanMessages, ParseStoredMessage) serialize and parse them and
// turn a value that does not parse into DATA_LOSS naming column and key.
//
// Two implementations: RocksDbStore (store_rocksdb.h), the real one, and
// MemoryStore (store_memory.h) for tests of the ledger logic. Both keep the
// same semantics; one test suite runs against both.
//
// Key layout, column by column (the value types are what the ledger stores,
// the Stored* ones defined in ledger_records.proto, which says more; the
// store itself does not look at values, except meta's schema version):
//
//   batches       <batch name>                       StoredBatch
//   jobs          <job key> = "<batch>/<basename>"   StoredJob
//                 A batch's jobs are the prefix "<batch>/".
//   attempts      JobAttemptKey(job key, attempt)    Attempt
//                 = <job key> '\0' <attempt, 4 bytes big-endian>, so a job's
//                 attempts are the prefix JobAttemptPrefix(job key) in
//                 attempt order, and job "b/a" never shares a prefix with
//                 job "b/ab".
//   clusters      ClusterKey(cluster, part)          ClusterRecord, QueueEntry
//                 = <cluster> '\0' <part>: "hpc1\0state" (health and the
//                 latest snapshot's header) and one "hpc1\0entry/<id>" per
//                 queue line, so a probe failure or a snapshot rewrites only
//                 what changed, not a 100,000-entry snapshot.
//   verdicts      JobAttemptKey(job key, attempt)    Verdict
//                 attempt 0 is the adoption verdict (output found before any
//                 submission).
//   status        <job key>                          StoredStatus (derived
//                                                    cache: a JobView)
//   status_index  StatusIndexKey(status, job key)    empty
//                 = <status number, 4 bytes big-endian> <job key>: the jobs
//                 with one status are the prefix StatusIndexPrefix(status),
//                 in job key order. Written in the same batch as `status`,
//                 so the index never disagrees with the cache.
//   events        EventKey(seq) = <seq, 8 bytes big-endian>   StoredEvent
//                 Append-only; key order is sequence order.
//   orders        <order id>                         StoredOrder
//                 Orders sent and not yet acknowledged, re-sent after a
//                 reconnect in key order: choose order ids that sort by
//                 creation if that order matters.
//   meta          "schema_version" -> decimal text (owned by the store);
//                 other names are free for the ledger ("next_order",
//                 "last_event_seq").
//
// REQUIRES of every key built from a name (batch, job key, cluster): the name
// contains no '\0' (importers refuse such names).
#ifndef CCBATCH_LEDGER_SERVICE_STORE_H_
#define CCBATCH_LEDGER_SERVICE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ccbatch/v1/job.pb.h"
#include "google/protobuf/message_lite.h"

namespace ccbatch::ledger {

// The column families. The numbering is internal; on disk a family is known
// by ColumnName().
enum class Column : int {
  kBatches = 0,
  kJobs,
  kAttempts,
  kClusters,
  kVerdicts,
  kStatus,
  kStatusIndex,
  kEvents,
  kOrders,
  kMeta,
};
inline constexpr int kColumnCount = 10;

// "batches", "jobs", ... "status_index", ... "meta".
absl::string_view ColumnName(Column column);

// Every column, in enum order.
absl::Span<const Column> AllColumns();

// The store layout this code reads and writes. Opening a store written with
// a newer version is refused rather than misread.
inline constexpr int kSchemaVersion = 1;
inline constexpr absl::string_view kSchemaVersionKey = "schema_version";

// ---- Keys -----------------------------------------------------------------

// Attempts and verdicts of a job, by attempt number (REQUIRES: attempt >= 0).
std::string JobAttemptKey(absl::string_view job_key, int32_t attempt);
// The prefix shared by every JobAttemptKey of `job_key` and no other job.
std::string JobAttemptPrefix(absl::string_view job_key);
struct JobAttempt {
  std::string job_key;
  int32_t attempt = 0;
};
// INVALID_ARGUMENT if `key` was not made by JobAttemptKey.
absl::StatusOr<JobAttempt> ParseJobAttemptKey(absl::string_view key);

std::string ClusterKey(absl::string_view cluster, absl::string_view part);
// The prefix shared by every ClusterKey of `cluster` and no other cluster.
std::string ClusterPrefix(absl::string_view cluster);

std::string StatusIndexKey(v1::JobStatus status, absl::string_view job_key);
std::string StatusIndexPrefix(v1::JobStatus status);
// The job key of a StatusIndexKey; INVALID_ARGUMENT if it is not one.
absl::StatusOr<std::string> JobKeyOfStatusIndexKey(absl::string_view key);

std::string EventKey(uint64_t seq);
// INVALID_ARGUMENT if `key` is not 8 bytes.
absl::StatusOr<uint64_t> ParseEventKey(absl::string_view key);

// The smallest key greater than `key`: pass it as ScanFrom's start to resume
// a scan after the last key seen.
std::string KeySuccessor(absl::string_view key);

// ---- Writing --------------------------------------------------------------

struct WriteOptions {
  // true: Write returns after the batch reached stable storage (the log is
  // fsynced) and survives power loss. false: the batch survives a crash of
  // the process but may be lost with the machine; for data that is sent
  // again anyway (queue snapshots). Imports, orders and attempts use true.
  bool sync = true;
};

// Puts and deletes across columns, applied by Store::Write all at once or not
// at all, in the order they were added (a later update of a key wins).
// A plain value: not thread-safe, copyable.
class WriteBatch final {
 public:
  struct Update {
    Column column;
    std::string key;
    // nullopt for a delete.
    std::optional<std::string> value;
  };

  void Put(Column column, absl::string_view key, absl::string_view value);
  // Puts the serialized `message`. If it cannot be serialized (over 2 GiB),
  // the batch remembers the error and Store::Write refuses the whole batch.
  void PutMessage(Column column, absl::string_view key,
                  const google::protobuf::MessageLite& message);
  // Deleting an absent key is not an error.
  void Delete(Column column, absl::string_view key);
  void Clear();

  bool empty() const { return updates_.empty(); }
  size_t size() const { return updates_.size(); }
  // Sum of key and value sizes.
  size_t ByteSize() const { return byte_size_; }
  const std::vector<Update>& updates() const { return updates_; }
  // OK, or why a PutMessage failed.
  const absl::Status& status() const { return status_; }
  // For messages: "3 updates to jobs, attempts".
  std::string Describe() const;

 private:
  std::vector<Update> updates_;
  size_t byte_size_ = 0;
  absl::Status status_;
};

// ---- The store ------------------------------------------------------------

// Called with each key and value in key order; return false to stop early.
// The views are valid only during the call.
using ScanVisitor =
    absl::FunctionRef<bool(absl::string_view key, absl::string_view value)>;

// Thread-safety: every method may be called from any thread at any time.
// Each Write is atomic: readers and a restart after a crash see all of a
// batch or none of it. Writes are ordered; after a crash the store holds
// every write that returned OK with sync, and never a later write without the
// earlier ones. A scan reads one consistent view taken when it starts; the
// visitor may call the store (even Write), and such writes are not seen by
// the running scan. There is no read-modify-write: a caller that reads, then
// writes what it read, must serialise those steps itself.
//
// Errors carry the store's location, the operation, the column and the key.
// Codes: UNAVAILABLE (I/O error, busy, shutting down), RESOURCE_EXHAUSTED (disk
// full), DATA_LOSS (corruption), FAILED_PRECONDITION (cannot be opened as
// configured), INVALID_ARGUMENT (bad request), INTERNAL (anything else).
class Store {
 public:
  virtual ~Store() = default;

  // The value under `key`, or nullopt if there is none.
  virtual absl::StatusOr<std::optional<std::string>> Get(
      Column column, absl::string_view key) const = 0;

  // Applies `batch` atomically. An empty batch is a no-op. INVALID_ARGUMENT,
  // applying nothing, if batch.status() is not OK.
  virtual absl::Status Write(const WriteBatch& batch, WriteOptions options) = 0;

  // Visits the keys of `column` that start with `prefix` and are >=
  // `start_key`, in key order. With start_key <= prefix this is every key with
  // the prefix. For paging: resume with start_key = KeySuccessor(last key).
  virtual absl::Status ScanFrom(Column column, absl::string_view prefix,
                                absl::string_view start_key,
                                ScanVisitor visitor) const = 0;

  // Every key of `column` that starts with `prefix` ("" for all), in order.
  absl::Status Scan(Column column, absl::string_view prefix,
                    ScanVisitor visitor) const {
    return ScanFrom(column, prefix, prefix, visitor);
  }

  // Roughly how many keys `column` holds (exact for MemoryStore; RocksDB's
  // estimate, which may count overwritten and deleted keys until compaction).
  // For sizing and metrics, never for logic.
  virtual absl::StatusOr<uint64_t> ApproximateCount(Column column) const = 0;

  // Where the store is, for messages: its directory, or "memory".
  virtual const std::string& location() const = 0;
};

// Called by every implementation's Open, before the store is handed out:
// records kSchemaVersion in a fresh store; FAILED_PRECONDITION if the store
// holds another version; DATA_LOSS if the recorded version is not a number.
absl::Status InitializeOrCheckSchemaVersion(Store& store);

// ---- Typed helpers --------------------------------------------------------

// Parses a stored value; DATA_LOSS naming store, column and key if it does not
// parse as `message`'s type.
absl::Status ParseStoredMessage(const Store& store, Column column,
                                absl::string_view key, absl::string_view bytes,
                                google::protobuf::MessageLite* message);

// The message under `key`, or nullopt if there is none.
template <typename Message>
absl::StatusOr<std::optional<Message>> GetMessage(const Store& store,
                                                  Column column,
                                                  absl::string_view key) {
  absl::StatusOr<std::optional<std::string>> bytes = store.Get(column, key);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<Message>();
  Message message;
  absl::Status parsed =
      ParseStoredMessage(store, column, key, **bytes, &message);
  if (!parsed.ok()) return parsed;
  return std::optional<Message>(std::move(message));
}

// Scan() whose visitor receives parsed messages. Stops at the first value
// that does not parse and returns DATA_LOSS.
template <typename Message>
absl::Status ScanMessages(
    const Store& store, Column column, absl::string_view prefix,
    absl::FunctionRef<bool(absl::string_view key, const Message& message)>
        visitor) {
  absl::Status parse_error;
  Message message;
  absl::Status scanned = store.Scan(
      column, prefix, [&](absl::string_view key, absl::string_view value) {
        parse_error = ParseStoredMessage(store, column, key, value, &message);
        return parse_error.ok() && visitor(key, message);
      });
  if (!scanned.ok()) return scanned;
  return parse_error;
}

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_STORE_H_

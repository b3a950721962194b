// The agent's durable memory of the SubmitOrders it has run, so that an
// order the ledger re-sends (after a reconnect, or after the agent itself was
// restarted) is answered from here and never submitted twice (DESIGN §4).
//
// An order is journaled twice: as *started* just before its first side effect
// (moving files, sbatch), and with its *result* before the answer is sent. An
// entry that is started but has no result means the agent stopped in
// between: sbatch may or may not have run, which the submitter settles by
// looking for the order's tag in a snapshot taken after the start.
//
// The journal is one file, `<state_dir>/orders.journal`, rewritten whole on
// every change through FileSystem::WriteFile (write to a temporary file,
// fsync, rename), so a crash leaves the old or the new journal, never a torn
// one. It is bounded: the oldest entries are dropped past `max_entries` or
// `max_bytes`. The ledger re-sends only orders it has not seen answered, which
// are the newest few, so the bound loses nothing in practice.
//
// File format (text, one entry per line, oldest first):
//   # ccbatch order journal v1
//   <started_at unix micros> TAB <order id, C-escaped> TAB <result>
// where <result> is "-" while the order is in flight, or the base64 of the
// serialized v1::SubmitResult.
#ifndef CCBATCH_QUEUE_AGENT_ORDER_JOURNAL_H_
#define CCBATCH_QUEUE_AGENT_ORDER_JOURNAL_H_

#include <cstddef>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/file_system.h"

namespace ccbatch::agent {

// What the journal knows about one order.
struct JournalEntry {
  std::string order_id;
  // When the agent began running the order.
  absl::Time started_at;
  // The answer sent (or about to be sent); unset while the order was in
  // flight.
  std::optional<v1::SubmitResult> result;
};

struct OrderJournalOptions {
  // Entries kept, newest first. REQUIRES: > 0.
  size_t max_entries = 2000;
  // Bytes of journal file kept (the newest entry is always kept).
  size_t max_bytes = size_t{4} << 20;
};

// Thread-safe. Every Record* call writes the whole file before returning.
class OrderJournal final {
 public:
  static constexpr char kFileName[] = "orders.journal";

  // Opens the journal in `state_dir` (which must exist), loading
  // `<state_dir>/orders.journal` if it is there. A file that is not a
  // journal or has a damaged line is kDataLoss naming the file and line:
  // the agent must not run orders without knowing which ones it ran.
  // REQUIRES: `fs` outlives the journal; not owned.
  static absl::StatusOr<std::unique_ptr<OrderJournal>> Open(
      common::FileSystem* fs, const std::string& state_dir,
      OrderJournalOptions options = {});

  OrderJournal(const OrderJournal&) = delete;
  OrderJournal& operator=(const OrderJournal&) = delete;

  // The entry for `order_id`, if it is journaled.
  std::optional<JournalEntry> Find(absl::string_view order_id) const;

  // Journals `order_id` as in flight since `at` (replacing what was known
  // about it) and persists. On error nothing changes in memory either.
  absl::Status RecordStarted(absl::string_view order_id, absl::Time at);

  // Journals the answer to `result.order_id()` and persists. An order not
  // started before gets `result.submitted_at()` as its start.
  absl::Status RecordResult(const v1::SubmitResult& result);

  // Entries held.
  size_t size() const;
  // The journal file's path.
  const std::string& path() const { return path_; }

 private:
  // An entry and its line in the file (without the newline), kept so a
  // rewrite does not re-serialize every result.
  struct Stored {
    JournalEntry entry;
    std::string line;
  };
  using EntryList = std::list<Stored>;

  OrderJournal(common::FileSystem* fs, std::string path,
               OrderJournalOptions options);

  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ParseLine(absl::string_view line, int line_number)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `entry` the newest, drops the oldest past the bounds and writes
  // the file; changes nothing in memory if the write fails.
  absl::Status Store(JournalEntry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces any entry of the same order and appends `stored` as the newest.
  void Insert(Stored stored) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  common::FileSystem* const fs_;
  const std::string path_;
  const OrderJournalOptions options_;

  mutable absl::Mutex mu_;
  // Oldest first.
  EntryList entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, EntryList::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_ORDER_JOURNAL_H_

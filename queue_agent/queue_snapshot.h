// One successful `squeue` probe of a cluster, before it is numbered and
// chunked for the ledger.
//
// Why entries are views (QueueRow) and not v1::QueueEntry messages: protobuf
// 3.21 allocates every string field of a heap message separately, which made
// a 100,000-job snapshot cost ~40 ms to build and ~25 ms more to copy into
// the chunks sent to the ledger. A snapshot instead keeps squeue's output
// text and views into it; QueueEntry messages are built once, inside the
// chunks, on an arena (snapshot_chunker.h). See docs/PERFORMANCE.md.
#ifndef CCBATCH_QUEUE_AGENT_QUEUE_SNAPSHOT_H_
#define CCBATCH_QUEUE_AGENT_QUEUE_SNAPSHOT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"

namespace ccbatch::agent {

// The fields of a v1::QueueEntry (same names and meanings) as views into
// text owned elsewhere: by the QueueSnapshot that holds the row, or, for a
// row from SqueueParser::ParseRows, by the caller's squeue output. An empty
// view is an unset field. Copyable; a copy views the same bytes.
class QueueRow final {
 public:
  QueueRow() = default;
  QueueRow(absl::string_view slurm_job_id, absl::string_view state,
           absl::string_view reason, absl::string_view name,
           absl::string_view comment, absl::string_view nodes)
      : slurm_job_id_(slurm_job_id),
        state_(state),
        reason_(reason),
        name_(name),
        comment_(comment),
        nodes_(nodes) {}

  absl::string_view slurm_job_id() const { return slurm_job_id_; }
  absl::string_view state() const { return state_; }
  absl::string_view reason() const { return reason_; }
  absl::string_view name() const { return name_; }
  absl::string_view comment() const { return comment_; }
  absl::string_view nodes() const { return nodes_; }

  // Sets the non-empty fields of `entry` (which may live on an arena). Bytes
  // that are not valid UTF-8 (a user's Latin-1 job name) become '?' in the
  // entry, as a proto3 string must be UTF-8 for the ledger to accept the
  // message (common/utf8_text.h); lengths stay the same. The row keeps the
  // bytes squeue printed. REQUIRES: `entry` is empty.
  void FillEntry(v1::QueueEntry* entry) const;

  // As FillEntry, without checking UTF-8 field by field: for rows known to
  // be valid UTF-8 as a whole (QueueSnapshot::entries_are_utf8), where the
  // per-field check was a tenth of the chunking time. REQUIRES: every field
  // is valid UTF-8; `entry` is empty.
  void FillEntryFromUtf8(v1::QueueEntry* entry) const;

  // A heap message with the row's fields.
  v1::QueueEntry ToEntry() const;

  // Bytes the row takes as a QueueEntry body (QueueEntry::ByteSizeLong of
  // ToEntry()), computed without building it.
  size_t EntryByteSize() const;

 private:
  template <typename AssignField>
  void Fill(v1::QueueEntry* entry, AssignField assign) const;

  absl::string_view slurm_job_id_;
  absl::string_view state_;
  absl::string_view reason_;
  absl::string_view name_;
  absl::string_view comment_;
  absl::string_view nodes_;
};

struct QueueSnapshot {
  // When squeue was started: a job submitted after this instant may be
  // missing from `entries` without having left the queue.
  absl::Time taken_at;
  // Wall time of the squeue call (also in diagnostics.probe_millis).
  absl::Duration probe_duration;
  // The bytes `entries` view (squeue's output as the probe received it).
  // Shared, so copies of the snapshot stay valid whichever is destroyed
  // first; may be null in a snapshot without entries. Views may also point
  // at static storage (canonical state names).
  std::shared_ptr<const std::string> text;
  // Every job and array task of the user that squeue listed, in its order.
  std::vector<QueueRow> entries;
  // True if every field of `entries` is known to be valid UTF-8 (the
  // output was checked once, as a whole), so the chunks need not check each
  // field. False is always safe.
  bool entries_are_utf8 = false;
  // Lines that did not parse and states ccbatch does not know.
  v1::SnapshotDiagnostics diagnostics;
};

// A snapshot (taken_at and probe_duration left for the caller) holding
// `entries`, their text copied into storage the snapshot owns. For tools
// and tests that have messages rather than squeue output.
QueueSnapshot SnapshotOfEntries(absl::Span<const v1::QueueEntry> entries);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_QUEUE_SNAPSHOT_H_

#include "ledger_service/snapshot_assembler.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::SnapshotChunk;
using ::google::protobuf::util::TimeUtil;

std::string Where(const SnapshotChunk& chunk) {
  return absl::StrCat("snapshot ", chunk.snapshot_seq(), " chunk ",
                      chunk.chunk_index());
}

absl::StatusOr<absl::Time> TakenAt(const SnapshotChunk& chunk) {
  const google::protobuf::Timestamp& t = chunk.taken_at();
  if (!chunk.has_taken_at()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(chunk), ": taken_at is not set; every chunk ",
                     "carries the time squeue was started"));
  }
  if (t.seconds() < TimeUtil::kTimestampMinSeconds ||
      t.seconds() > TimeUtil::kTimestampMaxSeconds || t.nanos() < 0 ||
      t.nanos() > 999'999'999) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(chunk), ": taken_at {seconds=", t.seconds(),
                     " nanos=", t.nanos(), "} is not a valid timestamp"));
  }
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace

SnapshotAssembler::SnapshotAssembler(SnapshotAssemblerLimits limits)
    : limits_(limits) {}

void SnapshotAssembler::Reset() {
  in_progress_ = false;
  current_ = AssembledSnapshot();
  total_entries_ = 0;
  next_chunk_index_ = 0;
}

absl::Status SnapshotAssembler::Fail(absl::Status error) {
  Reset();
  return error;
}

absl::StatusOr<std::optional<AssembledSnapshot>> SnapshotAssembler::Add(
    SnapshotChunk& chunk) {
  if (chunk.snapshot_seq() == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        Where(chunk), ": snapshot_seq 0 is reserved for \"none applied\"; ",
        "number snapshots from 1")));
  }
  const bool continues = in_progress_ && chunk.snapshot_seq() == current_.seq;
  if (!continues) {
    if (chunk.chunk_index() != 0) {
      const std::string expected =
          in_progress_ ? absl::StrCat("chunk ", next_chunk_index_,
                                      " of snapshot ", current_.seq)
                       : "chunk 0 of a new snapshot";
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(Where(chunk), " arrived but ", expected,
                       " was expected; the snapshot was dropped, send it "
                       "again from chunk 0")));
    }
    if (in_progress_) ++superseded_count_;
    Reset();
    if (absl::Status started = Start(chunk); !started.ok()) {
      return Fail(std::move(started));
    }
  } else if (absl::Status ok = CheckContinuation(chunk); !ok.ok()) {
    return Fail(std::move(ok));
  }
  if (absl::Status appended = Append(chunk); !appended.ok()) {
    return Fail(std::move(appended));
  }
  if (!chunk.last()) return std::nullopt;

  if (current_.entries.size() != total_entries_) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        Where(chunk), " is the last but the snapshot has ",
        current_.entries.size(), " entries and announced total_entries=",
        total_entries_, "; the snapshot was dropped")));
  }
  current_.diagnostics = std::move(*chunk.mutable_diagnostics());
  AssembledSnapshot done = std::move(current_);
  Reset();
  return std::optional<AssembledSnapshot>(std::move(done));
}

absl::Status SnapshotAssembler::Start(const SnapshotChunk& chunk) {
  CCB_ASSIGN_OR_RETURN(current_.taken_at, TakenAt(chunk));
  if (chunk.total_entries() > limits_.max_entries) {
    return absl::ResourceExhaustedError(
        absl::StrCat(Where(chunk), ": total_entries=", chunk.total_entries(),
                     " exceeds the ledger's limit of ", limits_.max_entries,
                     " entries per snapshot"));
  }
  in_progress_ = true;
  current_.seq = chunk.snapshot_seq();
  total_entries_ = chunk.total_entries();
  // The announced total is the agent's word: reserve only a modest part.
  current_.entries.reserve(std::min<uint64_t>(total_entries_, 100'000));
  next_chunk_index_ = 0;
  return absl::OkStatus();
}

absl::Status SnapshotAssembler::CheckContinuation(
    const SnapshotChunk& chunk) const {
  if (chunk.chunk_index() != next_chunk_index_) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(chunk), " arrived but chunk ", next_chunk_index_,
                     " was expected (chunks must be consecutive); the "
                     "snapshot was dropped"));
  }
  CCB_ASSIGN_OR_RETURN(const absl::Time taken_at, TakenAt(chunk));
  if (taken_at != current_.taken_at) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(chunk), ": taken_at ", absl::FormatTime(taken_at),
        " differs from chunk 0's ", absl::FormatTime(current_.taken_at),
        "; the snapshot was dropped"));
  }
  if (chunk.total_entries() != total_entries_) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(chunk), ": total_entries=", chunk.total_entries(),
                     " differs from chunk 0's ", total_entries_,
                     "; the snapshot was dropped"));
  }
  return absl::OkStatus();
}

absl::Status SnapshotAssembler::Append(SnapshotChunk& chunk) {
  if (uint64_t{next_chunk_index_} + 1 > limits_.max_chunks) {
    return absl::ResourceExhaustedError(
        absl::StrCat(Where(chunk), ": more than ", limits_.max_chunks,
                     " chunks in one snapshot; the snapshot was dropped"));
  }
  const uint64_t after = current_.entries.size() + chunk.entries_size();
  if (after > total_entries_) {
    const bool over_limit = after > limits_.max_entries;
    const std::string message = absl::StrCat(
        Where(chunk), " brings the snapshot to ", after, " entries, more than ",
        over_limit ? absl::StrCat("the ledger's limit of ", limits_.max_entries)
                   : absl::StrCat("its total_entries=", total_entries_),
        "; the snapshot was dropped");
    return over_limit ? absl::ResourceExhaustedError(message)
                      : absl::InvalidArgumentError(message);
  }
  for (ccbatch::v1::QueueEntry& entry : *chunk.mutable_entries()) {
    current_.entries.push_back(std::move(entry));
  }
  ++next_chunk_index_;
  return absl::OkStatus();
}

}  // namespace ccbatch::ledger

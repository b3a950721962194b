// Fuzzes SnapshotAssembler (ledger_service/snapshot_assembler.h) with the
// SnapshotChunk messages one agent stream could send, in any order.
//
// Input: records of a 2-byte little-endian length N and N bytes (fewer at
// the end of the input). N == 0 ends the stream (Reset); otherwise the bytes
// are parsed as a SnapshotChunk, and bytes that do not parse are skipped
// (gRPC would have refused them). Every chunk goes to an assembler with
// small limits and to one with the defaults. Checks: errors are
// INVALID_ARGUMENT or RESOURCE_EXHAUSTED and drop the half snapshot; a
// snapshot comes out whole (every entry of its chunks, as many as announced,
// within the limits, with chunk 0's seq and taken_at); while one is being
// assembled its seq is the one reported.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ccbatch/v1/agent.pb.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/util/time_util.h"
#include "ledger_service/snapshot_assembler.h"

namespace ccbatch::ledger {
namespace {

using ::google::protobuf::util::TimeUtil;

// An assembler and what the fuzzer expects of it.
class CheckedAssembler final {
 public:
  explicit CheckedAssembler(SnapshotAssemblerLimits limits)
      : limits_(limits), assembler_(limits) {}

  void Reset() {
    assembler_.Reset();
    CCB_FUZZ_CHECK(!assembler_.in_progress(), "in progress after Reset");
    received_ = 0;
  }

  void Add(v1::SnapshotChunk chunk) {
    const uint64_t seq = chunk.snapshot_seq();
    const uint64_t entries = chunk.entries_size();
    const bool starts =
        !assembler_.in_progress() || assembler_.in_progress_seq() != seq;
    const uint64_t superseded = assembler_.superseded_count();
    absl::StatusOr<std::optional<AssembledSnapshot>> added =
        assembler_.Add(chunk);
    CCB_FUZZ_CHECK(assembler_.superseded_count() >= superseded,
                   "superseded_count went down");
    if (!added.ok()) {
      CheckRefusal(added.status());
      received_ = 0;
      return;
    }
    received_ = (starts ? 0 : received_) + entries;
    if (!added->has_value()) {
      CCB_FUZZ_CHECK(
          assembler_.in_progress() && assembler_.in_progress_seq() == seq,
          absl::StrCat("snapshot ", seq, " should be in progress"));
      return;
    }
    const AssembledSnapshot& snapshot = **added;
    CCB_FUZZ_CHECK(!assembler_.in_progress(), "in progress after the last");
    CCB_FUZZ_CHECK(snapshot.seq == seq && seq != 0,
                   absl::StrCat(snapshot.seq, " != ", seq));
    CCB_FUZZ_CHECK(snapshot.entries.size() == received_,
                   absl::StrCat(snapshot.entries.size(), " entries of ",
                                received_, " received"));
    CCB_FUZZ_CHECK(snapshot.entries.size() == chunk.total_entries(),
                   "entries differ from total_entries");
    CCB_FUZZ_CHECK(snapshot.entries.size() <= limits_.max_entries,
                   "more entries than the limit");
    const google::protobuf::Timestamp& taken_at = chunk.taken_at();
    CCB_FUZZ_CHECK(
        snapshot.taken_at == absl::FromUnixSeconds(taken_at.seconds()) +
                                 absl::Nanoseconds(taken_at.nanos()),
        "taken_at differs from the chunks'");
    received_ = 0;
  }

 private:
  void CheckRefusal(const absl::Status& status) {
    CCB_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
                       status.code() == absl::StatusCode::kResourceExhausted,
                   status.ToString());
    CCB_FUZZ_CHECK(absl::StartsWith(status.message(), "snapshot "),
                   status.ToString());
    CCB_FUZZ_CHECK(!assembler_.in_progress(), "a refusal kept the snapshot");
  }

  const SnapshotAssemblerLimits limits_;
  SnapshotAssembler assembler_;
  // Entries of the snapshot in progress, by the fuzzer's count.
  uint64_t received_ = 0;
};

}  // namespace
}  // namespace ccbatch::ledger

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ccbatch::ledger::CheckedAssembler small({/*max_entries=*/40,
                                           /*max_chunks=*/6});
  ccbatch::ledger::CheckedAssembler standard({});
  size_t pos = 0;
  while (pos + 2 <= size) {
    const size_t length = data[pos] | (size_t{data[pos + 1]} << 8);
    pos += 2;
    if (length == 0) {
      small.Reset();
      standard.Reset();
      continue;
    }
    const size_t available = std::min(length, size - pos);
    ccbatch::v1::SnapshotChunk chunk;
    const bool parsed =
        chunk.ParseFromArray(data + pos, static_cast<int>(available));
    pos += available;
    if (!parsed) continue;
    small.Add(chunk);
    standard.Add(std::move(chunk));
  }
  return 0;
}

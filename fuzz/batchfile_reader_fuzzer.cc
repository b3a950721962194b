// Fuzzes ReadBatchfile (cli/batchfile_reader.h) with arbitrary batchfile
// text, once without and once with command-line options, and checks what
// the header promises: a batch that is read passes common::ValidateBatch and
// survives the wire to the ledger; a refusal is InvalidArgument with one
// "<file>:<line>: ..." line per defect (at most kMaxReportedDefects, then
// "and N more defects"); and a text without '\r' reads as its CRLF twin.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "cli/batchfile_reader.h"
#include "common/batch_validator.h"
#include "fuzz/fuzz_check.h"

namespace ccbatch::cli {
namespace {

constexpr absl::string_view kFileName = "fuzz.batch";

void CheckRefusal(const absl::Status& status) {
  CCB_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument,
                 status.ToString());
  const std::vector<absl::string_view> lines =
      absl::StrSplit(status.message(), '\n');
  CCB_FUZZ_CHECK(lines.size() <= common::kMaxReportedDefects + 1,
                 absl::StrCat(lines.size(), " lines"));
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool names_file = absl::StartsWith(lines[i], kFileName);
    const bool is_tail = i == common::kMaxReportedDefects &&
                         absl::StartsWith(lines[i], "and ") &&
                         absl::EndsWith(lines[i], " more defects");
    CCB_FUZZ_CHECK(names_file || is_tail, std::string(lines[i]));
  }
}

void CheckBatch(const v1::BatchDefinition& batch,
                const BatchfileOptions& options) {
  const absl::Status valid = common::ValidateBatch(batch);
  CCB_FUZZ_CHECK(valid.ok(), valid.ToString());
  CCB_FUZZ_CHECK(batch.jobs_size() > 0, "a batch without jobs");
  CCB_FUZZ_CHECK(batch.source_file() == kFileName, batch.source_file());
  if (!options.batch_name.empty()) {
    CCB_FUZZ_CHECK(batch.name() == options.batch_name, batch.name());
  }
  if (!options.cluster.empty()) {
    CCB_FUZZ_CHECK(batch.cluster() == options.cluster, batch.cluster());
  }
  CCB_FUZZ_CHECK(fuzz::SurvivesWire(batch),
                 "the batch does not survive serialization");
}

// The result as one comparable string.
std::string Outcome(const absl::StatusOr<v1::BatchDefinition>& batch) {
  return batch.ok() ? batch->SerializeAsString() : batch.status().ToString();
}

void ReadWith(absl::string_view text, const BatchfileOptions& options) {
  const absl::StatusOr<v1::BatchDefinition> batch =
      ReadBatchfile(kFileName, text, options);
  if (batch.ok()) {
    CheckBatch(*batch, options);
  } else {
    CheckRefusal(batch.status());
  }
  if (text.find('\r') != absl::string_view::npos) return;
  const absl::StatusOr<v1::BatchDefinition> twin = ReadBatchfile(
      kFileName, absl::StrReplaceAll(text, {{"\n", "\r\n"}}), options);
  CCB_FUZZ_CHECK(
      Outcome(twin) == Outcome(batch),
      absl::StrCat("LF: ", Outcome(batch), "\n  CRLF: ", Outcome(twin)));
}

}  // namespace
}  // namespace ccbatch::cli

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  ccbatch::cli::ReadWith(text, {});
  ccbatch::cli::BatchfileOptions options;
  options.batch_name = "fuzz-batch";
  options.cluster = "hpc1";
  options.max_parallel = 4;
  ccbatch::cli::ReadWith(text, options);
  return 0;
}

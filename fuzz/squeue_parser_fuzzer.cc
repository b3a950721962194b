// Fuzzes SqueueParser::Parse (queue_agent/squeue_parser.h) with arbitrary
// squeue output, read in the agent's layout and in two others (a '|' layout
// like the corpus captures, and a two-byte delimiter), and checks what the
// header promises: every non-blank line is either an entry or a malformed
// line, every entry has a SLURM job id, and the snapshot the agent would send
// survives the wire; and a text without '\r' parses as its CRLF twin does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/agent.pb.h"
#include "fuzz/fuzz_check.h"
#include "queue_agent/squeue_parser.h"

namespace ccbatch::agent {
namespace {

// Longest possible sample: "line N: <problem>: \"" + escaped bytes (4 per
// byte at worst) + "...\"".
constexpr size_t kMaxSampleLength = 64 + 4 * SqueueParser::kMaxSampleBytes;

const SqueueParser& ParserFor(SqueueLayout layout) {
  absl::StatusOr<SqueueParser> parser = SqueueParser::ForLayout(layout);
  CCB_FUZZ_CHECK(parser.ok(), parser.status().ToString());
  return *new SqueueParser(*std::move(parser));
}

void CheckParse(const ParsedSqueue& parsed, absl::string_view text,
                bool has_state) {
  const int64_t malformed = parsed.diagnostics.malformed_lines();
  CCB_FUZZ_CHECK(
      static_cast<int64_t>(parsed.entries.size()) + malformed == parsed.lines,
      absl::StrCat(parsed.entries.size(), " entries + ", malformed,
                   " malformed != ", parsed.lines, " lines"));
  const int64_t newlines = std::count(text.begin(), text.end(), '\n');
  CCB_FUZZ_CHECK(parsed.lines <= newlines + 1, "more lines than in the text");
  CCB_FUZZ_CHECK(parsed.diagnostics.malformed_samples_size() <=
                     SqueueParser::kMaxMalformedSamples,
                 "too many samples");
  CCB_FUZZ_CHECK(
      parsed.diagnostics.malformed_samples_size() ==
          std::min<int64_t>(malformed, SqueueParser::kMaxMalformedSamples),
      "a malformed line without a sample");
  for (const std::string& sample : parsed.diagnostics.malformed_samples()) {
    CCB_FUZZ_CHECK(sample.size() <= kMaxSampleLength, sample);
  }
  CCB_FUZZ_CHECK(parsed.diagnostics.unknown_states() <=
                     static_cast<int64_t>(parsed.entries.size()),
                 "more unknown states than entries");
  v1::SnapshotChunk chunk;
  for (const v1::QueueEntry& entry : parsed.entries) {
    CCB_FUZZ_CHECK(IsSlurmJobId(entry.slurm_job_id()), entry.slurm_job_id());
    CCB_FUZZ_CHECK(!has_state || !entry.state().empty(), "entry without state");
    CCB_FUZZ_CHECK(entry.nodes() != "(null)", "(null) nodes kept");
    *chunk.add_entries() = entry;
  }
  *chunk.mutable_diagnostics() = parsed.diagnostics;
  CCB_FUZZ_CHECK(fuzz::SurvivesWire(chunk),
                 "the snapshot chunk does not survive serialization");
}

std::string Serialized(const ParsedSqueue& parsed) {
  v1::SnapshotChunk chunk;
  for (const v1::QueueEntry& entry : parsed.entries) {
    *chunk.add_entries() = entry;
  }
  *chunk.mutable_diagnostics() = parsed.diagnostics;
  return absl::StrCat(parsed.lines, ":", chunk.SerializeAsString());
}

void CheckCrLfTwin(const SqueueParser& parser, const ParsedSqueue& parsed,
                   absl::string_view text) {
  if (text.find('\r') != absl::string_view::npos) return;
  const ParsedSqueue twin =
      parser.Parse(absl::StrReplaceAll(text, {{"\n", "\r\n"}}));
  CCB_FUZZ_CHECK(Serialized(twin) == Serialized(parsed),
                 "CRLF and LF parse differently");
}

void ParseAndCheck(const SqueueParser& parser, absl::string_view text,
                   bool has_state) {
  const ParsedSqueue parsed = parser.Parse(text);
  CheckParse(parsed, text, has_state);
  CheckCrLfTwin(parser, parsed, text);
}

}  // namespace
}  // namespace ccbatch::agent

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ccbatch::agent::SqueueField;
  using ccbatch::agent::SqueueLayout;
  using ccbatch::agent::SqueueParser;
  static const SqueueParser& agent = *new SqueueParser();
  static const SqueueParser& pipe = ccbatch::agent::ParserFor(SqueueLayout{
      "|",
      {SqueueField::kJobId, SqueueField::kIgnored, SqueueField::kName,
       SqueueField::kIgnored, SqueueField::kState, SqueueField::kNodes,
       SqueueField::kReason, SqueueField::kIgnored, SqueueField::kComment}});
  static const SqueueParser& stateless = ccbatch::agent::ParserFor(
      SqueueLayout{"\x1f\x1f", {SqueueField::kName, SqueueField::kJobId}});
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  ccbatch::agent::ParseAndCheck(agent, text, /*has_state=*/true);
  ccbatch::agent::ParseAndCheck(pipe, text, /*has_state=*/true);
  ccbatch::agent::ParseAndCheck(stateless, text, /*has_state=*/false);
  return 0;
}

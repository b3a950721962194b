#include "ledger_service/input_limits.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/utf8_text.h"
#include "google/protobuf/descriptor.h"

namespace ccbatch::ledger {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

// What CheckStringLengths found: the path to the string, innermost part
// first (built only on the way out of a failed search), and its length.
struct Overlong {
  std::vector<std::string> path_reversed;
  size_t length = 0;
};

std::string PathPart(const FieldDescriptor& field, int index) {
  if (index < 0) return field.name();
  return absl::StrCat(field.name(), "[", index, "]");
}

bool FindOverlong(const Message& message, size_t max_bytes, Overlong& found);

bool FindInField(const Message& message, const Reflection& reflection,
                 const FieldDescriptor& field, size_t max_bytes,
                 Overlong& found) {
  const bool repeated = field.is_repeated();
  const int count = repeated ? reflection.FieldSize(message, &field) : 1;
  std::string scratch;
  for (int i = 0; i < count; ++i) {
    bool hit = false;
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      const std::string& value =
          repeated ? reflection.GetRepeatedStringReference(message, &field, i,
                                                           &scratch)
                   : reflection.GetStringReference(message, &field, &scratch);
      if (value.size() > max_bytes) {
        found.length = value.size();
        hit = true;
      }
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const Message& inner =
          repeated ? reflection.GetRepeatedMessage(message, &field, i)
                   : reflection.GetMessage(message, &field);
      hit = FindOverlong(inner, max_bytes, found);
    } else {
      return false;  // numbers, enums, bools: no strings inside
    }
    if (hit) {
      found.path_reversed.push_back(PathPart(field, repeated ? i : -1));
      return true;
    }
  }
  return false;
}

// Snapshot chunks are most of what agents send (a snapshot may hold 100,000
// entries): their entries are checked without reflection, several times
// faster (bench/input_limits_bench). input_limits_test checks that every
// field of SnapshotChunk and QueueEntry is covered.
bool FindOverlongEntry(const ccbatch::v1::QueueEntry& entry, size_t max_bytes,
                       Overlong& found) {
  const std::pair<const std::string*, const char*> fields[] = {
      {&entry.slurm_job_id(), "slurm_job_id"},
      {&entry.state(), "state"},
      {&entry.reason(), "reason"},
      {&entry.name(), "name"},
      {&entry.comment(), "comment"},
      {&entry.nodes(), "nodes"},
  };
  for (const auto& [value, name] : fields) {
    if (value->size() > max_bytes) {
      found.length = value->size();
      found.path_reversed.emplace_back(name);
      return true;
    }
  }
  return false;
}

bool FindOverlongInChunk(const ccbatch::v1::SnapshotChunk& chunk,
                         size_t max_bytes, Overlong& found) {
  for (int i = 0; i < chunk.entries_size(); ++i) {
    if (FindOverlongEntry(chunk.entries(i), max_bytes, found)) {
      found.path_reversed.push_back(absl::StrCat("entries[", i, "]"));
      return true;
    }
  }
  if (FindOverlong(chunk.diagnostics(), max_bytes, found)) {
    found.path_reversed.emplace_back("diagnostics");
    return true;
  }
  return false;
}

bool FindOverlong(const Message& message, size_t max_bytes, Overlong& found) {
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  if (type == ccbatch::v1::SnapshotChunk::descriptor()) {
    const auto* chunk =
        dynamic_cast<const ccbatch::v1::SnapshotChunk*>(&message);
    if (chunk != nullptr) return FindOverlongInChunk(*chunk, max_bytes, found);
  }
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (FindInField(message, reflection, *field, max_bytes, found)) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status CheckStringLengths(const Message& message, size_t max_bytes) {
  Overlong found;
  if (!FindOverlong(message, max_bytes, found)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      absl::StrJoin(found.path_reversed.rbegin(), found.path_reversed.rend(),
                    "."),
      " is ", found.length, " bytes long; the ledger accepts at most ",
      max_bytes, " bytes in one field"));
}

absl::Status CheckJobCount(int64_t count, absl::string_view field,
                           const InputLimits& limits) {
  if (count <= limits.max_jobs_per_request) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      field, " holds ", count, " jobs; the ledger accepts at most ",
      limits.max_jobs_per_request, " in one request (split it)"));
}

bool TrimEvidence(ccbatch::v1::Verdict& verdict, const InputLimits& limits) {
  auto& evidence = *verdict.mutable_evidence();
  const int total = evidence.size();
  size_t bytes = 0;
  int kept = 0;
  bool text_cut = false;
  for (; kept < total && kept < limits.max_evidence_lines; ++kept) {
    std::string& text = *evidence[kept].mutable_text();
    const size_t left = limits.max_evidence_bytes - bytes;
    if (text.size() > left) {
      if (left == 0) break;
      text.resize(common::Utf8Prefix(text, left).size());
      text_cut = true;
      bytes = limits.max_evidence_bytes;
      ++kept;
      break;
    }
    bytes += text.size();
  }
  if (kept == total && !text_cut) return false;
  evidence.DeleteSubrange(kept, total - kept);
  verdict.add_warnings(
      absl::StrCat("the ledger kept ", kept, " of ", total, " evidence lines",
                   text_cut ? " and cut the text of the last" : "",
                   " (limits: ", limits.max_evidence_lines, " lines, ",
                   limits.max_evidence_bytes, " bytes of text)"));
  return true;
}

}  // namespace ccbatch::ledger

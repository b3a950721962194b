#include "queue_agent/queue_snapshot.h"

#include <utility>

#include "common/utf8_text.h"
#include "google/protobuf/io/coded_stream.h"

namespace ccbatch::agent {
namespace {

// Assigning in place spares protobuf 3.21's set_x(data, size) its temporary
// std::string.
void Assign(absl::string_view value, std::string* field) {
  field->assign(value.data(), value.size());
}

// squeue passes through whatever bytes users put into names and comments; a
// proto3 string must be UTF-8 or the ledger refuses the whole chunk, so
// other bytes become '?' (same length: EntryByteSize holds).
void AssignAsUtf8(absl::string_view value, std::string* field) {
  Assign(value, field);
  common::MakeValidUtf8(field);
}

// Bytes a proto3 string field with a one-byte tag adds to a message; an
// empty field is not serialized.
size_t StringFieldSize(absl::string_view value) {
  if (value.empty()) return 0;
  return 1 +
         google::protobuf::io::CodedOutputStream::VarintSize64(value.size()) +
         value.size();
}

}  // namespace

template <typename AssignField>
void QueueRow::Fill(v1::QueueEntry* entry, AssignField assign) const {
  // Empty fields stay unset: no allocation for them.
  if (!slurm_job_id_.empty()) {
    assign(slurm_job_id_, entry->mutable_slurm_job_id());
  }
  if (!state_.empty()) assign(state_, entry->mutable_state());
  if (!reason_.empty()) assign(reason_, entry->mutable_reason());
  if (!name_.empty()) assign(name_, entry->mutable_name());
  if (!comment_.empty()) assign(comment_, entry->mutable_comment());
  if (!nodes_.empty()) assign(nodes_, entry->mutable_nodes());
}

void QueueRow::FillEntry(v1::QueueEntry* entry) const {
  Fill(entry, AssignAsUtf8);
}

void QueueRow::FillEntryFromUtf8(v1::QueueEntry* entry) const {
  Fill(entry, Assign);
}

v1::QueueEntry QueueRow::ToEntry() const {
  v1::QueueEntry entry;
  FillEntry(&entry);
  return entry;
}

size_t QueueRow::EntryByteSize() const {
  return StringFieldSize(slurm_job_id_) + StringFieldSize(state_) +
         StringFieldSize(reason_) + StringFieldSize(name_) +
         StringFieldSize(comment_) + StringFieldSize(nodes_);
}

QueueSnapshot SnapshotOfEntries(absl::Span<const v1::QueueEntry> entries) {
  QueueSnapshot snapshot;
  if (entries.empty()) return snapshot;
  // One string holding every field; views are taken once it stops growing.
  auto text = std::make_shared<std::string>();
  std::vector<size_t> offsets;
  offsets.reserve(entries.size() * 6 + 1);
  for (const v1::QueueEntry& entry : entries) {
    for (const std::string* field :
         {&entry.slurm_job_id(), &entry.state(), &entry.reason(), &entry.name(),
          &entry.comment(), &entry.nodes()}) {
      offsets.push_back(text->size());
      text->append(*field);
    }
  }
  offsets.push_back(text->size());
  const absl::string_view all = *text;
  auto field = [&](size_t i) {
    return all.substr(offsets[i], offsets[i + 1] - offsets[i]);
  };
  snapshot.entries.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const size_t f = i * 6;
    snapshot.entries.emplace_back(field(f), field(f + 1), field(f + 2),
                                  field(f + 3), field(f + 4), field(f + 5));
  }
  snapshot.entries_are_utf8 = common::IsValidUtf8(*text);
  snapshot.text = std::move(text);
  return snapshot;
}

}  // namespace ccbatch::agent

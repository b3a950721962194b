#include "queue_agent/order_journal.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace ccbatch::agent {
namespace {

constexpr absl::string_view kHeader = "# ccbatch order journal v1";
constexpr absl::string_view kInFlight = "-";

std::string EntryLine(const JournalEntry& entry) {
  std::string result(kInFlight);
  if (entry.result.has_value()) {
    result = absl::Base64Escape(entry.result->SerializeAsString());
  }
  return absl::StrCat(absl::ToUnixMicros(entry.started_at), "\t",
                      absl::CHexEscape(entry.order_id), "\t", result);
}

absl::Status Damaged(const std::string& path, int line_number,
                     absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      path, ":", line_number, ": ", what,
      "; the order journal is damaged. Move it aside and restart the agent "
      "(orders the ledger re-sends are then matched by their ccb: tag in "
      "the queue)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrderJournal>> OrderJournal::Open(
    common::FileSystem* fs, const std::string& state_dir,
    OrderJournalOptions options) {
  if (options.max_entries == 0) {
    return absl::InvalidArgumentError("order journal: max_entries must be > 0");
  }
  absl::StatusOr<common::FileInfo> dir = fs->Stat(state_dir);
  if (!dir.ok()) {
    return absl::Status(dir.status().code(),
                        absl::StrCat("order journal: state directory: ",
                                     dir.status().message()));
  }
  if (!dir->is_directory) {
    return absl::FailedPreconditionError(absl::StrCat(
        "order journal: state directory ", state_dir, " is not a directory"));
  }
  std::string path =
      absl::StrCat(absl::StripSuffix(state_dir, "/"), "/", kFileName);
  std::unique_ptr<OrderJournal> journal(
      new OrderJournal(fs, std::move(path), options));
  absl::MutexLock lock(&journal->mu_);
  CCB_RETURN_IF_ERROR(journal->Load());
  return journal;
}

OrderJournal::OrderJournal(common::FileSystem* fs, std::string path,
                           OrderJournalOptions options)
    : fs_(fs), path_(std::move(path)), options_(options) {}

absl::Status OrderJournal::Load() {
  absl::StatusOr<std::string> text = fs_->ReadFile(path_);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("order journal: ", text.status().message()));
  }
  if (text->empty()) return Damaged(path_, 1, "empty file");
  std::vector<absl::string_view> lines = absl::StrSplit(*text, '\n');
  if (lines.back().empty()) lines.pop_back();  // the final newline
  if (lines.front() != kHeader) {
    return Damaged(path_, 1,
                   absl::StrCat("expected \"", kHeader, "\" as first line"));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    CCB_RETURN_IF_ERROR(ParseLine(lines[i], static_cast<int>(i) + 1));
  }
  return absl::OkStatus();
}

absl::Status OrderJournal::ParseLine(absl::string_view line, int line_number) {
  const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
  if (fields.size() != 3) {
    return Damaged(
        path_, line_number,
        absl::StrCat("expected 3 tab-separated fields, found ", fields.size()));
  }
  int64_t micros = 0;
  if (!absl::SimpleAtoi(fields[0], &micros)) {
    return Damaged(
        path_, line_number,
        absl::StrCat("bad start time \"", absl::CHexEscape(fields[0]), "\""));
  }
  JournalEntry entry;
  entry.started_at = absl::FromUnixMicros(micros);
  std::string unescape_error;
  if (!absl::CUnescape(fields[1], &entry.order_id, &unescape_error) ||
      entry.order_id.empty()) {
    return Damaged(path_, line_number, "bad order id");
  }
  if (fields[2] != kInFlight) {
    std::string bytes;
    v1::SubmitResult result;
    if (!absl::Base64Unescape(fields[2], &bytes) ||
        !result.ParseFromString(bytes)) {
      return Damaged(path_, line_number, "result does not decode");
    }
    if (result.order_id() != entry.order_id) {
      return Damaged(path_, line_number,
                     "result is for another order than the line's");
    }
    entry.result = std::move(result);
  }
  Insert(Stored{std::move(entry), std::string(line)});
  return absl::OkStatus();
}

std::optional<JournalEntry> OrderJournal::Find(
    absl::string_view order_id) const {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(order_id);
  if (it == index_.end()) return std::nullopt;
  return it->second->entry;
}

absl::Status OrderJournal::RecordStarted(absl::string_view order_id,
                                         absl::Time at) {
  if (order_id.empty()) {
    return absl::InvalidArgumentError("order journal: empty order id");
  }
  JournalEntry entry;
  entry.order_id = std::string(order_id);
  entry.started_at = at;
  absl::MutexLock lock(&mu_);
  return Store(std::move(entry));
}

absl::Status OrderJournal::RecordResult(const v1::SubmitResult& result) {
  if (result.order_id().empty()) {
    return absl::InvalidArgumentError("order journal: result without order id");
  }
  JournalEntry entry;
  entry.order_id = result.order_id();
  entry.result = result;
  absl::MutexLock lock(&mu_);
  auto it = index_.find(result.order_id());
  if (it != index_.end()) {
    entry.started_at = it->second->entry.started_at;
  } else {
    entry.started_at = absl::FromUnixSeconds(result.submitted_at().seconds()) +
                       absl::Nanoseconds(result.submitted_at().nanos());
  }
  return Store(std::move(entry));
}

size_t OrderJournal::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

absl::Status OrderJournal::Store(JournalEntry entry) {
  std::string new_line = EntryLine(entry);
  // The lines the file will hold, oldest first, before pruning.
  std::vector<const std::string*> lines;
  lines.reserve(entries_.size() + 1);
  for (const Stored& stored : entries_) {
    if (stored.entry.order_id != entry.order_id) lines.push_back(&stored.line);
  }
  lines.push_back(&new_line);
  // Keep the newest lines within both bounds (the newest one always).
  size_t keep = 0;
  size_t bytes = kHeader.size() + 1;
  while (keep < lines.size()) {
    const size_t line_bytes = lines[lines.size() - 1 - keep]->size() + 1;
    if (keep > 0 && (keep + 1 > options_.max_entries ||
                     bytes + line_bytes > options_.max_bytes)) {
      break;
    }
    bytes += line_bytes;
    ++keep;
  }
  std::string text;
  text.reserve(bytes);
  absl::StrAppend(&text, kHeader, "\n");
  for (size_t i = lines.size() - keep; i < lines.size(); ++i) {
    absl::StrAppend(&text, *lines[i], "\n");
  }
  absl::Status written = fs_->WriteFile(path_, text);
  if (!written.ok()) {
    return absl::Status(written.code(),
                        absl::StrCat("order journal: ", written.message()));
  }
  Insert(Stored{std::move(entry), std::move(new_line)});
  while (entries_.size() > keep) {
    index_.erase(entries_.front().entry.order_id);
    entries_.pop_front();
  }
  return absl::OkStatus();
}

void OrderJournal::Insert(Stored stored) {
  auto it = index_.find(stored.entry.order_id);
  if (it != index_.end()) {
    entries_.erase(it->second);
    index_.erase(it);
  }
  entries_.push_back(std::move(stored));
  index_[entries_.back().entry.order_id] = std::prev(entries_.end());
}

}  // namespace ccbatch::agent

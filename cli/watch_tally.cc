#include "cli/watch_tally.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/status_names.h"
#include "cli/summary_rendering.h"
#include "cli/text_table.h"
#include "cli/time_format.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;

constexpr size_t kRecentChanges = 8;

std::string BatchOfKey(const std::string& key) {
  return key.substr(0, key.find('/'));
}

}  // namespace

WatchTally::WatchTally(v1::SummaryResponse initial)
    : initial_(std::move(initial)) {}

void WatchTally::Apply(const v1::WatchResponse& response) {
  switch (response.update_case()) {
    case v1::WatchResponse::kCurrent: {
      const v1::JobView& job = response.current();
      jobs_[job.key()] = {
          job.batch().empty() ? BatchOfKey(job.key()) : job.batch(),
          job.status()};
      break;
    }
    case v1::WatchResponse::kInitialStateDone:
      initial_state_done_ = true;
      break;
    case v1::WatchResponse::kChange: {
      const v1::JobEvent& change = response.change();
      auto [it, inserted] = jobs_.try_emplace(
          change.job_key(), BatchOfKey(change.job_key()), change.to_status());
      if (!inserted) it->second.second = change.to_status();
      recent_.push_back(change);
      if (recent_.size() > kRecentChanges) recent_.pop_front();
      break;
    }
    case v1::WatchResponse::UPDATE_NOT_SET:
      break;
  }
}

void WatchTally::SetClusters(const v1::ListClustersResponse& clusters) {
  *initial_.mutable_clusters() = clusters.clusters();
}

bool WatchTally::AllFinal() const {
  if (!initial_state_done_) return false;
  for (const auto& [key, job] : jobs_) {
    if (!IsFinal(job.second)) return false;
  }
  return true;
}

v1::SummaryResponse WatchTally::Summary() const {
  // Batch -> status -> count; std::map keeps enum order for the counts.
  std::map<std::string, std::map<int, int>> counts;
  for (const auto& [key, job] : jobs_) ++counts[job.first][job.second];
  v1::SummaryResponse summary = initial_;
  summary.clear_batches();
  auto fill = [&](v1::BatchSummary* batch, const std::map<int, int>& by) {
    batch->clear_counts();
    int total = 0;
    int final_count = 0;
    for (const auto& [status, count] : by) {
      auto* entry = batch->add_counts();
      entry->set_status(static_cast<v1::JobStatus>(status));
      entry->set_count(count);
      total += count;
      if (IsFinal(static_cast<v1::JobStatus>(status))) final_count += count;
    }
    batch->set_total(total);
    batch->set_final(final_count);
  };
  for (const v1::BatchSummary& known : initial_.batches()) {
    v1::BatchSummary* batch = summary.add_batches();
    *batch->mutable_batch() = known.batch();
    fill(batch, counts[known.batch().name()]);
    counts.erase(known.batch().name());
  }
  // Batches imported after the watch began.
  for (const auto& [name, by] : counts) {
    v1::BatchSummary* batch = summary.add_batches();
    batch->mutable_batch()->set_name(name);
    fill(batch, by);
  }
  return summary;
}

std::string RenderChangeLine(const v1::JobEvent& change,
                             const RenderOptions& options) {
  return absl::StrCat(
      FormatTimestamp(change.at(), options.time_zone), "  ", change.job_key(),
      "  ",
      Styled(StatusName(change.from_status()),
             StatusStyle(change.from_status()), options.color),
      " -> ",
      Styled(StatusName(change.to_status()), StatusStyle(change.to_status()),
             options.color),
      "  ", ReasonWithoutStatus(change.to_status(), change.reason()), "\n");
}

std::string RenderWatchFrame(const WatchTally& tally,
                             const RenderOptions& options) {
  std::string out =
      RenderSummary(tally.Summary(), OutputFormat::kTable, options);
  if (!tally.recent_changes().empty()) {
    absl::StrAppend(&out, "\nrecent changes\n");
    for (const auto& change : tally.recent_changes()) {
      absl::StrAppend(&out, "  ", RenderChangeLine(change, options));
    }
  }
  absl::StrAppend(&out, "\nwatching; Ctrl-C to stop\n");
  return out;
}

}  // namespace ccbatch::cli

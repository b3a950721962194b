// The read side: views, listings, summaries, export, and the Watch feed.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ledger_service/export_csv.h"
#include "ledger_service/ledger_impl.h"
#include "ledger_service/scheduler.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::JobStatus;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kJobEventsShown = 50;
constexpr absl::string_view kPageTokenPrefix = "jobs-after:";

std::string PageToken(absl::string_view last_key) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, last_key));
}

absl::string_view BasenameOf(absl::string_view key) {
  const size_t slash = key.find('/');
  return slash == absl::string_view::npos ? key : key.substr(slash + 1);
}

absl::string_view BatchOf(absl::string_view key) {
  return key.substr(0, key.find('/'));
}

}  // namespace

// Which events and jobs a WatchFilter selects.
struct Ledger::Impl::WatchMatcher {
  std::string batch_prefix;  // "<batch>/" or empty
  absl::flat_hash_set<std::string> keys;

  explicit WatchMatcher(const WatchFilter& filter)
      : keys(filter.job_keys.begin(), filter.job_keys.end()) {
    if (!filter.batch.empty()) batch_prefix = absl::StrCat(filter.batch, "/");
  }
  bool Matches(absl::string_view key) const {
    if (!batch_prefix.empty() && !absl::StartsWith(key, batch_prefix)) {
      return false;
    }
    return keys.empty() || keys.contains(key);
  }
};

ccbatch::v1::JobView Ledger::Impl::ViewOf(int job) const {
  const JobFacts& facts = FactsOf(job);
  const JobRecord& record = jobs_[job];
  ccbatch::v1::JobView view;
  view.set_key(facts.key);
  view.set_batch(std::string(BatchOf(facts.key)));
  view.set_basename(std::string(BasenameOf(facts.key)));
  absl::StatusOr<records::StoredJob> stored = LoadStoredJob(job);
  if (stored.ok()) {
    view.set_program(stored->definition().program());
    view.set_directory(stored->definition().directory());
  }
  view.set_status(record.status);
  view.set_reason(computer_->status(job).reason);
  *view.mutable_status_since() =
      TimestampOf(TimeOfMicros(record.status_since_us));
  view.set_cluster(clusters_[record.cluster].name);
  if (facts.attempt.has_value()) {
    view.set_slurm_job_id(facts.attempt->slurm_job_id);
    view.set_attempt(facts.attempt->number);
  }
  for (int up : computer_->graph().upstream(job)) {
    view.add_upstream_keys(FactsOf(up).key);
  }
  return view;
}

std::vector<ccbatch::v1::JobView> Ledger::Impl::ViewsOf(
    absl::Span<const int> jobs) const {
  std::vector<ccbatch::v1::JobView> views;
  views.reserve(jobs.size());
  for (int job : jobs) views.push_back(ViewOf(job));
  return views;
}

ccbatch::v1::BatchInfo Ledger::Impl::InfoOf(int batch) const {
  const BatchState& state = batches_[batch];
  const ccbatch::v1::BatchDefinition& definition = state.record.definition();
  ccbatch::v1::BatchInfo info;
  info.set_name(definition.name());
  info.set_paused(state.record.paused());
  info.set_cluster(definition.cluster());
  info.set_max_parallel(definition.max_parallel());
  info.set_job_count(static_cast<int32_t>(state.jobs.size()));
  *info.mutable_retry_policy() = definition.retry_policy();
  *info.mutable_imported_at() = state.record.imported_at();
  return info;
}

ccbatch::v1::ClusterInfo Ledger::Impl::ClusterInfoOf(
    const ClusterState& cluster) const {
  const records::ClusterRecord& record = cluster.record;
  ccbatch::v1::ClusterInfo info;
  info.set_name(cluster.name);
  info.set_connected(cluster.connected);
  info.set_user(record.user());
  info.set_agent_version(record.agent_version());
  info.set_last_snapshot_seq(record.snapshot_seq());
  *info.mutable_last_snapshot_taken_at() = record.snapshot_taken_at();
  info.set_last_snapshot_entries(record.snapshot_entries());
  info.set_last_probe_error(record.last_probe_error());
  *info.mutable_last_probe_error_at() = record.last_probe_error_at();
  int32_t tracked = 0;
  for (int32_t count : cluster.counts) tracked += count;
  info.set_jobs_tracked(tracked);
  auto cap = options_.cluster_caps.find(cluster.name);
  info.set_cap(cap == options_.cluster_caps.end() ? 0 : cap->second);
  *info.mutable_connection_changed_at() =
      TimestampOf(cluster.connection_changed_at);
  return info;
}

// ---- Listing
// ------------------------------------------------------------------

absl::StatusOr<ccbatch::v1::ListJobsResponse> Ledger::Impl::ListJobs(
    const ccbatch::v1::ListJobsRequest& request) const {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size ", request.page_size(), " is negative; use 1 to ",
        kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  const int page_size = request.page_size() == 0
                            ? kDefaultPageSize
                            : std::min(request.page_size(), kMaxPageSize);
  uint32_t wanted = 0;
  for (int status : request.statuses()) {
    if (status <= 0 || status >= kStatusSlots) {
      return absl::InvalidArgumentError(
          absl::StrCat("statuses: ", status, " is not a job status"));
    }
    wanted |= 1u << status;
  }
  absl::ReaderMutexLock lock(&mu_);
  // Where the previous page ended: (batch name, position).
  std::string after_batch;
  int after_position = -1;
  if (!request.page_token().empty()) {
    std::string decoded;
    absl::string_view key;
    if (absl::WebSafeBase64Unescape(request.page_token(), &decoded)) {
      key = decoded;
    }
    int job = -1;
    if (absl::ConsumePrefix(&key, kPageTokenPrefix)) {
      job = job_by_key_.Find(key);
    }
    if (job < 0) {
      return absl::InvalidArgumentError(
          "page_token is not one this ledger issued; pass the "
          "next_page_token of the previous response unchanged");
    }
    after_batch = batches_[jobs_[job].batch].record.definition().name();
    after_position = jobs_[job].position;
  }
  int cluster = -1;
  if (!request.cluster().empty()) {
    const ClusterState* found = FindCluster(request.cluster());
    if (found == nullptr) return ccbatch::v1::ListJobsResponse();
    cluster = cluster_by_name_.find(request.cluster())->second;
  }
  std::vector<int> batches;
  if (!request.batch().empty()) {
    absl::StatusOr<int> batch = BatchIndex(request.batch());
    if (!batch.ok()) return batch.status();
    batches.push_back(*batch);
  } else {
    for (const auto& [name, index] : batch_by_name_) batches.push_back(index);
  }
  ccbatch::v1::ListJobsResponse response;
  std::vector<int> page;
  bool more = false;
  int32_t total = 0;
  for (int batch : batches) {
    const BatchState& state = batches_[batch];
    const std::string& name = state.record.definition().name();
    const int first = name < after_batch ? static_cast<int>(state.jobs.size())
                      : name == after_batch ? after_position + 1
                                            : 0;
    for (int position = 0; position < static_cast<int>(state.jobs.size());
         ++position) {
      const int job = state.jobs[position];
      const JobRecord& record = jobs_[job];
      if (wanted != 0 && (wanted & (1u << record.status)) == 0) continue;
      if (cluster >= 0 && record.cluster != cluster) continue;
      if (!request.name_prefix().empty() &&
          !absl::StartsWith(BasenameOf(KeyOf(job)), request.name_prefix())) {
        continue;
      }
      ++total;
      if (position < first) continue;
      if (static_cast<int>(page.size()) < page_size) {
        page.push_back(job);
      } else {
        more = true;
      }
    }
  }
  for (ccbatch::v1::JobView& view : ViewsOf(page)) {
    *response.add_jobs() = std::move(view);
  }
  if (more) response.set_next_page_token(PageToken(KeyOf(page.back())));
  response.set_total_size(total);
  return response;
}

absl::StatusOr<ccbatch::v1::GetJobResponse> Ledger::Impl::GetJob(
    const ccbatch::v1::GetJobRequest& request) const {
  if (request.key().empty()) {
    return absl::InvalidArgumentError(
        "GetJob needs a job key <batch>/<basename>");
  }
  absl::ReaderMutexLock lock(&mu_);
  absl::StatusOr<int> job = JobIndex(request.key());
  if (!job.ok()) return job.status();
  const JobFacts& facts = FactsOf(*job);
  ccbatch::v1::GetJobResponse response;
  absl::StatusOr<records::StoredJob> stored = LoadStoredJob(*job);
  if (!stored.ok()) return stored.status();
  *response.mutable_definition() = std::move(*stored->mutable_definition());
  *response.mutable_view() = ViewOf(*job);
  absl::Status scanned = ScanMessages<ccbatch::v1::Attempt>(
      *store_, Column::kAttempts, JobAttemptPrefix(facts.key),
      [&](absl::string_view, const ccbatch::v1::Attempt& attempt) {
        ccbatch::v1::Attempt& shown = *response.add_attempts();
        shown = attempt;
        if (facts.attempt.has_value() &&
            facts.attempt->number == attempt.number()) {
          // Stored when the job leaves the queue; shown as of now.
          shown.set_last_queue_state(facts.attempt->last_queue_state);
        }
        return true;
      });
  if (!scanned.ok()) return scanned;
  const int verdict_attempt =
      facts.attempt.has_value() ? facts.attempt->number : 0;
  absl::StatusOr<std::optional<ccbatch::v1::Verdict>> verdict =
      GetMessage<ccbatch::v1::Verdict>(
          *store_, Column::kVerdicts,
          JobAttemptKey(facts.key, verdict_attempt));
  if (!verdict.ok()) return verdict.status();
  if (verdict->has_value()) *response.mutable_verdict() = std::move(**verdict);
  absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> events =
      RecentEventsOf(*job, kJobEventsShown);
  if (!events.ok()) return events.status();
  for (ccbatch::v1::JobEvent& event : *events) {
    *response.add_events() = std::move(event);
  }
  for (ccbatch::v1::JobView& view :
       ViewsOf(computer_->graph().upstream(*job))) {
    *response.add_upstream() = std::move(view);
  }
  return response;
}

absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> Ledger::Impl::RecentEventsOf(
    int job, int max_events) const {
  std::vector<ccbatch::v1::JobEvent> events;
  uint64_t seq = jobs_[job].last_event_seq;
  while (seq != 0 && static_cast<int>(events.size()) < max_events) {
    absl::StatusOr<std::optional<records::StoredEvent>> stored =
        GetMessage<records::StoredEvent>(*store_, Column::kEvents,
                                         EventKey(seq));
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) break;  // history older than the store holds
    seq = (*stored)->previous_event_seq();
    events.push_back(std::move(*(*stored)->mutable_event()));
  }
  std::reverse(events.begin(), events.end());
  return events;
}

absl::StatusOr<ccbatch::v1::SummaryResponse> Ledger::Impl::Summary(
    const ccbatch::v1::SummaryRequest& request) const {
  ccbatch::v1::SummaryResponse response;
  {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<int> batches;
    if (!request.batch().empty()) {
      absl::StatusOr<int> batch = BatchIndex(request.batch());
      if (!batch.ok()) return batch.status();
      batches.push_back(*batch);
    } else {
      for (const auto& [name, index] : batch_by_name_) batches.push_back(index);
    }
    for (int batch : batches) {
      const BatchState& state = batches_[batch];
      ccbatch::v1::BatchSummary& summary = *response.add_batches();
      *summary.mutable_batch() = InfoOf(batch);
      int32_t final_count = 0;
      for (int status = 1; status < kStatusSlots; ++status) {
        const int32_t count = state.counts[status];
        if (count == 0) continue;
        ccbatch::v1::StatusCount& entry = *summary.add_counts();
        entry.set_status(static_cast<JobStatus>(status));
        entry.set_count(count);
        if (IsFinal(static_cast<JobStatus>(status))) final_count += count;
      }
      summary.set_total(static_cast<int32_t>(state.jobs.size()));
      summary.set_final(final_count);
    }
    for (const auto& [name, index] : cluster_by_name_) {
      *response.add_clusters() = ClusterInfoOf(clusters_[index]);
    }
  }
  return response;
}

ccbatch::v1::ListClustersResponse Ledger::Impl::ListClusters() const {
  ccbatch::v1::ListClustersResponse response;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, index] : cluster_by_name_) {
    *response.add_clusters() = ClusterInfoOf(clusters_[index]);
  }
  return response;
}

absl::StatusOr<ccbatch::v1::ExportLedgerResponse> Ledger::Impl::ExportLedger(
    const ccbatch::v1::ExportLedgerRequest& request) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<int> batches;
  if (!request.batch().empty()) {
    absl::StatusOr<int> batch = BatchIndex(request.batch());
    if (!batch.ok()) return batch.status();
    batches.push_back(*batch);
  } else {
    for (const auto& [name, index] : batch_by_name_) batches.push_back(index);
  }
  std::string csv = absl::StrCat(kLedgerCsvHeader, "\n");
  for (int batch : batches) {
    for (int32_t job : batches_[batch].jobs) {
      absl::StatusOr<records::StoredJob> stored = LoadStoredJob(job);
      if (!stored.ok()) return stored.status();
      LedgerCsvRow row;
      row.definition = std::move(*stored->mutable_definition());
      row.status = jobs_[job].status;
      if (FactsOf(job).attempt.has_value()) {
        row.slurm_job_id = FactsOf(job).attempt->slurm_job_id;
      }
      AppendLedgerCsvRow(row, &csv);
    }
  }
  ccbatch::v1::ExportLedgerResponse response;
  response.set_csv(std::move(csv));
  return response;
}

// ---- Watch
// --------------------------------------------------------------------

absl::Status Ledger::Impl::CheckWatchFilter(const WatchFilter& filter) const {
  if (!filter.batch.empty() &&
      batch_by_name_.find(filter.batch) == batch_by_name_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no batch \"", filter.batch, "\" to watch"));
  }
  for (const std::string& key : filter.job_keys) {
    if (!job_by_key_.Contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("no job \"", key, "\" to watch"));
    }
    if (!filter.batch.empty() && BatchOf(key) != filter.batch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "job \"", key, "\" is not in batch \"", filter.batch, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WatchStart> Ledger::Impl::StartWatch(
    const WatchFilter& filter) const {
  absl::ReaderMutexLock lock(&mu_);
  if (absl::Status valid = CheckWatchFilter(filter); !valid.ok()) return valid;
  std::vector<int> jobs;
  if (!filter.job_keys.empty()) {
    for (const std::string& key : filter.job_keys) {
      jobs.push_back(job_by_key_.Find(key));
    }
  } else if (!filter.batch.empty()) {
    const BatchState& batch =
        batches_[batch_by_name_.find(filter.batch)->second];
    jobs.assign(batch.jobs.begin(), batch.jobs.end());
  } else {
    for (const auto& [name, index] : batch_by_name_) {
      jobs.insert(jobs.end(), batches_[index].jobs.begin(),
                  batches_[index].jobs.end());
    }
  }
  WatchStart start;
  start.current = ViewsOf(jobs);
  start.after_seq = last_event_seq_;
  return start;
}

absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> Ledger::Impl::EventsAfter(
    const WatchFilter& filter, uint64_t after_seq, int max_events) const {
  std::vector<ccbatch::v1::JobEvent> events;
  absl::ReaderMutexLock lock(&mu_);
  if (absl::Status valid = CheckWatchFilter(filter); !valid.ok()) return valid;
  if (max_events <= 0 || after_seq >= last_event_seq_) return events;
  const WatchMatcher matcher(filter);
  if (!recent_events_.empty() &&
      after_seq + 1 >= recent_events_.front().seq()) {
    for (size_t i = after_seq + 1 - recent_events_.front().seq();
         i < recent_events_.size() &&
         static_cast<int>(events.size()) < max_events;
         ++i) {
      if (matcher.Matches(recent_events_[i].job_key())) {
        events.push_back(recent_events_[i]);
      }
    }
    return events;
  }
  records::StoredEvent stored;
  absl::Status parse_error;
  absl::Status scanned =
      store_->ScanFrom(Column::kEvents, "", EventKey(after_seq + 1),
                       [&](absl::string_view key, absl::string_view value) {
                         parse_error = ParseStoredMessage(
                             *store_, Column::kEvents, key, value, &stored);
                         if (!parse_error.ok()) return false;
                         if (stored.event().seq() > last_event_seq_)
                           return false;
                         if (matcher.Matches(stored.event().job_key())) {
                           events.push_back(stored.event());
                         }
                         return static_cast<int>(events.size()) < max_events;
                       });
  if (!scanned.ok()) return scanned;
  if (!parse_error.ok()) return parse_error;
  return events;
}

uint64_t Ledger::Impl::LastEventSeq() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_event_seq_;
}

}  // namespace ccbatch::ledger

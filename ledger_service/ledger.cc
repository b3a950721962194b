// Ledger's public methods forward to Ledger::Impl (ledger_impl.h); this file
// also holds what every part shares: order ids, logging, subscriptions.
#include "ledger_service/ledger.h"

#include <cstdio>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "ledger_service/ledger_impl.h"

namespace ccbatch::ledger {

namespace {
constexpr int kOrderDigits = 12;
}  // namespace

std::string FormatOrderId(uint64_t number) {
  return absl::StrFormat("o%0*d", kOrderDigits, number);
}

uint64_t ParseOrderId(absl::string_view id) {
  if (id.size() != kOrderDigits + 1 || id[0] != 'o') return 0;
  uint64_t number = 0;
  for (char c : id.substr(1)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return 0;
    number = number * 10 + static_cast<uint64_t>(c - '0');
  }
  return number;
}

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  google::protobuf::Timestamp out;
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) {
    return out;
  }
  const int64_t seconds = absl::ToUnixSeconds(time);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return out;
}

int64_t MicrosOf(absl::Time time) {
  return time == absl::InfinitePast() ? 0 : absl::ToUnixMicros(time);
}

absl::Time TimeOfMicros(int64_t micros) {
  return micros == 0 ? absl::InfinitePast() : absl::FromUnixMicros(micros);
}

std::string EntryKey(absl::string_view cluster,
                     absl::string_view slurm_job_id) {
  return ClusterKey(cluster, absl::StrCat(kClusterEntryPart, slurm_job_id));
}

uint64_t LineHash(absl::string_view state, absl::string_view reason,
                  absl::string_view nodes) {
  return absl::HashOf(state, reason, nodes) | 1;
}

std::string UnmatchedVerdictKey(absl::string_view cluster,
                                absl::string_view id) {
  return absl::StrCat(kUnmatchedVerdictPrefix, cluster, "/", id);
}

JobKeyIndex::JobKeyIndex() : jobs_(0, Hash{this}, Eq{this}) {}

absl::string_view JobKeyIndex::KeyOf(int32_t job) const {
  return computer_->facts(job).key;
}

size_t JobKeyIndex::Hash::operator()(int32_t job) const {
  return absl::Hash<absl::string_view>()(index->KeyOf(job));
}

size_t JobKeyIndex::Hash::operator()(absl::string_view key) const {
  return absl::Hash<absl::string_view>()(key);
}

bool JobKeyIndex::Eq::operator()(int32_t job, absl::string_view key) const {
  return index->KeyOf(job) == key;
}

int JobKeyIndex::Find(absl::string_view key) const {
  auto it = jobs_.find(key);
  return it == jobs_.end() ? -1 : *it;
}

void JobKeyIndex::Rebuild(const StatusComputer* computer) {
  jobs_.clear();
  computer_ = computer;
  jobs_.reserve(computer->job_count());
  for (int32_t job = 0; job < computer->job_count(); ++job) jobs_.insert(job);
}

void JobKeyIndex::Clear() { jobs_.clear(); }

Ledger::Impl::Impl(Store* store, common::Clock* clock, LedgerOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      metrics_(options_.metrics) {
  if (options_.log == nullptr) {
    own_log_ = std::make_unique<common::EventLog>(
        clock_, common::EventLog::StderrSink());
  }
  jobs_collector_ = metrics_.registry()->AddGaugeCollector(
      "ccbatch_ledger_jobs", "Jobs per published status, over all batches.",
      {"status"}, [this] { return JobsPerStatus(); });
}

std::vector<common::GaugeSample> Ledger::Impl::JobsPerStatus() const {
  StatusCounts totals{};
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const BatchState& batch : batches_) {
      for (int status = 0; status < kStatusSlots; ++status) {
        totals[status] += batch.counts[status];
      }
    }
  }
  std::vector<common::GaugeSample> samples;
  samples.reserve(kStatusSlots - 1);
  for (int status = 1; status < kStatusSlots; ++status) {
    absl::string_view name = ccbatch::v1::JobStatus_Name(
        static_cast<ccbatch::v1::JobStatus>(status));
    absl::ConsumePrefix(&name, "JOB_STATUS_");
    samples.push_back(
        {{std::string(name)}, static_cast<double>(totals[status])});
  }
  return samples;
}

void Ledger::Impl::Log(common::LogLevel level, absl::string_view event,
                       std::initializer_list<common::LogField> fields) const {
  const common::EventLog* log =
      options_.log != nullptr ? options_.log : own_log_.get();
  log->Log(level, event, fields);
}

uint64_t Ledger::Impl::Subscribe(std::function<void()> on_change) {
  absl::MutexLock lock(&subscribers_mu_);
  const uint64_t id = next_subscription_++;
  subscribers_[id] =
      std::make_shared<std::function<void()>>(std::move(on_change));
  return id;
}

void Ledger::Impl::Unsubscribe(uint64_t subscription) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.erase(subscription);
}

void Ledger::Impl::Notify() {
  std::vector<std::shared_ptr<std::function<void()>>> callbacks;
  {
    absl::MutexLock lock(&subscribers_mu_);
    callbacks.reserve(subscribers_.size());
    for (const auto& [id, callback] : subscribers_)
      callbacks.push_back(callback);
  }
  for (const auto& callback : callbacks) (*callback)();
}

// ---- Ledger ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(Store* store,
                                                     common::Clock* clock,
                                                     LedgerOptions options) {
  auto impl = std::make_unique<Impl>(store, clock, std::move(options));
  absl::Status opened = impl->Open();
  if (!opened.ok()) return opened;
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

absl::StatusOr<ccbatch::v1::ImportBatchResponse> Ledger::ImportBatch(
    const ccbatch::v1::ImportBatchRequest& request) {
  return impl_->ImportBatch(request);
}
absl::StatusOr<ccbatch::v1::BatchInfo> Ledger::SetPaused(
    absl::string_view batch, bool paused) {
  return impl_->SetPaused(batch, paused);
}
absl::StatusOr<ccbatch::v1::ListJobsResponse> Ledger::ListJobs(
    const ccbatch::v1::ListJobsRequest& request) const {
  return impl_->ListJobs(request);
}
absl::StatusOr<ccbatch::v1::GetJobResponse> Ledger::GetJob(
    const ccbatch::v1::GetJobRequest& request) const {
  return impl_->GetJob(request);
}
absl::StatusOr<ccbatch::v1::SummaryResponse> Ledger::Summary(
    const ccbatch::v1::SummaryRequest& request) const {
  return impl_->Summary(request);
}
absl::StatusOr<ccbatch::v1::RetryResponse> Ledger::Retry(
    const ccbatch::v1::RetryRequest& request, absl::string_view requested_by) {
  return impl_->Retry(request, requested_by);
}
absl::StatusOr<ccbatch::v1::CancelResponse> Ledger::Cancel(
    const ccbatch::v1::CancelRequest& request) {
  return impl_->Cancel(request);
}
ccbatch::v1::ListClustersResponse Ledger::ListClusters() const {
  return impl_->ListClusters();
}
absl::StatusOr<ccbatch::v1::ExportLedgerResponse> Ledger::ExportLedger(
    const ccbatch::v1::ExportLedgerRequest& request) const {
  return impl_->ExportLedger(request);
}
absl::StatusOr<WatchStart> Ledger::StartWatch(const WatchFilter& filter) const {
  return impl_->StartWatch(filter);
}
absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> Ledger::EventsAfter(
    const WatchFilter& filter, uint64_t after_seq, int max_events) const {
  return impl_->EventsAfter(filter, after_seq, max_events);
}
uint64_t Ledger::LastEventSeq() const { return impl_->LastEventSeq(); }

absl::StatusOr<ccbatch::v1::HelloAck> Ledger::AgentConnected(
    const ccbatch::v1::Hello& hello, uint64_t stream_id) {
  return impl_->AgentConnected(hello, stream_id);
}
void Ledger::AgentDisconnected(absl::string_view cluster, uint64_t stream_id) {
  impl_->AgentDisconnected(cluster, stream_id);
}
absl::Status Ledger::ApplySnapshot(absl::string_view cluster,
                                   const AssembledSnapshot& snapshot) {
  return impl_->ApplySnapshot(cluster, snapshot);
}
absl::Status Ledger::ApplyProbeFailure(
    absl::string_view cluster, const ccbatch::v1::ProbeFailure& failure) {
  return impl_->ApplyProbeFailure(cluster, failure);
}
absl::Status Ledger::ApplyCheckOutputResult(
    absl::string_view cluster, const ccbatch::v1::CheckOutputResult& result) {
  return impl_->ApplyCheckOutputResult(cluster, result);
}
absl::Status Ledger::ApplySubmitResult(
    absl::string_view cluster, const ccbatch::v1::SubmitResult& result) {
  return impl_->ApplySubmitResult(cluster, result);
}
absl::Status Ledger::ApplyCancelResult(
    absl::string_view cluster, const ccbatch::v1::CancelResult& result) {
  return impl_->ApplyCancelResult(cluster, result);
}
std::vector<ccbatch::v1::LedgerDirective> Ledger::TakeDirectives(
    absl::string_view cluster, uint64_t stream_id) {
  return impl_->TakeDirectives(cluster, stream_id);
}
void Ledger::Tick() { impl_->Tick(); }
uint64_t Ledger::Subscribe(std::function<void()> on_change) {
  return impl_->Subscribe(std::move(on_change));
}
void Ledger::Unsubscribe(uint64_t subscription) {
  impl_->Unsubscribe(subscription);
}

}  // namespace ccbatch::ledger

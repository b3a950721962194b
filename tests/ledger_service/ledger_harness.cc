#include "tests/ledger_service/ledger_harness.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger::testing {

ccbatch::v1::BatchDefinition MakeBatch(const std::string& name,
                                       const std::vector<JobSpec>& jobs,
                                       const std::string& cluster,
                                       int max_parallel) {
  ccbatch::v1::BatchDefinition batch;
  batch.set_name(name);
  batch.set_run_root_directory(absl::StrCat("/scratch/", name));
  batch.set_cluster(cluster);
  batch.set_max_parallel(max_parallel);
  batch.set_source_file("test.csv");
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobSpec& spec = jobs[i];
    ccbatch::v1::JobDefinition& job = *batch.add_jobs();
    job.set_key(absl::StrCat(name, "/", spec.basename));
    job.set_basename(spec.basename);
    job.set_relative_directory(spec.basename);
    job.set_directory(
        absl::StrCat(batch.run_root_directory(), "/", spec.basename));
    job.set_program(ccbatch::v1::PROGRAM_XTB);
    job.set_order(static_cast<int32_t>(i));
    job.set_source_line(static_cast<int32_t>(i) + 2);
    std::vector<std::string> keys;
    for (const std::string& up : spec.upstream) {
      keys.push_back(absl::StrCat(name, "/", up));
    }
    if (!spec.upstream.empty()) {
      ccbatch::v1::PipeSource& coords = *job.mutable_coords();
      coords.set_directory(absl::StrCat("../", spec.upstream[0]));
      coords.set_filename(absl::StrCat(spec.upstream[0], ".xyz"));
      coords.set_resolved_directory(
          absl::StrCat(batch.run_root_directory(), "/", spec.upstream[0]));
      coords.set_upstream_key(keys[0]);
    }
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) job.add_upstream_keys(key);
  }
  return batch;
}

ccbatch::v1::QueueEntry Entry(const std::string& slurm_job_id,
                              const std::string& state,
                              const std::string& nodes) {
  ccbatch::v1::QueueEntry entry;
  entry.set_slurm_job_id(slurm_job_id);
  entry.set_state(state);
  entry.set_reason(state == "PENDING" ? "Priority" : "None");
  entry.set_nodes(nodes);
  entry.set_name("job");
  return entry;
}

std::vector<ccbatch::v1::SubmitOrder> Submits(
    const std::vector<ccbatch::v1::LedgerDirective>& directives) {
  std::vector<ccbatch::v1::SubmitOrder> out;
  for (const auto& d : directives) {
    if (d.has_submit()) out.push_back(d.submit());
  }
  return out;
}

std::vector<ccbatch::v1::CheckOutput> Checks(
    const std::vector<ccbatch::v1::LedgerDirective>& directives) {
  std::vector<ccbatch::v1::CheckOutput> out;
  for (const auto& d : directives) {
    if (d.has_check_output()) out.push_back(d.check_output());
  }
  return out;
}

std::vector<ccbatch::v1::CancelOrder> Cancels(
    const std::vector<ccbatch::v1::LedgerDirective>& directives) {
  std::vector<ccbatch::v1::CancelOrder> out;
  for (const auto& d : directives) {
    if (d.has_cancel()) out.push_back(d.cancel());
  }
  return out;
}

LedgerHarness::LedgerHarness(LedgerOptions options)
    : options_(std::move(options)), contents_(MemoryStore::NewContents()) {
  if (options_.log == nullptr) options_.log = &quiet_log_;
  absl::Status opened = Reopen();
  if (!opened.ok()) ADD_FAILURE() << "opening the ledger: " << opened;
}

LedgerHarness::~LedgerHarness() {
  ledger_.reset();
  store_.reset();
}

absl::Status LedgerHarness::Reopen() {
  ledger_.reset();
  store_.reset();
  streams_.clear();
  absl::StatusOr<std::unique_ptr<MemoryStore>> store =
      MemoryStore::Open(contents_);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  absl::StatusOr<std::unique_ptr<Ledger>> ledger =
      Ledger::Open(store_.get(), &clock_, options_);
  if (!ledger.ok()) return ledger.status();
  ledger_ = std::move(*ledger);
  return absl::OkStatus();
}

absl::StatusOr<ccbatch::v1::ImportBatchResponse> LedgerHarness::Import(
    const ccbatch::v1::BatchDefinition& batch, bool paused) {
  ccbatch::v1::ImportBatchRequest request;
  *request.mutable_batch() = batch;
  request.set_paused(paused);
  return ledger_->ImportBatch(request);
}

uint64_t LedgerHarness::Connect(const std::string& cluster) {
  const uint64_t stream = next_stream_++;
  ccbatch::v1::Hello hello;
  hello.set_cluster(cluster);
  hello.set_user("chem");
  hello.set_agent_version("test");
  absl::StatusOr<ccbatch::v1::HelloAck> ack =
      ledger_->AgentConnected(hello, stream);
  EXPECT_TRUE(ack.ok()) << ack.status();
  streams_.erase(
      std::remove_if(streams_.begin(), streams_.end(),
                     [&](const auto& s) { return s.first == cluster; }),
      streams_.end());
  streams_.emplace_back(cluster, stream);
  return stream;
}

std::vector<ccbatch::v1::LedgerDirective> LedgerHarness::Take(
    const std::string& cluster) {
  for (const auto& [name, stream] : streams_) {
    if (name == cluster) return ledger_->TakeDirectives(cluster, stream);
  }
  ADD_FAILURE() << "no stream for cluster " << cluster;
  return {};
}

void LedgerHarness::AnswerAdoptionsWithNothing(
    const std::vector<ccbatch::v1::LedgerDirective>& directives,
    const std::string& cluster) {
  for (const ccbatch::v1::CheckOutput& check : Checks(directives)) {
    if (check.attempt() != 0) continue;
    ccbatch::v1::CheckOutputResult result;
    result.set_order_id(check.order_id());
    result.mutable_verdict()->set_job_key(check.job_key());
    absl::Status applied = ledger_->ApplyCheckOutputResult(cluster, result);
    EXPECT_TRUE(applied.ok()) << applied;
  }
}

absl::Status LedgerHarness::SubmitOk(const std::string& order_id,
                                     const std::string& slurm_job_id,
                                     const std::string& cluster) {
  ccbatch::v1::SubmitResult result;
  result.set_order_id(order_id);
  result.set_slurm_job_id(slurm_job_id);
  result.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
  return ledger_->ApplySubmitResult(cluster, result);
}

absl::Status LedgerHarness::SubmitFailed(const std::string& order_id,
                                         const std::string& error,
                                         const std::string& cluster) {
  ccbatch::v1::SubmitResult result;
  result.set_order_id(order_id);
  result.set_error(error);
  return ledger_->ApplySubmitResult(cluster, result);
}

absl::Status LedgerHarness::Verdict(const ccbatch::v1::CheckOutput& check,
                                    ccbatch::v1::Verdict::Outcome outcome,
                                    const std::string& cause,
                                    const std::string& cluster) {
  ccbatch::v1::CheckOutputResult result;
  result.set_order_id(check.order_id());
  ccbatch::v1::Verdict& verdict = *result.mutable_verdict();
  verdict.set_job_key(check.job_key());
  verdict.set_slurm_job_id(check.slurm_job_id());
  verdict.set_attempt(check.attempt());
  verdict.set_outcome(outcome);
  verdict.set_cause(cause);
  verdict.set_summary(cause.empty() ? "judged by the test" : "");
  return ledger_->ApplyCheckOutputResult(cluster, result);
}

absl::Status LedgerHarness::Snapshot(
    const std::vector<ccbatch::v1::QueueEntry>& entries,
    const std::string& cluster) {
  AssembledSnapshot snapshot;
  snapshot.seq = next_snapshot_seq_++;
  snapshot.taken_at = clock_.Now();
  snapshot.entries = entries;
  return ledger_->ApplySnapshot(cluster, snapshot);
}

ccbatch::v1::JobView LedgerHarness::View(const std::string& key) {
  ccbatch::v1::GetJobRequest request;
  request.set_key(key);
  absl::StatusOr<ccbatch::v1::GetJobResponse> response =
      ledger_->GetJob(request);
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? response->view() : ccbatch::v1::JobView();
}

ccbatch::v1::JobStatus LedgerHarness::StatusOf(const std::string& key) {
  return View(key).status();
}

std::vector<std::pair<std::string, ccbatch::v1::JobStatus>>
LedgerHarness::AllStatuses() {
  std::vector<std::pair<std::string, ccbatch::v1::JobStatus>> out;
  ccbatch::v1::ListJobsRequest request;
  request.set_page_size(1000);
  for (;;) {
    absl::StatusOr<ccbatch::v1::ListJobsResponse> page =
        ledger_->ListJobs(request);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    for (const auto& job : page->jobs())
      out.emplace_back(job.key(), job.status());
    if (page->next_page_token().empty()) return out;
    request.set_page_token(page->next_page_token());
  }
}

}  // namespace ccbatch::ledger::testing

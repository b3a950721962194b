#include "cli/commands.h"

#include <algorithm>
#include <deque>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/batchfile_reader.h"
#include "cli/exit_code.h"
#include "cli/explanation.h"
#include "cli/import_rendering.h"
#include "cli/job_rendering.h"
#include "cli/status_names.h"
#include "cli/summary_rendering.h"
#include "cli/watch_tally.h"
#include "common/batch_validator.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;

// ListJobs' largest page.
constexpr int32_t kMaxPageSize = 1000;
// `explain` stops following upstream jobs after this many GetJob calls.
constexpr int kMaxExplainFetches = 40;
// A terminal watch refreshes the clusters' health at most this often.
constexpr absl::Duration kClusterRefresh = absl::Seconds(5);
constexpr char kClearScreen[] = "\x1b[H\x1b[2J";

// Applies --retry-on / --max-attempts over what the batchfile said.
absl::Status ApplyRetryFlags(const ImportFlags& flags,
                             v1::BatchDefinition& batch) {
  v1::RetryPolicy& policy = *batch.mutable_retry_policy();
  if (!flags.retry_on.empty()) {
    policy.clear_retry_on();
    for (absl::string_view cause :
         absl::StrSplit(flags.retry_on, ',', absl::SkipWhitespace())) {
      cause = absl::StripAsciiWhitespace(cause);
      absl::Status valid = common::CheckRetryCause(cause);
      if (!valid.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--retry-on: ", valid.message()));
      }
      policy.add_retry_on(std::string(cause));
    }
    if (policy.retry_on().empty()) {
      return absl::InvalidArgumentError(
          "--retry-on: give causes, e.g. --retry-on NODE_FAIL,PREEMPTED");
    }
    // As for `retry_on=` in a batchfile: 3 attempts unless told otherwise.
    if (policy.max_attempts() < 2) policy.set_max_attempts(3);
  }
  if (flags.max_attempts.has_value()) {
    if (*flags.max_attempts < 1 || *flags.max_attempts > common::kMaxAttempts) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--max-attempts ", *flags.max_attempts, ": must be 1 to ",
          common::kMaxAttempts, " (the first attempt included)"));
    }
    if (policy.retry_on().empty()) {
      return absl::InvalidArgumentError(
          "--max-attempts needs causes to retry on: add --retry-on "
          "NODE_FAIL,PREEMPTED (or retry_on= in the batchfile)");
    }
    policy.set_max_attempts(*flags.max_attempts);
  }
  return absl::OkStatus();
}

void Write(const CommandEnv& env, absl::string_view text) {
  *env.out << text;
  env.out->flush();
}

std::string CompactJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    json = "{}";
  }
  return json;
}

absl::Status WatchStatus(const StatusFlags& flags, LedgerClient& ledger,
                         const CommandEnv& env) {
  if (flags.format == OutputFormat::kCsv) {
    return absl::InvalidArgumentError(
        "--watch prints a live table or JSON lines; use -o table or -o json");
  }
  v1::SummaryRequest summary_request;
  summary_request.set_batch(flags.batch);
  CCB_ASSIGN_OR_RETURN(v1::SummaryResponse initial,
                       ledger.Summary(summary_request));
  WatchTally tally(std::move(initial));
  absl::Time clusters_fetched = env.clock->Now();
  bool changes_printed = false;
  absl::Status side_error;

  auto redraw = [&]() -> bool {
    if (env.clock->Now() - clusters_fetched >= kClusterRefresh) {
      auto clusters = ledger.ListClusters(v1::ListClustersRequest());
      if (!clusters.ok()) {
        side_error = clusters.status();
        return false;
      }
      tally.SetClusters(*clusters);
      clusters_fetched = env.clock->Now();
    }
    Write(env,
          absl::StrCat(kClearScreen, RenderWatchFrame(tally, env.Render())));
    return true;
  };

  v1::WatchRequest request;
  request.set_batch(flags.batch);
  CCB_ASSIGN_OR_RETURN(
      WatchEnd end,
      ledger.Watch(
          request, env.canceller, [&](const v1::WatchResponse& response) {
            tally.Apply(response);
            if (flags.format == OutputFormat::kJson) {
              Write(env, absl::StrCat(CompactJson(response), "\n"));
              return !tally.AllFinal();
            }
            const bool done_now = response.has_initial_state_done();
            const bool change =
                response.has_change() && tally.initial_state_done();
            if (!done_now && !change) return true;
            if (env.out_is_tty) {
              if (!redraw()) return false;
            } else if (done_now) {
              Write(env, RenderSummary(tally.Summary(), OutputFormat::kTable,
                                       env.Render()));
            } else {
              Write(env, RenderChangeLine(response.change(), env.Render()));
              changes_printed = true;
            }
            return !tally.AllFinal();
          }));
  CCB_RETURN_IF_ERROR(side_error);
  switch (end) {
    case WatchEnd::kStoppedByCaller:
      if (flags.format == OutputFormat::kJson) return absl::OkStatus();
      if (!env.out_is_tty && changes_printed) {
        // The clusters' health as it is now, not as the watch began.
        auto clusters = ledger.ListClusters(v1::ListClustersRequest());
        if (clusters.ok()) tally.SetClusters(*clusters);
        Write(env, absl::StrCat("\n", RenderSummary(tally.Summary(),
                                                    OutputFormat::kTable,
                                                    env.Render())));
      }
      Write(env, "Every job is final.\n");
      return absl::OkStatus();
    case WatchEnd::kInterrupted:
      *env.err << "Stopped watching.\n";
      return absl::OkStatus();
    case WatchEnd::kClosedByLedger:
      break;
  }
  return MarkFromLedger(absl::UnavailableError(absl::StrCat(
      "the ledger at ", ledger.settings().address,
      " closed the watch stream before every job was final (is it shutting "
      "down?). Run the command again to continue watching.")));
}

// GetJob for `key` and, breadth first, for the upstream jobs that hold it
// back; then the cluster and batch facts the statuses call for.
absl::StatusOr<ExplainInputs> GatherExplainInputs(const std::string& key,
                                                  LedgerClient& ledger) {
  ExplainInputs inputs;
  std::deque<std::string> queue = {key};
  std::set<std::string> seen = {key};
  int fetches = 0;
  bool need_clusters = false;
  std::set<std::string> ready_batches;
  while (!queue.empty() && fetches < kMaxExplainFetches) {
    const std::string next = queue.front();
    queue.pop_front();
    v1::GetJobRequest request;
    request.set_key(next);
    ++fetches;
    absl::StatusOr<v1::GetJobResponse> job = ledger.GetJob(request);
    if (!job.ok()) {
      // The job asked about must exist; an upstream job that vanished is
      // described from its dependant's view instead.
      if (next == key || job.status().code() != absl::StatusCode::kNotFound) {
        return job.status();
      }
      continue;
    }
    const v1::JobStatus status = job->view().status();
    need_clusters = need_clusters || NeedsClusterFacts(status);
    if (status == v1::JOB_STATUS_READY)
      ready_batches.insert(job->view().batch());
    for (const std::string& upstream : JobsToFollow(*job)) {
      if (seen.insert(upstream).second) queue.push_back(upstream);
    }
    inputs.jobs[next] = *std::move(job);
  }
  if (need_clusters) {
    CCB_ASSIGN_OR_RETURN(v1::ListClustersResponse clusters,
                         ledger.ListClusters(v1::ListClustersRequest()));
    for (const v1::ClusterInfo& cluster : clusters.clusters()) {
      inputs.clusters[cluster.name()] = cluster;
    }
  }
  for (const std::string& batch : ready_batches) {
    v1::SummaryRequest request;
    request.set_batch(batch);
    CCB_ASSIGN_OR_RETURN(v1::SummaryResponse summary, ledger.Summary(request));
    for (const v1::BatchSummary& one : summary.batches()) {
      inputs.batches[one.batch().name()] = one;
    }
  }
  return inputs;
}

absl::Status CheckKeys(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    if (key.find('/') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", key,
          "\" is not a job key; keys are BATCH/BASENAME as `ccctl jobs` "
          "shows them"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

RenderOptions CommandEnv::Render() const {
  RenderOptions options;
  options.now = clock->Now();
  options.time_zone = time_zone;
  options.color = color;
  return options;
}

absl::StatusOr<v1::ImportBatchRequest> PrepareImport(const ImportFlags& flags,
                                                     const CommandEnv& env) {
  absl::StatusOr<std::string> contents = env.fs->ReadFile(flags.file);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the batchfile: ", contents.status().message(),
                     " (give the batchfile's path)"));
  }
  BatchfileOptions options;
  options.batch_name = flags.batch;
  options.cluster = flags.cluster;
  options.max_parallel = flags.max_parallel;
  absl::StatusOr<v1::BatchDefinition> batch =
      ReadBatchfile(flags.file, *contents, options);
  if (!batch.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(batch.status().message(),
                     "\nNothing was imported: fix the lines above and run "
                     "`ccctl import` again."));
  }
  CCB_RETURN_IF_ERROR(ApplyRetryFlags(flags, *batch));
  CCB_RETURN_IF_ERROR(common::ValidateBatch(*batch));
  v1::ImportBatchRequest request;
  *request.mutable_batch() = *std::move(batch);
  request.set_paused(flags.paused);
  return request;
}

absl::Status RunImportDryRun(const v1::ImportBatchRequest& request,
                             OutputFormat format, const CommandEnv& env) {
  Write(env, RenderImport(request, nullptr, format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunImport(const v1::ImportBatchRequest& request,
                       OutputFormat format, LedgerClient& ledger,
                       const CommandEnv& env) {
  CCB_ASSIGN_OR_RETURN(v1::ImportBatchResponse response,
                       ledger.ImportBatch(request));
  Write(env, RenderImport(request, &response, format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunPause(const std::string& batch, bool pause, OutputFormat format,
                      LedgerClient& ledger, const CommandEnv& env) {
  absl::StatusOr<v1::BatchInfo> info;
  if (pause) {
    v1::PauseBatchRequest request;
    request.set_batch(batch);
    info = ledger.PauseBatch(request);
  } else {
    v1::ResumeBatchRequest request;
    request.set_batch(batch);
    info = ledger.ResumeBatch(request);
  }
  CCB_RETURN_IF_ERROR(info.status());
  Write(env, RenderPauseChange(*info, pause, format));
  return absl::OkStatus();
}

absl::Status RunStatus(const StatusFlags& flags, LedgerClient& ledger,
                       const CommandEnv& env) {
  if (flags.watch) return WatchStatus(flags, ledger, env);
  v1::SummaryRequest request;
  request.set_batch(flags.batch);
  CCB_ASSIGN_OR_RETURN(v1::SummaryResponse response, ledger.Summary(request));
  Write(env, RenderSummary(response, flags.format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunJobs(const JobsFlags& flags, LedgerClient& ledger,
                     const CommandEnv& env) {
  if (flags.limit < 0) {
    return absl::InvalidArgumentError("--limit must be 0 (all) or more");
  }
  v1::ListJobsRequest request;
  request.set_batch(flags.batch);
  request.set_cluster(flags.cluster);
  request.set_name_prefix(flags.name_prefix);
  if (!flags.statuses.empty()) {
    CCB_ASSIGN_OR_RETURN(std::vector<v1::JobStatus> statuses,
                         ParseStatusList(flags.statuses));
    for (v1::JobStatus status : statuses) request.add_statuses(status);
  }
  // All pages, merged into one response (what -o json prints).
  v1::ListJobsResponse all;
  std::set<std::string> tokens_seen;
  while (true) {
    int32_t page = kMaxPageSize;
    if (flags.limit > 0) page = std::min(page, flags.limit - all.jobs_size());
    request.set_page_size(page);
    CCB_ASSIGN_OR_RETURN(v1::ListJobsResponse response,
                         ledger.ListJobs(request));
    all.set_total_size(response.total_size());
    for (auto& job : *response.mutable_jobs()) {
      if (flags.limit > 0 && all.jobs_size() >= flags.limit) break;
      *all.add_jobs() = std::move(job);
    }
    const std::string& token = response.next_page_token();
    if (token.empty() || (flags.limit > 0 && all.jobs_size() >= flags.limit)) {
      break;
    }
    if (!tokens_seen.insert(token).second) {
      return MarkFromLedger(absl::InternalError(
          "the ledger repeated a page token of ListJobs; its paging is "
          "broken. See the ledger's log."));
    }
    request.set_page_token(token);
  }
  Write(env, RenderJobList(all, flags.format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunShow(const std::string& key, OutputFormat format,
                     LedgerClient& ledger, const CommandEnv& env) {
  CCB_RETURN_IF_ERROR(CheckKeys({key}));
  v1::GetJobRequest request;
  request.set_key(key);
  CCB_ASSIGN_OR_RETURN(v1::GetJobResponse response, ledger.GetJob(request));
  Write(env, RenderJobDetail(response, format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunExplain(const std::string& key, OutputFormat format,
                        LedgerClient& ledger, const CommandEnv& env) {
  CCB_RETURN_IF_ERROR(CheckKeys({key}));
  CCB_ASSIGN_OR_RETURN(ExplainInputs inputs, GatherExplainInputs(key, ledger));
  const RenderOptions options = env.Render();
  Write(env,
        RenderExplanation(key, Explain(key, inputs, options), format, options));
  return absl::OkStatus();
}

absl::Status RunRetry(const RetryFlags& flags, LedgerClient& ledger,
                      const CommandEnv& env) {
  if (flags.failed == !flags.keys.empty()) {
    return absl::InvalidArgumentError(
        "give job keys to retry, or --failed [BATCH] for every failed job");
  }
  v1::RetryResponse all;
  if (!flags.failed) {
    CCB_RETURN_IF_ERROR(CheckKeys(flags.keys));
    v1::RetryRequest request;
    for (const std::string& key : flags.keys) request.add_job_keys(key);
    CCB_ASSIGN_OR_RETURN(all, ledger.Retry(request));
  } else {
    // The API retries the failed jobs of one batch; "every batch" asks
    // each batch that has failed jobs.
    std::vector<std::string> batches;
    if (!flags.batch.empty()) {
      batches.push_back(flags.batch);
    } else {
      CCB_ASSIGN_OR_RETURN(v1::SummaryResponse summary,
                           ledger.Summary(v1::SummaryRequest()));
      for (const v1::BatchSummary& batch : summary.batches()) {
        for (const v1::StatusCount& count : batch.counts()) {
          if (count.status() == v1::JOB_STATUS_FAILED && count.count() > 0) {
            batches.push_back(batch.batch().name());
          }
        }
      }
    }
    for (const std::string& batch : batches) {
      v1::RetryRequest request;
      request.set_failed_in_batch(batch);
      CCB_ASSIGN_OR_RETURN(v1::RetryResponse response, ledger.Retry(request));
      all.mutable_changed()->MergeFrom(response.changed());
    }
  }
  Write(env, RenderChangedJobs(all, all.changed(), "Retry changed",
                               "Nothing to retry: only failed, cancelled and "
                               "broken_dependency jobs get a new attempt.",
                               flags.format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunCancel(const CancelFlags& flags, LedgerClient& ledger,
                       const CommandEnv& env) {
  if (flags.batch.empty() == flags.keys.empty()) {
    return absl::InvalidArgumentError(
        "give job keys to cancel, or --batch BATCH for every unfinished job "
        "of a batch (not both)");
  }
  CCB_RETURN_IF_ERROR(CheckKeys(flags.keys));
  v1::CancelRequest request;
  for (const std::string& key : flags.keys) request.add_job_keys(key);
  request.set_batch(flags.batch);
  CCB_ASSIGN_OR_RETURN(v1::CancelResponse response, ledger.Cancel(request));
  Write(env, RenderChangedJobs(response, response.changed(), "Cancel changed",
                               "Nothing to cancel: every job named is "
                               "already final.",
                               flags.format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunClusters(OutputFormat format, LedgerClient& ledger,
                         const CommandEnv& env) {
  CCB_ASSIGN_OR_RETURN(v1::ListClustersResponse response,
                       ledger.ListClusters(v1::ListClustersRequest()));
  Write(env, RenderClusters(response, format, env.Render()));
  return absl::OkStatus();
}

absl::Status RunExport(const ExportFlags& flags, LedgerClient& ledger,
                       const CommandEnv& env) {
  v1::ExportLedgerRequest request;
  request.set_batch(flags.batch);
  CCB_ASSIGN_OR_RETURN(v1::ExportLedgerResponse response,
                       ledger.ExportLedger(request));
  if (flags.out_file.empty()) {
    Write(env, response.csv());
    return absl::OkStatus();
  }
  absl::Status written = env.fs->WriteFile(flags.out_file, response.csv());
  if (!written.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot write --out: ", written.message(), " (choose another file)"));
  }
  const int64_t lines =
      std::count(response.csv().begin(), response.csv().end(), '\n');
  Write(env, absl::StrCat("Wrote ", std::max<int64_t>(lines - 1, 0),
                          " jobs to ", flags.out_file, "\n"));
  return absl::OkStatus();
}

}  // namespace ccbatch::cli

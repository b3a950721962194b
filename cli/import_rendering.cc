#include "cli/import_rendering.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/batchfile_reader.h"
#include "cli/json_output.h"
#include "cli/text_table.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;

std::string Settings(const std::string& cluster, int max_parallel,
                     const v1::RetryPolicy& retry, bool paused,
                     const std::string& batch) {
  std::vector<std::string> parts;
  parts.push_back(cluster.empty() ? std::string("cluster chosen by the ledger")
                                  : absl::StrCat("cluster ", cluster));
  parts.push_back(max_parallel > 0 ? absl::StrCat("max parallel ", max_parallel)
                                   : std::string("no parallel limit"));
  if (!retry.retry_on().empty() && retry.max_attempts() > 1) {
    parts.push_back(absl::StrCat("retry on ",
                                 absl::StrJoin(retry.retry_on(), ","),
                                 " up to ", retry.max_attempts(), " attempts"));
  } else {
    parts.push_back("no automatic retry");
  }
  if (paused) {
    parts.push_back(
        absl::StrCat("paused: nothing is submitted until `ccctl "
                     "resume ",
                     batch, "`"));
  }
  return absl::StrJoin(parts, ", ");
}

std::string UpstreamText(const v1::JobDefinition& job) {
  if (job.upstream_keys().empty()) return "-";
  std::vector<std::string> parts;
  for (const std::string& key : job.upstream_keys()) {
    std::vector<std::string> what;
    if (job.coords().upstream_key() == key) what.push_back("coords");
    if (job.orbitals().upstream_key() == key) what.push_back("orbitals");
    parts.push_back(
        what.empty() ? key
                     : absl::StrCat(key, " (", absl::StrJoin(what, ", "), ")"));
  }
  return absl::StrJoin(parts, "; ");
}

std::string JobsText(const v1::BatchDefinition& batch, bool color) {
  TextTable table({"KEY", "PROGRAM", "DIRECTORY", "UPSTREAM"});
  for (const v1::JobDefinition& job : batch.jobs()) {
    table.AddRow({job.key(), std::string(ProgramName(job.program())),
                  job.directory(), UpstreamText(job)});
  }
  return table.RenderText(color);
}

std::string CountJobs(int n) {
  return absl::StrCat(n, n == 1 ? " job" : " jobs");
}

}  // namespace

std::string RenderImport(const v1::ImportBatchRequest& request,
                         const v1::ImportBatchResponse* response,
                         OutputFormat format, const RenderOptions& options) {
  const v1::BatchDefinition& batch = request.batch();
  if (format == OutputFormat::kJson) {
    return response != nullptr ? ToJson(*response) : ToJson(request);
  }
  std::string out;
  if (response == nullptr) {
    absl::StrAppend(
        &out, "Read batch ", batch.name(), " from ", batch.source_file(), ": ",
        CountJobs(batch.jobs_size()),
        " (dry run: nothing was sent to the ledger).\n  ",
        Settings(batch.cluster(), batch.max_parallel(), batch.retry_policy(),
                 request.paused(), batch.name()),
        "\n");
  } else {
    const v1::BatchInfo& info = response->batch();
    absl::StrAppend(&out, "Imported batch ", info.name(), " from ",
                    batch.source_file(), ": ", response->jobs_added(),
                    " added, ", response->jobs_updated(), " updated, ",
                    response->jobs_unchanged(), " unchanged (",
                    CountJobs(info.job_count()), " in the batch).\n  ",
                    Settings(info.cluster(), info.max_parallel(),
                             info.retry_policy(), info.paused(), info.name()),
                    "\n");
    if (!response->jobs_kept().empty()) {
      absl::StrAppend(&out,
                      "  kept as they were (already submitted; their "
                      "new definition applies on retry): ",
                      absl::StrJoin(response->jobs_kept(), ", "), "\n");
    }
  }
  absl::StrAppend(&out, JobsText(batch, options.color));
  return out;
}

std::string RenderPauseChange(const v1::BatchInfo& batch, bool paused,
                              OutputFormat format) {
  if (format == OutputFormat::kJson) return ToJson(batch);
  if (paused) {
    return absl::StrCat("Paused batch ", batch.name(), " (",
                        CountJobs(batch.job_count()),
                        "): nothing new is submitted; jobs already in the "
                        "queue keep running. Resume with: ccctl resume ",
                        batch.name(), "\n");
  }
  return absl::StrCat("Resumed batch ", batch.name(), " (",
                      CountJobs(batch.job_count()),
                      "): ready jobs are submitted again.\n");
}

}  // namespace ccbatch::cli

// Renders the ledger's job messages (ListJobs, GetJob, Retry, Cancel) as
// ccctl prints them. Pure functions of the message and RenderOptions: no
// I/O, no clock, thread-safe. JSON output is the message itself
// (json_output.h).
#ifndef CCBATCH_CLI_JOB_RENDERING_H_
#define CCBATCH_CLI_JOB_RENDERING_H_

#include <string>

#include "absl/strings/string_view.h"
#include "ccbatch/v1/ledger.pb.h"
#include "cli/output_format.h"
#include "cli/text_table.h"
#include "google/protobuf/repeated_field.h"

namespace ccbatch::cli {

using JobViews = google::protobuf::RepeatedPtrField<ccbatch::v1::JobView>;

// KEY STATUS CLUSTER SLURM_ID AGE REASON: one row per job, AGE being the
// time in the current status.
TextTable JobTable(const JobViews& jobs, const RenderOptions& options);

// CSV columns: key, batch, status, cluster, slurm_job_id, attempt,
// status_since (RFC 3339), age_seconds, reason.
TextTable JobCsvTable(const JobViews& jobs, const RenderOptions& options);

// `ccctl jobs`: the table and a "N jobs" line (or "N of M jobs" when the
// listing was cut by --limit); CSV rows; or the response as JSON.
std::string RenderJobList(const ccbatch::v1::ListJobsResponse& response,
                          OutputFormat format, const RenderOptions& options);

// `ccctl show`: definition, status and reason, attempts, verdict with
// evidence and extracted fields, upstream jobs, recent events. CSV is the
// job's row as in `ccctl jobs -o csv`.
std::string RenderJobDetail(const ccbatch::v1::GetJobResponse& response,
                            OutputFormat format, const RenderOptions& options);

// A verdict on its own (`ccctl check-output`): outcome and cause, summary,
// output file, evidence lines, extracted fields, warnings. JSON is the
// Verdict; CSV has one row per evidence line (outcome and cause repeated).
std::string RenderVerdict(const ccbatch::v1::Verdict& verdict,
                          OutputFormat format, const RenderOptions& options);

// `ccctl retry` / `ccctl cancel`: "<verb> N jobs:" and the changed jobs'
// table, or `nothing_changed` when the list is empty. JSON is `response`.
std::string RenderChangedJobs(const google::protobuf::Message& response,
                              const JobViews& changed, absl::string_view verb,
                              absl::string_view nothing_changed,
                              OutputFormat format,
                              const RenderOptions& options);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_JOB_RENDERING_H_

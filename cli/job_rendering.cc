#include "cli/job_rendering.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/batchfile_reader.h"
#include "cli/json_output.h"
#include "cli/status_names.h"
#include "cli/time_format.h"

namespace ccbatch::cli {
namespace {

using ::ccbatch::v1::Attempt;
using ::ccbatch::v1::GetJobResponse;
using ::ccbatch::v1::JobView;
using ::ccbatch::v1::PipeSource;
using ::ccbatch::v1::Verdict;

using KeyValues = std::vector<std::pair<std::string, Cell>>;

std::string OrDash(absl::string_view text) {
  return text.empty() ? "-" : std::string(text);
}

std::string AgeInStatus(const JobView& job, absl::Time now) {
  if (!IsSet(job.status_since())) return "-";
  return FormatAge(now - ToTime(job.status_since()));
}

Cell StatusCell(ccbatch::v1::JobStatus status) {
  return Cell(StatusName(status), StatusStyle(status));
}

std::string CountOfJobs(int64_t n) {
  return absl::StrCat(n, n == 1 ? " job" : " jobs");
}

std::string PipeText(const PipeSource& pipe) {
  if (pipe.directory().empty() && pipe.upstream_key().empty()) return "-";
  return absl::StrCat(pipe.filename(), " from ", pipe.directory(), " (",
                      OrDash(pipe.upstream_key()), ")");
}

std::string VerdictOutcomeName(const Verdict& verdict) {
  switch (verdict.outcome()) {
    case Verdict::OUTCOME_SUCCEEDED:
      return "succeeded";
    case Verdict::OUTCOME_FAILED:
      return "failed";
    case Verdict::OUTCOME_INCONCLUSIVE:
      return "inconclusive";
    default:
      return "none";
  }
}

CellStyle VerdictStyle(const Verdict& verdict) {
  switch (verdict.outcome()) {
    case Verdict::OUTCOME_SUCCEEDED:
      return CellStyle::kGreen;
    case Verdict::OUTCOME_FAILED:
      return CellStyle::kRed;
    default:
      return CellStyle::kYellow;
  }
}

std::string AttemptNotes(const Attempt& attempt, absl::TimeZone zone) {
  std::vector<std::string> notes;
  if (!attempt.submit_error().empty()) {
    notes.push_back(absl::StrCat("sbatch refused: ", attempt.submit_error()));
  }
  if (!attempt.last_queue_state().empty()) {
    notes.push_back(absl::StrCat("last seen ", attempt.last_queue_state()));
  }
  if (IsSet(attempt.finished_seen_at())) {
    notes.push_back(absl::StrCat(
        "finished seen ", FormatTimestamp(attempt.finished_seen_at(), zone)));
  }
  if (IsSet(attempt.cancel_requested_at())) {
    notes.push_back(attempt.cancel_acknowledged() ? "cancelled"
                                                  : "cancel requested");
  }
  return absl::StrJoin(notes, "; ");
}

std::string DefinitionSection(const GetJobResponse& response,
                              const RenderOptions& options) {
  const auto& def = response.definition();
  const JobView& view = response.view();
  KeyValues pairs = {
      {"status", StatusCell(view.status())},
      {"since",
       absl::StrCat(FormatTimestamp(view.status_since(), options.time_zone),
                    " (", AgeInStatus(view, options.now), ")")},
      {"reason", OrDash(view.reason())},
      {"batch", OrDash(view.batch())},
      {"program", std::string(ProgramName(def.program()))},
      {"directory", OrDash(def.directory())},
      {"basename", OrDash(def.basename())},
      {"cluster", OrDash(view.cluster())},
      {"attempt", view.attempt() == 0
                      ? std::string("none yet")
                      : absl::StrCat(view.attempt(), ", slurm job ",
                                     OrDash(view.slurm_job_id()))},
      {"upstream", def.upstream_keys().empty()
                       ? std::string("-")
                       : absl::StrJoin(def.upstream_keys(), ", ")},
  };
  if (def.has_coords()) pairs.push_back({"coords", PipeText(def.coords())});
  if (def.has_orbitals()) {
    pairs.push_back({"orbitals", PipeText(def.orbitals())});
  }
  if (def.source_line() > 0) {
    pairs.push_back({"batchfile", absl::StrCat("line ", def.source_line())});
  }
  return absl::StrCat(Styled(view.key(), CellStyle::kBold, options.color), "\n",
                      RenderKeyValues(pairs, "  ", options.color));
}

std::string AttemptsSection(const GetJobResponse& response,
                            const RenderOptions& options) {
  if (response.attempts().empty()) return "\nattempts: none\n";
  TextTable table(
      {"#", "CLUSTER", "SLURM ID", "ORDERED", "SUBMITTED", "WHY", "NOTES"});
  for (const Attempt& attempt : response.attempts()) {
    table.AddRow({absl::StrCat(attempt.number()), OrDash(attempt.cluster()),
                  OrDash(attempt.slurm_job_id()),
                  FormatTimestamp(attempt.ordered_at(), options.time_zone),
                  FormatTimestamp(attempt.submitted_at(), options.time_zone),
                  OrDash(attempt.started_because()),
                  AttemptNotes(attempt, options.time_zone)});
  }
  return absl::StrCat("\nattempts\n", table.RenderText(options.color, "  "));
}

// `local`: judged by `ccctl check-output`, for no attempt.
std::string VerdictSection(const Verdict& verdict, const RenderOptions& options,
                           bool local = false) {
  std::string judged_for =
      local ? std::string(" by ccctl check-output")
      : verdict.slurm_job_id().empty()
          ? std::string(" (adoption: output found before any attempt)")
          : absl::StrCat(" for slurm job ", verdict.slurm_job_id());
  std::string outcome = VerdictOutcomeName(verdict);
  if (!verdict.cause().empty()) {
    absl::StrAppend(&outcome, " (", verdict.cause(), ")");
  }
  KeyValues pairs = {
      {"outcome", Cell(outcome, VerdictStyle(verdict))},
      {"summary", OrDash(verdict.summary())},
      {"output",
       absl::StrCat(OrDash(verdict.output_path()), " (", verdict.output_size(),
                    " bytes, modified ",
                    FormatTimestamp(verdict.output_mtime(), options.time_zone),
                    ")")},
      {"judged",
       absl::StrCat(FormatTimestamp(verdict.judged_at(), options.time_zone),
                    judged_for)},
  };
  std::string out =
      absl::StrCat("\nverdict\n", RenderKeyValues(pairs, "  ", options.color));
  if (!verdict.evidence().empty()) {
    TextTable evidence({"FILE:LINE", "RULE", "TEXT"});
    for (const auto& line : verdict.evidence()) {
      evidence.AddRow(
          {absl::StrCat(OrDash(line.file()), ":", line.line_number()),
           OrDash(line.rule()), line.text()});
    }
    absl::StrAppend(&out, "  evidence\n",
                    evidence.RenderText(options.color, "    "));
  }
  if (!verdict.fields().empty()) {
    TextTable fields({"FIELD", "VALUE"});
    for (const auto& field : verdict.fields()) {
      fields.AddRow({field.name(), absl::StrJoin(field.values(), ", ")});
    }
    absl::StrAppend(&out, "  extracted fields\n",
                    fields.RenderText(options.color, "    "));
  }
  for (const auto& warning : verdict.warnings()) {
    absl::StrAppend(&out, "  warning: ", warning, "\n");
  }
  return out;
}

std::string EventsSection(const GetJobResponse& response,
                          const RenderOptions& options) {
  if (response.events().empty()) return "";
  TextTable table({"AT", "FROM", "TO", "REASON"});
  for (const auto& event : response.events()) {
    table.AddRow(
        {FormatTimestamp(event.at(), options.time_zone),
         StatusCell(event.from_status()), StatusCell(event.to_status()),
         std::string(ReasonWithoutStatus(event.to_status(), event.reason()))});
  }
  return absl::StrCat("\nrecent events (oldest first)\n",
                      table.RenderText(options.color, "  "));
}

}  // namespace

TextTable JobTable(const JobViews& jobs, const RenderOptions& options) {
  TextTable table({"KEY", "STATUS", "CLUSTER", "SLURM ID", "AGE", "REASON"});
  for (const JobView& job : jobs) {
    table.AddRow(
        {job.key(), StatusCell(job.status()), OrDash(job.cluster()),
         OrDash(job.slurm_job_id()), AgeInStatus(job, options.now),
         std::string(ReasonWithoutStatus(job.status(), job.reason()))});
  }
  return table;
}

TextTable JobCsvTable(const JobViews& jobs, const RenderOptions& options) {
  TextTable table({"key", "batch", "status", "cluster", "slurm_job_id",
                   "attempt", "status_since", "age_seconds", "reason"});
  for (const JobView& job : jobs) {
    const std::string age = IsSet(job.status_since())
                                ? absl::StrCat(absl::ToInt64Seconds(
                                      options.now - ToTime(job.status_since())))
                                : "";
    table.AddRow({job.key(), job.batch(), StatusName(job.status()),
                  job.cluster(), job.slurm_job_id(),
                  absl::StrCat(job.attempt()),
                  FormatRfc3339(job.status_since()), age, job.reason()});
  }
  return table;
}

std::string RenderJobList(const ccbatch::v1::ListJobsResponse& response,
                          OutputFormat format, const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return ToJson(response);
    case OutputFormat::kCsv:
      return JobCsvTable(response.jobs(), options).RenderCsv();
    case OutputFormat::kTable:
      break;
  }
  if (response.jobs().empty()) return "No jobs match.\n";
  const int shown = response.jobs_size();
  const std::string count =
      response.total_size() > shown
          ? absl::StrCat(shown, " of ", CountOfJobs(response.total_size()),
                         " (raise --limit to see more)")
          : CountOfJobs(shown);
  return absl::StrCat(
      JobTable(response.jobs(), options).RenderText(options.color), count,
      "\n");
}

std::string RenderJobDetail(const GetJobResponse& response, OutputFormat format,
                            const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return ToJson(response);
    case OutputFormat::kCsv: {
      JobViews one;
      *one.Add() = response.view();
      return JobCsvTable(one, options).RenderCsv();
    }
    case OutputFormat::kTable:
      break;
  }
  std::string out = DefinitionSection(response, options);
  absl::StrAppend(&out, AttemptsSection(response, options));
  if (response.has_verdict()) {
    absl::StrAppend(&out, VerdictSection(response.verdict(), options));
  }
  if (!response.upstream().empty()) {
    absl::StrAppend(
        &out, "\nupstream jobs\n",
        JobTable(response.upstream(), options).RenderText(options.color, "  "));
  }
  absl::StrAppend(&out, EventsSection(response, options));
  return out;
}

std::string RenderVerdict(const Verdict& verdict, OutputFormat format,
                          const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return ToJson(verdict);
    case OutputFormat::kCsv: {
      TextTable table({"outcome", "cause", "file", "line", "rule", "text"});
      for (const auto& line : verdict.evidence()) {
        table.AddRow({VerdictOutcomeName(verdict), verdict.cause(), line.file(),
                      absl::StrCat(line.line_number()), line.rule(),
                      line.text()});
      }
      if (verdict.evidence().empty()) {
        table.AddRow(
            {VerdictOutcomeName(verdict), verdict.cause(), "", "", "", ""});
      }
      return table.RenderCsv();
    }
    case OutputFormat::kTable:
      break;
  }
  // VerdictSection starts with a blank line and a heading for `show`.
  const std::string text = VerdictSection(verdict, options, /*local=*/true);
  return absl::StrCat(
      Styled(verdict.output_path(), CellStyle::kBold, options.color), "\n",
      text.substr(text.find('\n', 1) + 1));
}

std::string RenderChangedJobs(const google::protobuf::Message& response,
                              const JobViews& changed, absl::string_view verb,
                              absl::string_view nothing_changed,
                              OutputFormat format,
                              const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return ToJson(response);
    case OutputFormat::kCsv:
      return JobCsvTable(changed, options).RenderCsv();
    case OutputFormat::kTable:
      break;
  }
  if (changed.empty()) return absl::StrCat(nothing_changed, "\n");
  return absl::StrCat(verb, " ", CountOfJobs(changed.size()), ":\n",
                      JobTable(changed, options).RenderText(options.color));
}

}  // namespace ccbatch::cli

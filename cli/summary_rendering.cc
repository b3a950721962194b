#include "cli/summary_rendering.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/json_output.h"
#include "cli/status_names.h"
#include "cli/time_format.h"

namespace ccbatch::cli {
namespace {

using ::ccbatch::v1::BatchSummary;
using ::ccbatch::v1::ClusterInfo;

Cell AgentCell(const ClusterInfo& cluster, const RenderOptions& options) {
  std::string text = cluster.connected() ? "connected" : "disconnected";
  if (IsSet(cluster.connection_changed_at())) {
    absl::StrAppend(
        &text, " ",
        FormatAge(options.now - ToTime(cluster.connection_changed_at())));
  }
  return Cell(text, cluster.connected() ? CellStyle::kGreen : CellStyle::kRed);
}

Cell ProbeErrorCell(const ClusterInfo& cluster, const RenderOptions& options) {
  if (cluster.last_probe_error().empty()) return Cell("-");
  std::string text = cluster.last_probe_error();
  if (IsSet(cluster.last_probe_error_at())) {
    text = absl::StrCat(FormatAgo(cluster.last_probe_error_at(), options.now),
                        ": ", text);
  }
  return Cell(text, CellStyle::kRed);
}

std::string BatchSettings(const ccbatch::v1::BatchInfo& batch) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat("cluster ", batch.cluster().empty()
                                               ? std::string("-")
                                               : batch.cluster()));
  parts.push_back(batch.max_parallel() > 0
                      ? absl::StrCat("max parallel ", batch.max_parallel())
                      : std::string("no parallel limit"));
  if (batch.retry_policy().max_attempts() > 1) {
    parts.push_back(absl::StrCat(
        "retry ", absl::StrJoin(batch.retry_policy().retry_on(), ","),
        " up to ", batch.retry_policy().max_attempts(), " attempts"));
  }
  return absl::StrJoin(parts, ", ");
}

std::string SummaryCsv(const ccbatch::v1::SummaryResponse& response) {
  std::vector<std::string> headings = {"batch",        "cluster", "paused",
                                       "max_parallel", "total",   "final"};
  for (auto status : AllStatuses()) headings.push_back(StatusName(status));
  TextTable table(std::move(headings));
  for (const BatchSummary& summary : response.batches()) {
    std::map<int, int> counts;
    for (const auto& count : summary.counts()) {
      counts[count.status()] += count.count();
    }
    std::vector<Cell> row = {summary.batch().name(),
                             summary.batch().cluster(),
                             summary.batch().paused() ? "true" : "false",
                             absl::StrCat(summary.batch().max_parallel()),
                             absl::StrCat(summary.total()),
                             absl::StrCat(summary.final())};
    for (auto status : AllStatuses()) {
      row.push_back(absl::StrCat(counts[status]));
    }
    table.AddRow(std::move(row));
  }
  return table.RenderCsv();
}

}  // namespace

std::string ProgressBar(int done, int total, int width) {
  const int64_t filled =
      total <= 0 ? 0
                 : std::clamp<int64_t>(int64_t{done} * width / total, 0, width);
  return absl::StrCat("[", std::string(filled, '#'),
                      std::string(width - filled, '.'), "]");
}

std::string RenderBatchBlock(const BatchSummary& summary,
                             const RenderOptions& options) {
  const auto& batch = summary.batch();
  std::string title = Styled(batch.name(), CellStyle::kBold, options.color);
  if (batch.paused()) {
    absl::StrAppend(&title, " ",
                    Styled("PAUSED", CellStyle::kYellow, options.color));
  }
  const int percent =
      summary.total() > 0 ? summary.final() * 100 / summary.total() : 0;
  std::vector<std::string> counts;
  for (const auto& count : summary.counts()) {
    counts.push_back(
        absl::StrCat(Styled(StatusName(count.status()),
                            StatusStyle(count.status()), options.color),
                     " ", count.count()));
  }
  return absl::StrCat(
      title, "  (", BatchSettings(batch), ")\n", "  ",
      ProgressBar(summary.final(), summary.total(), 30), " ", summary.final(),
      "/", summary.total(), " final (", percent, "%)\n", "  ",
      counts.empty() ? std::string("no jobs") : absl::StrJoin(counts, "  "),
      "\n");
}

TextTable ClusterTable(const ClusterInfos& clusters,
                       const RenderOptions& options) {
  TextTable table({"CLUSTER", "AGENT", "USER", "SNAPSHOT", "TAKEN", "ENTRIES",
                   "JOBS", "CAP", "LAST PROBE ERROR"});
  for (const ClusterInfo& cluster : clusters) {
    table.AddRow(
        {cluster.name(), AgentCell(cluster, options),
         cluster.user().empty() ? std::string("-") : cluster.user(),
         cluster.last_snapshot_seq() == 0
             ? std::string("-")
             : absl::StrCat(cluster.last_snapshot_seq()),
         FormatAgo(cluster.last_snapshot_taken_at(), options.now),
         absl::StrCat(cluster.last_snapshot_entries()),
         absl::StrCat(cluster.jobs_tracked()),
         cluster.cap() > 0 ? absl::StrCat(cluster.cap()) : std::string("-"),
         ProbeErrorCell(cluster, options)});
  }
  return table;
}

std::string RenderSummary(const ccbatch::v1::SummaryResponse& response,
                          OutputFormat format, const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return ToJson(response);
    case OutputFormat::kCsv:
      return SummaryCsv(response);
    case OutputFormat::kTable:
      break;
  }
  std::string out;
  if (response.batches().empty()) {
    absl::StrAppend(&out,
                    "No batches. Import one with: ccctl import "
                    "BATCHFILE\n");
  }
  for (const BatchSummary& summary : response.batches()) {
    absl::StrAppend(&out, RenderBatchBlock(summary, options), "\n");
  }
  if (response.clusters().empty()) {
    absl::StrAppend(&out, "No cluster agent has connected yet.\n");
  } else {
    absl::StrAppend(&out, "clusters\n",
                    ClusterTable(response.clusters(), options)
                        .RenderText(options.color, "  "));
  }
  return out;
}

std::string RenderClusters(const ccbatch::v1::ListClustersResponse& response,
                           OutputFormat format, const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return ToJson(response);
    case OutputFormat::kCsv: {
      TextTable table({"cluster", "connected", "user", "agent_version",
                       "last_snapshot_seq", "last_snapshot_taken_at",
                       "last_snapshot_entries", "jobs_tracked", "cap",
                       "last_probe_error", "last_probe_error_at",
                       "connection_changed_at"});
      for (const ClusterInfo& c : response.clusters()) {
        table.AddRow({c.name(), c.connected() ? "true" : "false", c.user(),
                      c.agent_version(), absl::StrCat(c.last_snapshot_seq()),
                      FormatRfc3339(c.last_snapshot_taken_at()),
                      absl::StrCat(c.last_snapshot_entries()),
                      absl::StrCat(c.jobs_tracked()), absl::StrCat(c.cap()),
                      c.last_probe_error(),
                      FormatRfc3339(c.last_probe_error_at()),
                      FormatRfc3339(c.connection_changed_at())});
      }
      return table.RenderCsv();
    }
    case OutputFormat::kTable:
      break;
  }
  if (response.clusters().empty()) {
    return "No cluster agent has connected yet. Start queue_agent on the "
           "cluster's login node.\n";
  }
  return ClusterTable(response.clusters(), options).RenderText(options.color);
}

}  // namespace ccbatch::cli

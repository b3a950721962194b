// Renders batch summaries (`ccctl status`) and cluster health
// (`ccctl clusters`, and the clusters part of `status`). Pure functions of
// the message and RenderOptions: no I/O, no clock, thread-safe.
#ifndef CCBATCH_CLI_SUMMARY_RENDERING_H_
#define CCBATCH_CLI_SUMMARY_RENDERING_H_

#include <string>

#include "ccbatch/v1/ledger.pb.h"
#include "cli/output_format.h"
#include "cli/text_table.h"
#include "google/protobuf/repeated_field.h"

namespace ccbatch::cli {

using ClusterInfos =
    google::protobuf::RepeatedPtrField<ccbatch::v1::ClusterInfo>;

// "[#########.....................]" with `width` cells inside the brackets,
// '#' for the share of `done` in `total` (rounded down, so the bar is full
// only when everything is done). An empty batch shows an empty bar.
std::string ProgressBar(int done, int total, int width);

// Three lines for one batch: its name and settings, the progress bar with
// "final/total", and the non-zero counts per status.
std::string RenderBatchBlock(const ccbatch::v1::BatchSummary& summary,
                             const RenderOptions& options);

// CLUSTER AGENT USER SNAPSHOT TAKEN ENTRIES JOBS CAP LAST PROBE ERROR.
TextTable ClusterTable(const ClusterInfos& clusters,
                       const RenderOptions& options);

// `ccctl status`: a block per batch, then the clusters' health. CSV: one
// row per batch with a column per status; JSON: the response.
std::string RenderSummary(const ccbatch::v1::SummaryResponse& response,
                          OutputFormat format, const RenderOptions& options);

// `ccctl clusters`.
std::string RenderClusters(const ccbatch::v1::ListClustersResponse& response,
                           OutputFormat format, const RenderOptions& options);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_SUMMARY_RENDERING_H_

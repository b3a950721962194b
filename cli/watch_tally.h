// Folds a Watch stream into live per-batch counts for `ccctl status
// --watch`, and renders its frames. Pure: no I/O, no clock (the caller
// passes RenderOptions with "now"). Thread-compatible.
#ifndef CCBATCH_CLI_WATCH_TALLY_H_
#define CCBATCH_CLI_WATCH_TALLY_H_

#include <deque>
#include <map>
#include <string>

#include "ccbatch/v1/ledger.pb.h"
#include "cli/output_format.h"

namespace ccbatch::cli {

class WatchTally final {
 public:
  // `initial` (from Summary) supplies the batches' settings and the
  // clusters; its counts are replaced by what the stream says.
  explicit WatchTally(ccbatch::v1::SummaryResponse initial);

  // Applies one stream message: a job's current state, the end of the
  // initial state, or a status change (of a job not seen before, too: its
  // batch is the part of the key before '/').
  void Apply(const ccbatch::v1::WatchResponse& response);

  // Replaces the clusters' health (refreshed from ListClusters).
  void SetClusters(const ccbatch::v1::ListClustersResponse& clusters);

  bool initial_state_done() const { return initial_state_done_; }

  // The initial state is complete and every job is final (true for no
  // jobs at all: there is nothing to wait for).
  bool AllFinal() const;

  // The initial summary with counts, totals and finals recomputed from the
  // jobs seen on the stream.
  ccbatch::v1::SummaryResponse Summary() const;

  // The last few changes, oldest first.
  const std::deque<ccbatch::v1::JobEvent>& recent_changes() const {
    return recent_;
  }

 private:
  ccbatch::v1::SummaryResponse initial_;
  // Job key -> (batch, status).
  std::map<std::string, std::pair<std::string, ccbatch::v1::JobStatus>> jobs_;
  std::deque<ccbatch::v1::JobEvent> recent_;
  bool initial_state_done_ = false;
};

// "2026-01-01 00:05:00 UTC  chem-1/opt  running -> succeeded  <reason>\n".
std::string RenderChangeLine(const ccbatch::v1::JobEvent& change,
                             const RenderOptions& options);

// One screen for a terminal: the summary (as `ccctl status`), the recent
// changes, and how to stop. Without the clear-screen escape.
std::string RenderWatchFrame(const WatchTally& tally,
                             const RenderOptions& options);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_WATCH_TALLY_H_

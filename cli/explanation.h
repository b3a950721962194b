// `ccctl explain JOB`: why a job has its status, as a chain of facts. For a
// waiting or broken job the chain follows the upstream jobs that hold it
// back, down to the one that is actually running, failed or stuck, and says
// why that one is where it is (its verdict, the cluster's health, the
// batch's pause or parallel limit).
//
// Split in two so the reasoning is pure and tested as a table:
//  - the command gathers ExplainInputs with GetJob (recursively along
//    JobsToFollow), ListClusters and Summary;
//  - Explain() turns them into facts; RenderExplanation() prints them.
// Pure functions, thread-safe.
#ifndef CCBATCH_CLI_EXPLANATION_H_
#define CCBATCH_CLI_EXPLANATION_H_

#include <map>
#include <string>
#include <vector>

#include "ccbatch/v1/ledger.pb.h"
#include "cli/output_format.h"

namespace ccbatch::cli {

// What the ledger said, keyed by job key, cluster name and batch name.
// Missing entries are fine: the explanation then says less.
struct ExplainInputs {
  std::map<std::string, ccbatch::v1::GetJobResponse> jobs;
  std::map<std::string, ccbatch::v1::ClusterInfo> clusters;
  std::map<std::string, ccbatch::v1::BatchSummary> batches;
};

// One fact. A fact with `is_job` true introduces `job_key` and its status;
// the facts after it (until the next job at the same or a smaller depth)
// are about that job.
struct Fact {
  int depth = 0;
  bool is_job = false;
  std::string job_key;
  ccbatch::v1::JobStatus status = ccbatch::v1::JOB_STATUS_UNSPECIFIED;
  std::string text;
};

// Keys of the upstream jobs that hold `job` back, in the order GetJob lists
// them: for a WAITING job those not succeeded; for a BROKEN_DEPENDENCY job
// those failed, broken or cancelled. Empty for any other status.
std::vector<std::string> JobsToFollow(const ccbatch::v1::GetJobResponse& job);

// True if explaining `status` needs the cluster's health (and, for READY,
// the batch's summary).
bool NeedsClusterFacts(ccbatch::v1::JobStatus status);

// The chain for `key`. REQUIRES: inputs.jobs contains `key`. Upstream jobs
// are followed through inputs.jobs (or, when missing there, described from
// the JobView in their dependant's `upstream`); a job already explained is
// referred to, not repeated, so cycles and diamonds terminate.
std::vector<Fact> Explain(const std::string& key, const ExplainInputs& inputs,
                          const RenderOptions& options);

// Table: indented lines; CSV: depth,job,status,fact; JSON: {"job": key,
// "facts": [{"depth", "isJob", "job", "status", "text"}]} with status as
// the enum name.
std::string RenderExplanation(const std::string& key,
                              const std::vector<Fact>& facts,
                              OutputFormat format,
                              const RenderOptions& options);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_EXPLANATION_H_

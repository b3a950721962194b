#include "cli/explanation.h"

#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/status_names.h"
#include "cli/text_table.h"
#include "cli/time_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;

// Deep chains are cut here; the user can explain the last job named.
constexpr int kMaxDepth = 12;
constexpr int kMaxEvidenceLines = 3;
constexpr int kMaxFields = 3;

bool HoldsBack(v1::JobStatus status) {
  return status == v1::JOB_STATUS_WAITING ||
         status == v1::JOB_STATUS_BROKEN_DEPENDENCY;
}

bool Breaks(v1::JobStatus status) {
  return status == v1::JOB_STATUS_FAILED ||
         status == v1::JOB_STATUS_BROKEN_DEPENDENCY ||
         status == v1::JOB_STATUS_CANCELLED;
}

// The upstream jobs that explain `job`'s status: for a waiting job those
// not succeeded; for a broken one those that failed, broke or were
// cancelled (an upstream job merely still running does not break it), or
// all not succeeded if the ledger's answer names none such.
std::vector<const v1::JobView*> Holding(const v1::JobView& job,
                                        const v1::GetJobResponse& full) {
  std::vector<const v1::JobView*> holding;
  if (!HoldsBack(job.status())) return holding;
  if (job.status() == v1::JOB_STATUS_BROKEN_DEPENDENCY) {
    for (const v1::JobView& up : full.upstream()) {
      if (Breaks(up.status())) holding.push_back(&up);
    }
    if (!holding.empty()) return holding;
  }
  for (const v1::JobView& up : full.upstream()) {
    if (up.status() != v1::JOB_STATUS_SUCCEEDED) holding.push_back(&up);
  }
  return holding;
}

bool IsActive(v1::JobStatus status) {
  return status == v1::JOB_STATUS_SUBMITTING ||
         status == v1::JOB_STATUS_SUBMITTED ||
         status == v1::JOB_STATUS_PENDING || status == v1::JOB_STATUS_RUNNING ||
         status == v1::JOB_STATUS_COMPLETING;
}

class Explainer final {
 public:
  Explainer(const ExplainInputs& inputs, const RenderOptions& options)
      : inputs_(inputs), options_(options) {}

  void ExplainJob(const v1::JobView& view, int depth) {
    auto it = inputs_.jobs.find(view.key());
    const v1::GetJobResponse* full =
        it == inputs_.jobs.end() ? nullptr : &it->second;
    const v1::JobView& current = full != nullptr ? full->view() : view;
    if (!explained_.insert(current.key()).second) {
      AddJob(depth, current,
             absl::StrCat(current.key(), " is ", StatusName(current.status()),
                          " (see above)"));
      return;
    }
    AddJob(depth, current, Headline(current));
    if (depth >= kMaxDepth) {
      Add(depth,
          absl::StrCat("the chain goes on: ccctl explain ", current.key()));
      return;
    }
    switch (current.status()) {
      case v1::JOB_STATUS_WAITING:
      case v1::JOB_STATUS_BROKEN_DEPENDENCY:
        UpstreamFacts(current, full, depth);
        break;
      case v1::JOB_STATUS_READY:
        ReadyFacts(current, depth);
        break;
      case v1::JOB_STATUS_SUBMITTING:
        SubmittingFacts(current, full, depth);
        break;
      case v1::JOB_STATUS_SUBMITTED:
        SubmittedFacts(current, full, depth);
        break;
      case v1::JOB_STATUS_PENDING:
      case v1::JOB_STATUS_RUNNING:
        Add(depth, SlurmJobText(current));
        ClusterFacts(current.cluster(), depth);
        break;
      case v1::JOB_STATUS_COMPLETING:
        CompletingFacts(current, full, depth);
        break;
      case v1::JOB_STATUS_SUCCEEDED:
        if (full != nullptr) VerdictFacts(*full, depth);
        break;
      case v1::JOB_STATUS_FAILED:
        FailedFacts(current, full, depth);
        break;
      case v1::JOB_STATUS_CANCELLED:
        CancelledFacts(full, depth);
        break;
      case v1::JOB_STATUS_UNKNOWN:
        Add(depth,
            absl::StrCat("no fresh facts from cluster ", current.cluster(),
                         ": the status is unknown until its agent "
                         "reports again"));
        ClusterFacts(current.cluster(), depth);
        break;
      default:
        break;
    }
  }

  std::vector<Fact> TakeFacts() { return std::move(facts_); }

 private:
  std::string Headline(const v1::JobView& view) const {
    std::string text =
        absl::StrCat(view.key(), " is ", StatusName(view.status()));
    if (IsSet(view.status_since())) {
      absl::StrAppend(
          &text, " since ",
          FormatTimestamp(view.status_since(), options_.time_zone), " (",
          FormatAge(options_.now - ToTime(view.status_since())), ")");
    }
    const absl::string_view reason =
        ReasonWithoutStatus(view.status(), view.reason());
    if (!reason.empty()) absl::StrAppend(&text, ": ", reason);
    return text;
  }

  void AddJob(int depth, const v1::JobView& view, std::string text) {
    current_key_ = view.key();
    current_status_ = view.status();
    facts_.push_back({depth, true, view.key(), view.status(), std::move(text)});
  }

  void Add(int depth, std::string text) {
    facts_.push_back(
        {depth, false, current_key_, current_status_, std::move(text)});
  }

  static const v1::Attempt* CurrentAttempt(const v1::GetJobResponse* full) {
    if (full == nullptr || full->attempts().empty()) return nullptr;
    for (const v1::Attempt& attempt : full->attempts()) {
      if (attempt.number() == full->view().attempt()) return &attempt;
    }
    return &full->attempts(full->attempts_size() - 1);
  }

  static std::string SlurmJobText(const v1::JobView& view) {
    return absl::StrCat("slurm job ", view.slurm_job_id(), " (attempt ",
                        view.attempt(), ") on cluster ", view.cluster());
  }

  void UpstreamFacts(const v1::JobView& view, const v1::GetJobResponse* full,
                     int depth) {
    if (full == nullptr || full->upstream().empty()) {
      if (!view.upstream_keys().empty()) {
        Add(depth, absl::StrCat("depends on ",
                                absl::StrJoin(view.upstream_keys(), ", "),
                                "; the ledger did not report their statuses"));
      }
      return;
    }
    std::vector<std::string> succeeded;
    for (const v1::JobView& up : full->upstream()) {
      if (up.status() == v1::JOB_STATUS_SUCCEEDED)
        succeeded.push_back(up.key());
    }
    if (!succeeded.empty()) {
      Add(depth, absl::StrCat("already succeeded upstream: ",
                              absl::StrJoin(succeeded, ", ")));
    }
    const std::string dependant_key = view.key();
    const v1::JobStatus dependant_status = view.status();
    for (const v1::JobView* up : Holding(view, *full)) {
      current_key_ = dependant_key;
      current_status_ = dependant_status;
      Add(depth, dependant_status == v1::JOB_STATUS_WAITING
                     ? absl::StrCat("waits on ", up->key(), ":")
                     : absl::StrCat("broken by upstream ", up->key(), ":"));
      ExplainJob(*up, depth + 1);
    }
  }

  void ReadyFacts(const v1::JobView& view, int depth) {
    std::string cluster = view.cluster();
    auto batch_it = inputs_.batches.find(view.batch());
    bool held = false;
    if (batch_it != inputs_.batches.end()) {
      const v1::BatchSummary& summary = batch_it->second;
      if (cluster.empty()) cluster = summary.batch().cluster();
      int active = 0;
      for (const auto& count : summary.counts()) {
        if (IsActive(count.status())) active += count.count();
      }
      const int max_parallel = summary.batch().max_parallel();
      if (summary.batch().paused()) {
        held = true;
        Add(depth, absl::StrCat("batch ", view.batch(),
                                " is paused: nothing is submitted until "
                                "`ccctl resume ",
                                view.batch(), "`"));
      } else if (max_parallel > 0 && active >= max_parallel) {
        held = true;
        Add(depth, absl::StrCat("batch ", view.batch(), " has ", active,
                                " jobs submitted or in the queue, its max "
                                "parallel is ",
                                max_parallel,
                                ": the job is submitted when one finishes"));
      } else if (max_parallel > 0) {
        Add(depth, absl::StrCat("batch ", view.batch(), " has ", active,
                                " of at most ", max_parallel,
                                " jobs submitted or in the queue"));
      }
    }
    auto cluster_it = inputs_.clusters.find(cluster);
    if (!cluster.empty() && (cluster_it == inputs_.clusters.end() ||
                             !cluster_it->second.connected())) {
      held = true;
    }
    ClusterFacts(cluster, depth);
    if (!held) {
      Add(depth,
          "the ledger submits ready jobs in batchfile order on its next pass");
    }
  }

  void SubmittingFacts(const v1::JobView& view, const v1::GetJobResponse* full,
                       int depth) {
    if (const v1::Attempt* attempt = CurrentAttempt(full)) {
      Add(depth, absl::StrCat(
                     "attempt ", attempt->number(), " ordered at ",
                     FormatTimestamp(attempt->ordered_at(), options_.time_zone),
                     " (order ", attempt->order_id(),
                     "); sbatch has not answered yet"));
    }
    ClusterFacts(view.cluster(), depth);
  }

  void SubmittedFacts(const v1::JobView& view, const v1::GetJobResponse* full,
                      int depth) {
    const v1::Attempt* attempt = CurrentAttempt(full);
    std::string text = SlurmJobText(view);
    if (attempt != nullptr && IsSet(attempt->submitted_at())) {
      absl::StrAppend(
          &text, " submitted at ",
          FormatTimestamp(attempt->submitted_at(), options_.time_zone));
    }
    Add(depth, text);
    auto it = inputs_.clusters.find(view.cluster());
    if (attempt != nullptr && it != inputs_.clusters.end() &&
        IsSet(it->second.last_snapshot_taken_at()) &&
        ToTime(it->second.last_snapshot_taken_at()) <
            ToTime(attempt->submitted_at())) {
      Add(depth, absl::StrCat("the latest snapshot of ", view.cluster(), " (",
                              it->second.last_snapshot_seq(),
                              ") was taken before the submission; the next "
                              "one will show the job"));
    }
    ClusterFacts(view.cluster(), depth);
  }

  void CompletingFacts(const v1::JobView& view, const v1::GetJobResponse* full,
                       int depth) {
    const v1::Attempt* attempt = CurrentAttempt(full);
    std::string text =
        absl::StrCat(SlurmJobText(view), " has left the queue or is ending");
    if (attempt != nullptr && !attempt->last_queue_state().empty()) {
      absl::StrAppend(&text, " (last seen as ", attempt->last_queue_state(),
                      ")");
    }
    if (attempt != nullptr && IsSet(attempt->finished_seen_at())) {
      absl::StrAppend(&text, "; first seen finished ",
                      FormatAgo(attempt->finished_seen_at(), options_.now));
    }
    Add(depth, text);
    if (attempt != nullptr && IsSet(attempt->output_checked_at())) {
      Add(depth,
          absl::StrCat("the agent was asked to judge the output ",
                       FormatAgo(attempt->output_checked_at(), options_.now),
                       "; its verdict is awaited"));
    } else {
      Add(depth, "the agent's verdict on the output is awaited");
    }
    ClusterFacts(view.cluster(), depth);
  }

  void VerdictFacts(const v1::GetJobResponse& full, int depth) {
    if (!full.has_verdict()) return;
    const v1::Verdict& verdict = full.verdict();
    std::string outcome =
        verdict.outcome() == v1::Verdict::OUTCOME_SUCCEEDED ? "succeeded"
        : verdict.outcome() == v1::Verdict::OUTCOME_FAILED  ? "failed"
                                                            : "inconclusive";
    std::string text = absl::StrCat(
        "verdict ",
        verdict.slurm_job_id().empty()
            ? std::string("on output found before any attempt")
            : absl::StrCat("on slurm job ", verdict.slurm_job_id()),
        ": ", outcome);
    if (!verdict.cause().empty())
      absl::StrAppend(&text, " (", verdict.cause(), ")");
    if (!verdict.summary().empty())
      absl::StrAppend(&text, ": ", verdict.summary());
    Add(depth, text);
    int shown = 0;
    for (const v1::EvidenceLine& line : verdict.evidence()) {
      if (shown++ == kMaxEvidenceLines) {
        Add(depth, absl::StrCat(verdict.evidence_size() - kMaxEvidenceLines,
                                " more evidence lines: ccctl show ",
                                full.view().key()));
        break;
      }
      Add(depth, absl::StrCat(line.file(), ":", line.line_number(), " [",
                              line.rule(), "] ", line.text()));
    }
    shown = 0;
    for (const v1::ExtractedField& field : verdict.fields()) {
      if (shown++ == kMaxFields) break;
      Add(depth, absl::StrCat(field.name(), " = ",
                              absl::StrJoin(field.values(), ", ")));
    }
  }

  void FailedFacts(const v1::JobView& view, const v1::GetJobResponse* full,
                   int depth) {
    const v1::Attempt* attempt = CurrentAttempt(full);
    if (attempt != nullptr && !attempt->submit_error().empty()) {
      Add(depth, absl::StrCat("sbatch refused attempt ", attempt->number(),
                              ": ", attempt->submit_error()));
    }
    if (full != nullptr) VerdictFacts(*full, depth);
    Add(depth, absl::StrCat("to run it again: ccctl retry ", view.key(),
                            " (jobs broken by it go back to waiting)"));
  }

  void CancelledFacts(const v1::GetJobResponse* full, int depth) {
    const v1::Attempt* attempt = CurrentAttempt(full);
    if (attempt == nullptr || !IsSet(attempt->cancel_requested_at())) return;
    Add(depth, absl::StrCat("cancel requested at ",
                            FormatTimestamp(attempt->cancel_requested_at(),
                                            options_.time_zone),
                            attempt->cancel_acknowledged()
                                ? ", acknowledged by the agent"
                                : ", not yet acknowledged by the agent"));
  }

  void ClusterFacts(const std::string& name, int depth) {
    if (name.empty()) return;
    auto it = inputs_.clusters.find(name);
    if (it == inputs_.clusters.end()) {
      Add(depth, absl::StrCat("cluster ", name,
                              ": no agent has connected for it; start "
                              "queue_agent on its login node"));
      return;
    }
    const v1::ClusterInfo& cluster = it->second;
    std::string text =
        absl::StrCat("cluster ", name, ": agent ",
                     cluster.connected() ? "connected" : "disconnected");
    if (IsSet(cluster.connection_changed_at())) {
      absl::StrAppend(
          &text, " for ",
          FormatAge(options_.now - ToTime(cluster.connection_changed_at())));
    }
    if (cluster.last_snapshot_seq() > 0) {
      absl::StrAppend(
          &text, "; last snapshot ", cluster.last_snapshot_seq(), " taken ",
          FormatAgo(cluster.last_snapshot_taken_at(), options_.now));
    } else {
      absl::StrAppend(&text, "; no snapshot yet");
    }
    Add(depth, text);
    if (!cluster.last_probe_error().empty()) {
      Add(depth,
          absl::StrCat("cluster ", name, ": last squeue failed ",
                       FormatAgo(cluster.last_probe_error_at(), options_.now),
                       ": ", cluster.last_probe_error()));
    }
  }

  const ExplainInputs& inputs_;
  const RenderOptions& options_;
  std::vector<Fact> facts_;
  std::set<std::string> explained_;
  std::string current_key_;
  v1::JobStatus current_status_ = v1::JOB_STATUS_UNSPECIFIED;
};

// A JSON string literal, escaped by protobuf's JSON printer.
std::string JsonString(const std::string& text) {
  google::protobuf::Value value;
  value.set_string_value(text);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(value, &json).ok()) {
    return "\"\"";
  }
  return json;
}

// Written by hand rather than through google.protobuf.Struct, whose map
// prints its keys in no stable order: scripts and golden files need one.
std::string FactsAsJson(const std::string& key,
                        const std::vector<Fact>& facts) {
  std::string out =
      absl::StrCat("{\n \"job\": ", JsonString(key), ",\n \"facts\": [");
  for (size_t i = 0; i < facts.size(); ++i) {
    const Fact& fact = facts[i];
    absl::StrAppend(
        &out, i == 0 ? "\n" : ",\n", "  {\n   \"depth\": ", fact.depth,
        ",\n   \"isJob\": ", fact.is_job ? "true" : "false",
        ",\n   \"job\": ", JsonString(fact.job_key),
        ",\n   \"status\": ", JsonString(v1::JobStatus_Name(fact.status)),
        ",\n   \"text\": ", JsonString(fact.text), "\n  }");
  }
  absl::StrAppend(&out, facts.empty() ? "]\n}\n" : "\n ]\n}\n");
  return out;
}

}  // namespace

std::vector<std::string> JobsToFollow(const v1::GetJobResponse& job) {
  std::vector<std::string> keys;
  for (const v1::JobView* up : Holding(job.view(), job)) {
    keys.push_back(up->key());
  }
  return keys;
}

bool NeedsClusterFacts(v1::JobStatus status) {
  return status == v1::JOB_STATUS_READY ||
         status == v1::JOB_STATUS_SUBMITTING ||
         status == v1::JOB_STATUS_SUBMITTED ||
         status == v1::JOB_STATUS_PENDING || status == v1::JOB_STATUS_RUNNING ||
         status == v1::JOB_STATUS_COMPLETING ||
         status == v1::JOB_STATUS_UNKNOWN;
}

std::vector<Fact> Explain(const std::string& key, const ExplainInputs& inputs,
                          const RenderOptions& options) {
  Explainer explainer(inputs, options);
  auto it = inputs.jobs.find(key);
  v1::JobView view;
  if (it != inputs.jobs.end()) {
    view = it->second.view();
  } else {
    view.set_key(key);
  }
  explainer.ExplainJob(view, 0);
  return explainer.TakeFacts();
}

std::string RenderExplanation(const std::string& key,
                              const std::vector<Fact>& facts,
                              OutputFormat format,
                              const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kJson:
      return FactsAsJson(key, facts);
    case OutputFormat::kCsv: {
      TextTable table({"depth", "job", "status", "fact"});
      for (const Fact& fact : facts) {
        table.AddRow({absl::StrCat(fact.depth), fact.job_key,
                      StatusName(fact.status), fact.text});
      }
      return table.RenderCsv();
    }
    case OutputFormat::kTable:
      break;
  }
  std::string out;
  for (const Fact& fact : facts) {
    const std::string indent(4 * fact.depth, ' ');
    if (fact.is_job) {
      absl::StrAppend(
          &out, indent,
          Styled(fact.text, StatusStyle(fact.status), options.color), "\n");
    } else {
      absl::StrAppend(&out, indent, "  - ", fact.text, "\n");
    }
  }
  return out;
}

}  // namespace ccbatch::cli

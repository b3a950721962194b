#include "queue_agent/output_checker.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/utf8_text.h"
#include "google/protobuf/timestamp.pb.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/slurm_state.h"

namespace ccbatch::agent {
namespace {

// Scheduler markers slurmstepd writes into the job's standard output, most
// specific first (a time limit is reported as "CANCELLED AT ... DUE TO TIME
// LIMIT").
constexpr absl::string_view kSlurmMarkerRules = R"(
TIMEOUT ; DUE TO TIME LIMIT ; list
OUT_OF_MEMORY ; (?i)oom-kill|oom_kill|out of memory|OUT_OF_MEMORY ; list
NODE_FAIL ; DUE TO NODE FAIL ; list
PREEMPTED ; DUE TO PREEMPTION ; list
CANCELLED ; CANCELLED AT ; list
)";

// Terminal SLURM states that explain a missing or incomplete output.
constexpr absl::string_view kSchedulerCauses[] = {
    "TIMEOUT",   "OUT_OF_MEMORY", "NODE_FAIL", "CANCELLED",
    "PREEMPTED", "BOOT_FAIL",     "DEADLINE"};

constexpr size_t kMaxEvidenceText = 300;

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const int64_t seconds = absl::ToUnixSeconds(time);
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", time, absl::UTCTimeZone());
}

bool IsSafeJobId(absl::string_view id) {
  if (id.empty() || id.size() > 64 || !absl::ascii_isdigit(id[0])) {
    return false;
  }
  for (char c : id) {
    if (!absl::ascii_isdigit(c) && c != '_' && c != '+') return false;
  }
  return true;
}

absl::Status CheckOrder(const v1::CheckOutput& order) {
  if (ProgramKey(order.program()).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CheckOutput ", order.order_id(), " for ", order.job_key(),
        ": no program; expected gaussian, orca, xtb, crest or pyaroma"));
  }
  if (order.directory().empty() || order.basename().empty() ||
      absl::StrContains(order.basename(), '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("CheckOutput ", order.order_id(), " for ", order.job_key(),
                     ": needs a directory and a basename without '/' (got \"",
                     order.directory(), "\", \"", order.basename(), "\")"));
  }
  if (!order.slurm_job_id().empty() && !IsSafeJobId(order.slurm_job_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("CheckOutput ", order.order_id(), " for ", order.job_key(),
                     ": SLURM job id \"", order.slurm_job_id(),
                     "\" is not of the form 123, 123_4 or 123+1"));
  }
  return absl::OkStatus();
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  return absl::EndsWith(dir, "/") ? absl::StrCat(dir, name)
                                  : absl::StrCat(dir, "/", name);
}

// The scheduler's explanation for a missing or incomplete output.
struct SchedulerCause {
  std::string cause;
  std::string description;
};

SchedulerCause FindSchedulerCause(const v1::CheckOutput& order,
                                  const v1::Verdict& markers) {
  if (!markers.cause().empty()) {
    return {markers.cause(), markers.summary()};
  }
  const std::optional<absl::string_view> state =
      CanonicalSlurmState(order.scheduler_state());
  if (state.has_value()) {
    for (absl::string_view cause : kSchedulerCauses) {
      if (*state == cause) {
        return {std::string(cause),
                absl::StrCat("SLURM reported the job ", cause)};
      }
    }
  }
  return {};
}

// Judges the order's problem (missing, stale or incomplete output): wait
// while the grace period runs, then fail with the best cause.
void WaitOrFail(const v1::CheckOutput& order, absl::Time now,
                absl::Duration grace, const SchedulerCause& scheduler,
                absl::string_view cause, absl::string_view problem,
                v1::Verdict& verdict) {
  const absl::Time grace_end =
      order.has_finished_seen_at()
          ? FromTimestamp(order.finished_seen_at()) + grace
          : absl::InfinitePast();
  if (now < grace_end) {
    verdict.set_outcome(v1::Verdict::OUTCOME_INCONCLUSIVE);
    verdict.clear_cause();
    verdict.set_summary(absl::StrCat(problem, "; waiting until ",
                                     FormatUtc(grace_end),
                                     " (grace period) before judging"));
    return;
  }
  verdict.set_outcome(v1::Verdict::OUTCOME_FAILED);
  if (!scheduler.cause.empty()) {
    verdict.set_cause(scheduler.cause);
    verdict.set_summary(absl::StrCat(scheduler.description, "; ", problem));
  } else {
    verdict.set_cause(std::string(cause));
    verdict.set_summary(std::string(problem));
  }
}

// Adds the program's judgement (outcome, cause, summary, evidence, fields,
// warnings) to a verdict that carries the order's identity.
void MergeJudgement(const v1::Verdict& judged, v1::Verdict& verdict) {
  verdict.set_outcome(judged.outcome());
  verdict.set_cause(judged.cause());
  verdict.set_summary(judged.summary());
  verdict.mutable_evidence()->MergeFrom(judged.evidence());
  verdict.mutable_fields()->MergeFrom(judged.fields());
  verdict.mutable_warnings()->MergeFrom(judged.warnings());
}

}  // namespace

std::string OutputFileName(v1::Program program, absl::string_view basename) {
  return absl::StrCat(basename,
                      program == v1::PROGRAM_GAUSSIAN ? ".log" : ".out");
}

absl::StatusOr<std::unique_ptr<OutputChecker>> OutputChecker::Create(
    const ProgramRuleSets& rules, const common::FileSystem* fs,
    OutputCheckerOptions options) {
  std::unique_ptr<OutputChecker> checker(new OutputChecker(fs, options));
  for (v1::Program program : kAllPrograms) {
    CCB_ASSIGN_OR_RETURN(checker->judges_[program],
                         OutputJudge::Create(program, rules.For(program)));
  }
  CCB_ASSIGN_OR_RETURN(RuleSet markers,
                       ParseRuleFile(kSlurmMarkerRules, "slurm markers"));
  std::vector<RuleSet> sets;
  sets.push_back(std::move(markers));
  CCB_ASSIGN_OR_RETURN(checker->slurm_markers_,
                       RuleEngine::Create(std::move(sets)));
  return checker;
}

int64_t OutputChecker::parse_count() const {
  absl::MutexLock lock(&mu_);
  return parse_count_;
}

bool OutputChecker::Lookup(const std::string& path, v1::Program program,
                           const common::FileInfo& info,
                           v1::Verdict* verdict) const {
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(path);
  if (it == cache_.end() || it->second.program != program ||
      !(it->second.info == info)) {
    return false;
  }
  *verdict = it->second.verdict;
  return true;
}

void OutputChecker::Remember(const std::string& path, CachedJudgement entry) {
  absl::MutexLock lock(&mu_);
  ++parse_count_;
  auto [it, inserted] = cache_.insert_or_assign(path, std::move(entry));
  if (!inserted) return;
  cache_order_.push_back(path);
  while (cache_.size() > options_.max_cached_files && !cache_order_.empty()) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
}

absl::StatusOr<v1::Verdict> OutputChecker::JudgeFile(
    const std::string& path, v1::Program program,
    const common::FileInfo& info) {
  v1::Verdict judged;
  if (Lookup(path, program, info, &judged)) return judged;
  CCB_ASSIGN_OR_RETURN(const std::string text, fs_->ReadFile(path));
  judged = judges_.at(program)->Judge(text);
  Remember(path, CachedJudgement{program, info, judged});
  return judged;
}

v1::Verdict OutputChecker::SlurmMarkers(const std::string& path) {
  v1::Verdict markers;
  absl::StatusOr<common::FileInfo> info = fs_->Stat(path);
  if (!info.ok()) {
    if (!absl::IsNotFound(info.status())) {
      markers.add_warnings(
          absl::StrCat("cannot read scheduler log: ", info.status().message()));
    }
    return markers;
  }
  if (Lookup(path, v1::PROGRAM_UNSPECIFIED, *info, &markers)) return markers;
  absl::StatusOr<std::string> text = fs_->ReadFile(path);
  if (!text.ok()) {
    markers.add_warnings(
        absl::StrCat("cannot read scheduler log: ", text.status().message()));
    return markers;
  }
  const Extraction found = slurm_markers_->Extract(*text);
  for (const VariableResult& marker : found.sets[0]) {
    if (marker.matches.empty()) continue;
    const RuleMatch& line = marker.matches.front();
    v1::EvidenceLine* evidence = markers.add_evidence();
    evidence->set_line_number(line.line_number);
    // A scheduler log may hold any bytes; a verdict's strings must be UTF-8.
    evidence->set_text(common::ToValidUtf8(absl::StripTrailingAsciiWhitespace(
        common::Utf8Prefix(line.line, kMaxEvidenceText))));
    evidence->set_rule(marker.rule->name);
    evidence->set_file("slurm");
    if (markers.cause().empty()) {
      markers.set_cause(marker.rule->name);
      markers.set_summary(absl::StrCat(path, " line ", line.line_number,
                                       " says ", marker.rule->name));
    }
  }
  Remember(path, CachedJudgement{v1::PROGRAM_UNSPECIFIED, *info, markers});
  return markers;
}

absl::StatusOr<v1::Verdict> OutputChecker::Check(const v1::CheckOutput& order,
                                                 absl::Time now) {
  CCB_RETURN_IF_ERROR(CheckOrder(order));
  const bool adoption = order.slurm_job_id().empty();
  const std::string path = JoinPath(
      order.directory(), OutputFileName(order.program(), order.basename()));
  v1::Verdict verdict;
  verdict.set_job_key(order.job_key());
  verdict.set_slurm_job_id(order.slurm_job_id());
  verdict.set_attempt(order.attempt());
  verdict.set_output_path(path);
  *verdict.mutable_judged_at() = ToTimestamp(now);

  v1::Verdict markers;
  if (!adoption) {
    markers = SlurmMarkers(
        JoinPath(order.directory(),
                 absl::StrCat("slurm-", order.slurm_job_id(), ".out")));
    verdict.mutable_evidence()->MergeFrom(markers.evidence());
    verdict.mutable_warnings()->MergeFrom(markers.warnings());
  }
  const SchedulerCause scheduler = FindSchedulerCause(order, markers);
  const absl::Duration grace =
      adoption ? absl::ZeroDuration() : options_.grace_period;

  absl::StatusOr<common::FileInfo> info = fs_->Stat(path);
  if (!info.ok() && absl::IsNotFound(info.status()) && adoption) {
    verdict.set_summary(absl::StrCat("nothing to adopt: no ", path));
    return verdict;
  }
  if (!info.ok() || info->is_directory) {
    const std::string problem =
        info.ok() ? absl::StrCat(path, " is a directory")
        : absl::IsNotFound(info.status())
            ? absl::StrCat("no output ", path)
            : absl::StrCat("cannot stat output: ", info.status().message());
    WaitOrFail(order, now, grace, scheduler, "no_output", problem, verdict);
    return verdict;
  }
  verdict.set_output_size(info->size);
  *verdict.mutable_output_mtime() = ToTimestamp(info->mtime);

  if (!adoption && order.has_attempt_submitted_at() &&
      info->mtime < FromTimestamp(order.attempt_submitted_at()) -
                        options_.mtime_tolerance) {
    WaitOrFail(
        order, now, grace, scheduler, "output_predates_attempt",
        absl::StrCat(path, " was last modified at ", FormatUtc(info->mtime),
                     ", before the attempt was submitted"),
        verdict);
    return verdict;
  }

  absl::StatusOr<v1::Verdict> judged = JudgeFile(path, order.program(), *info);
  if (!judged.ok()) {
    WaitOrFail(order, now, grace, scheduler, "no_output",
               absl::StrCat("cannot read output: ", judged.status().message()),
               verdict);
    return verdict;
  }
  MergeJudgement(*judged, verdict);
  if (verdict.outcome() == v1::Verdict::OUTCOME_FAILED &&
      verdict.cause() == "incomplete_output") {
    WaitOrFail(order, now, grace, scheduler, "incomplete_output",
               judged->summary(), verdict);
  } else if (verdict.outcome() == v1::Verdict::OUTCOME_SUCCEEDED &&
             !scheduler.cause.empty()) {
    verdict.add_warnings(
        absl::StrCat(scheduler.description, ", but the output is complete"));
  }
  return verdict;
}

absl::StatusOr<v1::Verdict> CheckOutputFile(const std::string& path,
                                            const OutputJudge& judge,
                                            const common::FileSystem& fs,
                                            absl::Time now) {
  CCB_ASSIGN_OR_RETURN(const common::FileInfo info, fs.Stat(path));
  CCB_ASSIGN_OR_RETURN(const std::string text, fs.ReadFile(path));
  v1::Verdict verdict = judge.Judge(text);
  verdict.set_output_path(path);
  verdict.set_output_size(static_cast<int64_t>(text.size()));
  *verdict.mutable_output_mtime() = ToTimestamp(info.mtime);
  *verdict.mutable_judged_at() = ToTimestamp(now);
  return verdict;
}

}  // namespace ccbatch::agent

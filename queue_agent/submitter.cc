#include "queue_agent/submitter.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "queue_agent/squeue_parser.h"

namespace ccbatch::agent {
namespace {

using ::google::protobuf::util::TimeUtil;

// sbatch's and scancel's messages are quoted up to this size.
constexpr size_t kMaxQuoted = 2000;

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

std::string JoinPath(absl::string_view directory, absl::string_view name) {
  return absl::StrCat(absl::StripSuffix(directory, "/"), "/", name);
}

std::string Quoted(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() <= kMaxQuoted) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxQuoted), "...");
}

// What a program said about why it failed: stderr, else stdout.
std::string ProgramMessage(const common::ProcessResult& result) {
  std::string message = Quoted(result.stderr_text);
  if (message.empty()) message = Quoted(result.stdout_text);
  return message.empty() ? "(no message)" : message;
}

bool HasControlCharacter(absl::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status ValidateSubmitOrder(const v1::SubmitOrder& order) {
  const auto refuse = [&order](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("the agent refused submit order \"", order.order_id(),
                     "\" for job ", order.job_key(), ": ", why));
  };
  if (order.order_id().empty() || HasControlCharacter(order.order_id())) {
    return refuse("the order id is empty or holds control characters");
  }
  if (!absl::StartsWith(order.directory(), "/")) {
    return refuse(absl::StrCat("the job directory \"", order.directory(),
                               "\" is not an absolute path"));
  }
  if (order.basename().empty() || absl::StrContains(order.basename(), '/') ||
      HasControlCharacter(order.basename())) {
    return refuse(absl::StrCat("bad job basename \"", order.basename(), "\""));
  }
  if (order.program() == v1::PROGRAM_UNSPECIFIED ||
      !v1::Program_IsValid(order.program())) {
    return refuse("no program given");
  }
  if (order.attempt() < 1 || (order.is_retry() && order.attempt() < 2)) {
    return refuse(absl::StrCat("attempt ", order.attempt(),
                               " is not possible for a",
                               order.is_retry() ? " retry" : "n order"));
  }
  return absl::OkStatus();
}

v1::SubmitResult ErrorResult(const v1::SubmitOrder& order, std::string error) {
  v1::SubmitResult result;
  result.set_order_id(order.order_id());
  result.set_error(std::move(error));
  return result;
}

v1::SubmitResult IdResult(const v1::SubmitOrder& order, std::string id,
                          std::optional<absl::Time> submitted_at) {
  v1::SubmitResult result;
  result.set_order_id(order.order_id());
  result.set_slurm_job_id(std::move(id));
  if (submitted_at.has_value()) {
    *result.mutable_submitted_at() = ToProto(*submitted_at);
  }
  return result;
}

// The CheckOutput that judges an order's existing output as an adoption.
v1::CheckOutput AdoptionCheck(const v1::SubmitOrder& order) {
  v1::CheckOutput check;
  check.set_order_id(order.order_id());
  check.set_job_key(order.job_key());
  check.set_directory(order.directory());
  check.set_basename(order.basename());
  check.set_program(order.program());
  check.set_attempt(order.attempt());
  return check;
}

bool IsFinal(const v1::Verdict& verdict) {
  return verdict.outcome() == v1::Verdict::OUTCOME_SUCCEEDED ||
         verdict.outcome() == v1::Verdict::OUTCOME_FAILED;
}

// The job id part of "4812", "4812_7", "4812+1".
absl::string_view BaseJobId(absl::string_view id) {
  return id.substr(0, id.find_first_of("_+"));
}

}  // namespace

std::string OrderTag(absl::string_view order_id) {
  return absl::StrCat("ccb:", order_id);
}

absl::StatusOr<std::string> ParseSbatchJobId(absl::string_view stdout_text) {
  absl::string_view last;
  for (absl::string_view line : absl::StrSplit(stdout_text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) last = line;
  }
  const absl::string_view id = last.substr(0, last.find(';'));
  uint64_t number = 0;
  if (id.empty() || !absl::SimpleAtoi(id, &number) ||
      !absl::ascii_isdigit(id.front())) {
    return absl::InvalidArgumentError(
        absl::StrCat("sbatch --parsable printed no job id (stdout: \"",
                     Quoted(stdout_text), "\")"));
  }
  return std::string(id);
}

std::optional<std::string> FindTaggedJob(const QueueSnapshot& snapshot,
                                         absl::string_view tag) {
  for (const QueueRow& entry : snapshot.entries) {
    if (absl::StripAsciiWhitespace(entry.comment()) == tag) {
      return std::string(BaseJobId(entry.slurm_job_id()));
    }
  }
  return std::nullopt;
}

Submitter::Submitter(SubmitterOptions options, OrderJournal* journal,
                     OutputChecker* checker, common::ProcessRunner* runner,
                     common::FileSystem* fs, QueueView* queue,
                     const common::Clock* clock, const common::EventLog* log)
    : options_(std::move(options)),
      journal_(journal),
      checker_(checker),
      runner_(runner),
      fs_(fs),
      queue_(queue),
      clock_(clock),
      log_(log),
      own_metrics_(options_.metrics == nullptr
                       ? std::make_unique<common::MetricsRegistry>()
                       : nullptr),
      verdict_parse_seconds_(
          (options_.metrics != nullptr ? options_.metrics : own_metrics_.get())
              ->AddHistogram("ccbatch_agent_verdict_parse_seconds",
                             "Time to judge one output (read it and run the "
                             "program's rules), for CheckOutput orders and "
                             "adoption checks.",
                             common::LatencyBucketsSeconds())) {}

absl::StatusOr<v1::Verdict> Submitter::Judge(const v1::CheckOutput& check) {
  const absl::Time started = clock_->Now();
  absl::StatusOr<v1::Verdict> verdict = checker_->Check(check, started);
  verdict_parse_seconds_->ObserveDuration(clock_->Now() - started);
  return verdict;
}

void Submitter::LogOrder(common::LogLevel level, absl::string_view event,
                         const v1::SubmitOrder& order,
                         std::initializer_list<common::LogField> more) const {
  const std::string attempt = absl::StrCat(order.attempt());
  std::vector<common::LogField> fields = {{"job", order.job_key()},
                                          {"order_id", order.order_id()},
                                          {"attempt", attempt}};
  fields.insert(fields.end(), more.begin(), more.end());
  log_->Log(level, event, fields);
}

v1::SubmitResult Submitter::Submit(const v1::SubmitOrder& order) {
  if (absl::Status valid = ValidateSubmitOrder(order); !valid.ok()) {
    LogOrder(common::LogLevel::kWarning, "submit_refused", order,
             {{"error", valid.message()}});
    return ErrorResult(order, std::string(valid.message()));
  }
  std::optional<JournalEntry> known = journal_->Find(order.order_id());
  if (known.has_value() && known->result.has_value()) {
    LogOrder(common::LogLevel::kInfo, "submit_answered_from_journal", order);
    return *known->result;
  }
  std::optional<absl::Time> started_at;
  if (known.has_value()) started_at = known->started_at;
  return Run(order, started_at);
}

v1::SubmitResult Submitter::Run(const v1::SubmitOrder& order,
                                std::optional<absl::Time> started_at) {
  const std::string tag = OrderTag(order.order_id());
  if (started_at.has_value()) {
    absl::StatusOr<std::optional<v1::SubmitResult>> settled =
        SettleInFlight(order, *started_at);
    if (!settled.ok()) {
      // Not journaled: a later re-send may find the queue readable again.
      LogOrder(common::LogLevel::kWarning, "submit_unsettled", order,
               {{"error", settled.status().message()}});
      return ErrorResult(order, std::string(settled.status().message()));
    }
    if (settled->has_value()) return Answer(order, **settled);
  } else if (std::shared_ptr<const QueueSnapshot> latest = queue_->Latest()) {
    if (std::optional<std::string> id = FindTaggedJob(*latest, tag)) {
      LogOrder(common::LogLevel::kInfo, "submit_found_by_tag", order,
               {{"slurm_job_id", *id}});
      return Answer(order, IdResult(order, *id, std::nullopt));
    }
  }
  if (!order.is_retry()) {
    if (std::optional<v1::Verdict> verdict = Adoptable(order)) {
      LogOrder(common::LogLevel::kInfo, "submit_adopted_output", order,
               {{"outcome", v1::Verdict::Outcome_Name(verdict->outcome())},
                {"cause", verdict->cause()}});
      v1::SubmitResult result;
      result.set_order_id(order.order_id());
      *result.mutable_adopted() = std::move(*verdict);
      return Answer(order, std::move(result));
    }
  }
  if (absl::Status journaled =
          journal_->RecordStarted(order.order_id(), clock_->Now());
      !journaled.ok()) {
    LogOrder(common::LogLevel::kError, "journal_failed", order,
             {{"error", journaled.message()}});
    return ErrorResult(
        order, absl::StrCat("nothing was submitted: the agent could not "
                            "journal the order first (",
                            journaled.message(),
                            "); free space in the agent's --state_dir"));
  }
  if (order.is_retry()) {
    if (absl::Status archived = ArchivePreviousAttempt(order); !archived.ok()) {
      return Answer(order, ErrorResult(order, std::string(archived.message())));
    }
  }
  if (absl::Status copied = CopyTransfers(order); !copied.ok()) {
    LogOrder(common::LogLevel::kWarning, "transfer_failed", order,
             {{"error", copied.message()}});
    return Answer(order, ErrorResult(order, std::string(copied.message())));
  }
  return Answer(order, RunSbatch(order));
}

absl::StatusOr<std::optional<v1::SubmitResult>> Submitter::SettleInFlight(
    const v1::SubmitOrder& order, absl::Time started_at) {
  LogOrder(common::LogLevel::kInfo, "submit_in_flight_found", order,
           {{"started_at", absl::FormatTime(started_at)}});
  absl::StatusOr<std::optional<std::string>> found = FindInFreshSnapshot(order);
  if (!found.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the agent stopped while running this order and cannot tell whether "
        "sbatch ran: ",
        found.status().message(), ". Look for comment ",
        OrderTag(order.order_id()), " in squeue before retrying"));
  }
  if (found->has_value()) {
    LogOrder(common::LogLevel::kInfo, "submit_found_by_tag", order,
             {{"slurm_job_id", **found}});
    return IdResult(order, **found, started_at);
  }
  // Its job may have run and left the queue: an output written since the
  // order started is that job's.
  absl::StatusOr<v1::Verdict> verdict = Judge(AdoptionCheck(order));
  if (verdict.ok() && IsFinal(*verdict) &&
      FromProto(verdict->output_mtime()) >= started_at) {
    LogOrder(common::LogLevel::kInfo, "submit_adopted_output", order,
             {{"outcome", v1::Verdict::Outcome_Name(verdict->outcome())},
              {"why", "written since the unfinished order started"}});
    v1::SubmitResult result;
    result.set_order_id(order.order_id());
    *result.mutable_adopted() = *std::move(verdict);
    return result;
  }
  return std::optional<v1::SubmitResult>();
}

std::optional<v1::Verdict> Submitter::Adoptable(const v1::SubmitOrder& order) {
  absl::StatusOr<v1::Verdict> verdict = Judge(AdoptionCheck(order));
  if (!verdict.ok()) {
    LogOrder(common::LogLevel::kWarning, "adoption_check_failed", order,
             {{"error", verdict.status().message()}});
    return std::nullopt;
  }
  if (!IsFinal(*verdict)) return std::nullopt;
  return *std::move(verdict);
}

absl::Status Submitter::ArchivePreviousAttempt(const v1::SubmitOrder& order) {
  const std::string& directory = order.directory();
  const std::string archive = JoinPath(
      directory, absl::StrCat(".ccbatch/attempt-", order.attempt() - 1));
  absl::StatusOr<std::vector<std::string>> names =
      fs_->ListDirectory(directory);
  if (!names.ok()) {
    return absl::Status(names.status().code(),
                        absl::StrCat("retry: cannot list the job directory: ",
                                     names.status().message()));
  }
  // slurm-<id>.out of jobs still listed by squeue belong to live jobs
  // (perhaps another job sharing the directory): they stay.
  absl::flat_hash_set<std::string> listed;
  if (std::shared_ptr<const QueueSnapshot> latest = queue_->Latest()) {
    for (const QueueRow& entry : latest->entries) {
      listed.insert(std::string(entry.slurm_job_id()));
      listed.insert(std::string(BaseJobId(entry.slurm_job_id())));
    }
  }
  const std::string output = OutputFileName(order.program(), order.basename());
  std::vector<std::string> to_move;
  for (const std::string& name : *names) {
    absl::string_view id = name;
    const bool slurm_file =
        absl::ConsumePrefix(&id, "slurm-") && absl::ConsumeSuffix(&id, ".out");
    if (name == output || (slurm_file && !listed.contains(id))) {
      to_move.push_back(name);
    }
  }
  if (to_move.empty()) return absl::OkStatus();
  if (absl::Status made = fs_->CreateDirectories(archive); !made.ok()) {
    return absl::Status(
        made.code(),
        absl::StrCat("retry: cannot create ", archive, ": ", made.message()));
  }
  for (const std::string& name : to_move) {
    absl::Status moved =
        fs_->Rename(JoinPath(directory, name), JoinPath(archive, name));
    if (!moved.ok()) {
      return absl::Status(moved.code(),
                          absl::StrCat("retry: cannot move the previous "
                                       "attempt's ",
                                       name, " aside: ", moved.message()));
    }
  }
  LogOrder(common::LogLevel::kInfo, "retry_archived", order,
           {{"archive", archive}, {"files", absl::StrCat(to_move.size())}});
  return absl::OkStatus();
}

absl::Status Submitter::CopyTransfers(const v1::SubmitOrder& order) {
  for (const v1::FileTransfer& transfer : order.transfers()) {
    if (!absl::StartsWith(transfer.source(), "/") ||
        !absl::StartsWith(transfer.destination(), "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("transfer \"", transfer.source(), "\" -> \"",
                       transfer.destination(), "\": paths must be absolute"));
    }
    absl::StatusOr<common::FileInfo> source = fs_->Stat(transfer.source());
    if (!source.ok() && absl::IsNotFound(source.status())) {
      return absl::NotFoundError(
          absl::StrCat("transfer: ", transfer.source(),
                       " does not exist (the upstream job's file to copy to ",
                       transfer.destination(), ")"));
    }
    absl::Status copied =
        source.ok() ? fs_->CopyFile(transfer.source(), transfer.destination())
                    : source.status();
    if (!copied.ok()) {
      return absl::Status(
          copied.code(),
          absl::StrCat("transfer ", transfer.source(), " -> ",
                       transfer.destination(), ": ", copied.message()));
    }
  }
  return absl::OkStatus();
}

v1::SubmitResult Submitter::RunSbatch(const v1::SubmitOrder& order) {
  const std::string script =
      JoinPath(order.directory(), absl::StrCat(order.basename(), ".sh"));
  if (absl::StatusOr<common::FileInfo> info = fs_->Stat(script); !info.ok()) {
    return ErrorResult(order,
                       absl::StrCat("job script: ", info.status().message()));
  }
  common::ProcessRequest request;
  request.argv = {options_.sbatch_path, "--parsable",
                  absl::StrCat("--comment=", OrderTag(order.order_id())),
                  absl::StrCat("--chdir=", order.directory()), script};
  request.timeout = options_.command_timeout;
  request.working_directory = order.directory();
  const absl::Time submitted_at = clock_->Now();
  absl::StatusOr<common::ProcessResult> ran = runner_->Run(request);
  if (!ran.ok()) {
    LogOrder(common::LogLevel::kWarning, "sbatch_failed", order,
             {{"error", ran.status().message()}});
    return ErrorResult(
        order, absl::StrCat("could not run sbatch: ", ran.status().message()));
  }
  absl::StatusOr<std::string> id = ParseSbatchJobId(ran->stdout_text);
  if (ran->Succeeded() && id.ok()) {
    LogOrder(common::LogLevel::kInfo, "sbatch_submitted", order,
             {{"slurm_job_id", *id}});
    return IdResult(order, *id, submitted_at);
  }
  if (!ran->timed_out && ran->exit_code != 0) {
    const std::string message =
        absl::StrCat("sbatch exited with status ", ran->exit_code, ": ",
                     ProgramMessage(*ran));
    LogOrder(common::LogLevel::kWarning, "sbatch_refused", order,
             {{"error", message}});
    return ErrorResult(order, message);
  }
  // Timed out, killed, or exit 0 without an id: the job may exist.
  const std::string what =
      ran->timed_out
          ? absl::StrCat("sbatch timed out after ",
                         absl::FormatDuration(options_.command_timeout))
      : ran->term_signal != 0
          ? absl::StrCat("sbatch was killed by signal ", ran->term_signal)
          : std::string(id.status().message());
  absl::StatusOr<std::optional<std::string>> found = FindInFreshSnapshot(order);
  if (found.ok() && found->has_value()) {
    LogOrder(common::LogLevel::kInfo, "submit_found_by_tag", order,
             {{"slurm_job_id", **found}, {"after", what}});
    return IdResult(order, **found, submitted_at);
  }
  const std::string message =
      found.ok()
          ? absl::StrCat(what, "; no job tagged ", OrderTag(order.order_id()),
                         " is in the queue, so nothing was submitted")
          : absl::StrCat(what, " and the queue could not be checked (",
                         found.status().message(), "); look for comment ",
                         OrderTag(order.order_id()),
                         " in squeue before retrying");
  LogOrder(common::LogLevel::kWarning, "sbatch_uncertain", order,
           {{"error", message}});
  return ErrorResult(order, message);
}

absl::StatusOr<std::optional<std::string>> Submitter::FindInFreshSnapshot(
    const v1::SubmitOrder& order) {
  std::shared_ptr<const QueueSnapshot> snapshot =
      queue_->SnapshotAfter(clock_->Now(), options_.fresh_snapshot_wait);
  if (snapshot == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("no queue snapshot could be taken within ",
                     absl::FormatDuration(options_.fresh_snapshot_wait),
                     " (is squeue failing?)"));
  }
  return FindTaggedJob(*snapshot, OrderTag(order.order_id()));
}

v1::SubmitResult Submitter::Answer(const v1::SubmitOrder& order,
                                   v1::SubmitResult result) {
  if (absl::Status journaled = journal_->RecordResult(result);
      !journaled.ok()) {
    LogOrder(common::LogLevel::kError, "journal_failed", order,
             {{"error", journaled.message()}});
  }
  return result;
}

v1::CancelResult Submitter::Cancel(const v1::CancelOrder& order) {
  v1::CancelResult result;
  result.set_order_id(order.order_id());
  const std::vector<common::LogField> context = {
      {"job", order.job_key()},
      {"order_id", order.order_id()},
      {"slurm_job_id", order.slurm_job_id()}};
  const auto fail = [&](std::string error) {
    std::vector<common::LogField> fields = context;
    fields.emplace_back("error", error);
    log_->Warning("cancel_failed", fields);
    result.set_ok(false);
    result.set_error(std::move(error));
    return result;
  };
  if (!IsSlurmJobId(order.slurm_job_id())) {
    return fail(
        absl::StrCat("\"", order.slurm_job_id(), "\" is not a SLURM job id"));
  }
  common::ProcessRequest request;
  request.argv = {options_.scancel_path, order.slurm_job_id()};
  request.timeout = options_.command_timeout;
  absl::StatusOr<common::ProcessResult> ran = runner_->Run(request);
  if (!ran.ok()) {
    return fail(
        absl::StrCat("could not run scancel: ", ran.status().message()));
  }
  // A job that already ended (or was purged) is as cancelled as it gets.
  const bool gone =
      absl::StrContains(ran->stderr_text, "Invalid job id specified") ||
      absl::StrContains(ran->stderr_text, "already completing or completed");
  if (ran->timed_out) {
    return fail(absl::StrCat("scancel timed out after ",
                             absl::FormatDuration(options_.command_timeout)));
  }
  if (ran->exit_code != 0 && !gone) {
    return fail(absl::StrCat("scancel exited with status ", ran->exit_code,
                             ": ", ProgramMessage(*ran)));
  }
  std::vector<common::LogField> fields = context;
  fields.emplace_back("already_gone", gone ? "true" : "false");
  log_->Info("cancelled", fields);
  result.set_ok(true);
  return result;
}

v1::CheckOutputResult Submitter::CheckOutput(const v1::CheckOutput& order) {
  v1::CheckOutputResult result;
  result.set_order_id(order.order_id());
  absl::StatusOr<v1::Verdict> verdict = Judge(order);
  if (!verdict.ok()) {
    log_->Warning("check_output_refused",
                  {{"job", order.job_key()},
                   {"order_id", order.order_id()},
                   {"error", verdict.status().message()}});
    v1::Verdict* refused = result.mutable_verdict();
    refused->set_job_key(order.job_key());
    refused->set_slurm_job_id(order.slurm_job_id());
    refused->set_attempt(order.attempt());
    refused->set_summary(std::string(verdict.status().message()));
    *refused->mutable_judged_at() = ToProto(clock_->Now());
    return result;
  }
  log_->Info("verdict",
             {{"job", order.job_key()},
              {"order_id", order.order_id()},
              {"slurm_job_id", order.slurm_job_id()},
              {"outcome", v1::Verdict::Outcome_Name(verdict->outcome())},
              {"cause", verdict->cause()}});
  *result.mutable_verdict() = *std::move(verdict);
  return result;
}

}  // namespace ccbatch::agent

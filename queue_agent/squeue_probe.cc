#include "queue_agent/squeue_probe.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/time_util.h"

namespace ccbatch::agent {
namespace {

// squeue's stderr is quoted in failures up to this size.
constexpr size_t kMaxQuotedStderr = 4096;

// squeue's own message, trimmed and bounded.
std::string QuotedStderr(const common::ProcessResult& result) {
  absl::string_view text = absl::StripAsciiWhitespace(result.stderr_text);
  if (text.size() <= kMaxQuotedStderr) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxQuotedStderr), "...");
}

std::string WithStderr(std::string what, const std::string& stderr_text) {
  if (stderr_text.empty()) return what;
  return absl::StrCat(what, ": ", stderr_text);
}

bool IsBlank(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

absl::Status ValidateOptions(const SqueueProbeOptions& options) {
  if (options.user.empty()) {
    return absl::InvalidArgumentError(
        "squeue probe: no user given; pass the agent's own user name");
  }
  if (options.user.front() == '-' ||
      std::any_of(options.user.begin(), options.user.end(),
                  [](char c) { return absl::ascii_isspace(c) || c == ','; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "squeue probe: \"", absl::CHexEscape(options.user),
        "\" is not a user name squeue can take (leading '-', whitespace or "
        "',')"));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("squeue probe: timeout must be positive, got ",
                     absl::FormatDuration(options.timeout)));
  }
  if (options.squeue_path.empty()) {
    return absl::InvalidArgumentError("squeue probe: empty squeue path");
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& SqueueEnvironmentToClear() {
  static const auto* const names = new std::vector<std::string>{
      "SQUEUE_ACCOUNT",      "SQUEUE_ALL",        "SQUEUE_ARRAY",
      "SQUEUE_ARRAY_UNIQUE", "SQUEUE_FEDERATION", "SQUEUE_FORMAT",
      "SQUEUE_FORMAT2",      "SQUEUE_LICENSES",   "SQUEUE_LOCAL",
      "SQUEUE_NAMES",        "SQUEUE_PARTITION",  "SQUEUE_PRIORITY",
      "SQUEUE_QOS",          "SQUEUE_SIB",        "SQUEUE_SIBLING",
      "SQUEUE_SORT",         "SQUEUE_STATES",     "SQUEUE_USERS",
      "SLURM_CLUSTERS",      "SLURM_BITSTR_LEN",
  };
  return *names;
}

absl::StatusOr<std::unique_ptr<SqueueProbe>> SqueueProbe::Create(
    SqueueProbeOptions options, common::ProcessRunner* runner,
    const common::Clock* clock) {
  absl::Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  return std::unique_ptr<SqueueProbe>(
      new SqueueProbe(std::move(options), runner, clock));
}

SqueueProbe::SqueueProbe(SqueueProbeOptions options,
                         common::ProcessRunner* runner,
                         const common::Clock* clock)
    : options_(std::move(options)), runner_(runner), clock_(clock) {}

std::vector<std::string> SqueueProbe::Argv() const {
  // Long options with '=': no value can be mistaken for an option, the way
  // `-u $USER -h` with an empty $USER takes "-h" as the user (lab report §5).
  return {options_.squeue_path,
          "--noheader",
          "--array",
          "--states=all",
          absl::StrCat("--user=", options_.user),
          absl::StrCat("--format=", kAgentSqueueFormat)};
}

ProbeOutcome SqueueProbe::Probe() const {
  common::ProcessRequest request;
  request.argv = Argv();
  request.timeout = options_.timeout;
  request.env_unset = SqueueEnvironmentToClear();

  const absl::Time started = clock_->Now();
  absl::StatusOr<common::ProcessResult> result = runner_->Run(request);
  const absl::Duration took =
      std::max(clock_->Now() - started, absl::ZeroDuration());
  if (!result.ok()) {
    return Failure(
        started, -1,
        absl::StrCat("could not run squeue: ", result.status().message()));
  }
  return Judge(*std::move(result), started, took);
}

v1::ProbeFailure SqueueProbe::Failure(absl::Time started, int exit_code,
                                      std::string error) const {
  v1::ProbeFailure failure;
  *failure.mutable_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(started));
  failure.set_exit_code(exit_code);
  failure.set_error(std::move(error));
  return failure;
}

ProbeOutcome SqueueProbe::Judge(common::ProcessResult result,
                                absl::Time started, absl::Duration took) const {
  const std::string stderr_text = QuotedStderr(result);
  if (result.timed_out) {
    return Failure(
        started, -1,
        WithStderr(absl::StrCat("squeue timed out after ",
                                absl::FormatDuration(options_.timeout),
                                " and was killed"),
                   stderr_text));
  }
  if (result.term_signal != 0) {
    return Failure(started, -1,
                   WithStderr(absl::StrCat("squeue was killed by signal ",
                                           result.term_signal),
                              stderr_text));
  }
  if (result.exit_code != 0) {
    return Failure(
        started, result.exit_code,
        WithStderr(absl::StrCat("squeue exited with status ", result.exit_code),
                   stderr_text));
  }
  if (result.stdout_truncated) {
    return Failure(
        started, 0,
        absl::StrCat("squeue printed more than the ", result.stdout_text.size(),
                     " bytes the agent keeps"));
  }
  if (IsBlank(result.stdout_text) && !stderr_text.empty()) {
    // `squeue -u nosuchuser` exits 0 like this (lab report §5).
    return Failure(
        started, 0,
        WithStderr("squeue listed no jobs and reported an error", stderr_text));
  }

  // The snapshot keeps the output itself; its entries are views into it.
  auto text =
      std::make_shared<const std::string>(std::move(result.stdout_text));
  ParsedSqueueRows parsed = parser_.ParseRows(*text);
  const int64_t malformed = parsed.diagnostics.malformed_lines();
  if (malformed > 0 && malformed * 2 > parsed.lines) {
    return Failure(
        started, 0,
        WithStderr(
            absl::StrCat(
                "squeue output does not parse: ", malformed, " of ",
                parsed.lines, " lines malformed (",
                absl::StrJoin(parsed.diagnostics.malformed_samples(), "; "),
                ")"),
            stderr_text));
  }
  QueueSnapshot snapshot;
  snapshot.taken_at = started;
  snapshot.probe_duration = took;
  snapshot.entries = std::move(parsed.rows);
  snapshot.entries_are_utf8 = parsed.rows_are_utf8;
  snapshot.text = std::move(text);
  snapshot.diagnostics = std::move(parsed.diagnostics);
  snapshot.diagnostics.set_probe_millis(absl::ToInt64Milliseconds(took));
  return snapshot;
}

}  // namespace ccbatch::agent

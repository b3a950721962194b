// ccctl's commands: each turns parsed flags into LedgerService calls and
// writes the rendered answer. The argument parsing is in ccctl_app.h; the
// rendering in *_rendering.h. Commands write results to `out` and nothing
// else; errors are returned (the caller prints them and picks the exit code
// with ExitCodeFor), notes for a person (e.g. "stopped watching") go to
// `err`.
//
// Thread-compatible: one command runs at a time.
#ifndef CCBATCH_CLI_COMMANDS_H_
#define CCBATCH_CLI_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccbatch/v1/ledger.pb.h"
#include "cli/ledger_client.h"
#include "cli/output_format.h"
#include "common/clock.h"
#include "common/file_system.h"

namespace ccbatch::cli {

// Everything a command touches besides the ledger. Not owned.
struct CommandEnv {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  const common::Clock* clock = nullptr;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  // `out` is a terminal: `status --watch` redraws the screen.
  bool out_is_tty = false;
  // ANSI colours (a terminal without NO_COLOR).
  bool color = false;
  common::FileSystem* fs = nullptr;
  // Fired by Ctrl-C; may be null.
  CallCanceller* canceller = nullptr;

  // Options for rendering now (reads the clock).
  RenderOptions Render() const;
};

struct ImportFlags {
  std::string file;
  std::string batch;
  std::string cluster;
  std::optional<int32_t> max_parallel;
  bool paused = false;
  // Comma-separated failure causes; empty: not given.
  std::string retry_on;
  std::optional<int32_t> max_attempts;
  bool dry_run = false;
  OutputFormat format = OutputFormat::kTable;
};

// Reads and checks the batchfile with the flags applied; no ledger needed.
// Errors are local (exit 2): the reader's "file:line: ..." lines, or a flag
// that does not fit.
absl::StatusOr<ccbatch::v1::ImportBatchRequest> PrepareImport(
    const ImportFlags& flags, const CommandEnv& env);

// Prints the dry run of `request`.
absl::Status RunImportDryRun(const ccbatch::v1::ImportBatchRequest& request,
                             OutputFormat format, const CommandEnv& env);

absl::Status RunImport(const ccbatch::v1::ImportBatchRequest& request,
                       OutputFormat format, LedgerClient& ledger,
                       const CommandEnv& env);

// `pause` true: PauseBatch, else ResumeBatch.
absl::Status RunPause(const std::string& batch, bool pause, OutputFormat format,
                      LedgerClient& ledger, const CommandEnv& env);

struct StatusFlags {
  std::string batch;
  bool watch = false;
  OutputFormat format = OutputFormat::kTable;
};

// Summary, or with `watch` the live view from the Watch stream until every
// job is final (or Ctrl-C through env.canceller). With -o json, --watch
// prints each WatchResponse as one line of compact JSON.
absl::Status RunStatus(const StatusFlags& flags, LedgerClient& ledger,
                       const CommandEnv& env);

struct JobsFlags {
  std::string batch;
  // Comma-separated statuses; empty: all.
  std::string statuses;
  std::string cluster;
  std::string name_prefix;
  // At most this many jobs; 0: all (fetched page by page).
  int32_t limit = 0;
  OutputFormat format = OutputFormat::kTable;
};

absl::Status RunJobs(const JobsFlags& flags, LedgerClient& ledger,
                     const CommandEnv& env);

absl::Status RunShow(const std::string& key, OutputFormat format,
                     LedgerClient& ledger, const CommandEnv& env);

absl::Status RunExplain(const std::string& key, OutputFormat format,
                        LedgerClient& ledger, const CommandEnv& env);

struct RetryFlags {
  std::vector<std::string> keys;
  // --failed: every FAILED job of `batch`, or of every batch if empty.
  bool failed = false;
  std::string batch;
  OutputFormat format = OutputFormat::kTable;
};

absl::Status RunRetry(const RetryFlags& flags, LedgerClient& ledger,
                      const CommandEnv& env);

struct CancelFlags {
  std::vector<std::string> keys;
  // Instead of keys: every job of this batch that is not final.
  std::string batch;
  OutputFormat format = OutputFormat::kTable;
};

absl::Status RunCancel(const CancelFlags& flags, LedgerClient& ledger,
                       const CommandEnv& env);

absl::Status RunClusters(OutputFormat format, LedgerClient& ledger,
                         const CommandEnv& env);

struct ExportFlags {
  std::string batch;
  // Empty: standard output.
  std::string out_file;
};

absl::Status RunExport(const ExportFlags& flags, LedgerClient& ledger,
                       const CommandEnv& env);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_COMMANDS_H_

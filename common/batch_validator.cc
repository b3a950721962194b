#include "common/batch_validator.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "ledger_service/dependency_graph.h"

namespace ccbatch::common {
namespace {

using ::ccbatch::v1::BatchDefinition;
using ::ccbatch::v1::JobDefinition;
using ::ccbatch::v1::PipeSource;

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text), "\"");
}

bool IsControl(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

absl::Status CheckSimpleName(absl::string_view what, absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", name.size(), " bytes long; at most ",
                     kMaxNameLength, " are allowed"));
  }
  if (!absl::ascii_isalnum(name.front()) ||
      !std::all_of(name.begin(), name.end(), IsNameChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", Quote(name),
        " may only contain letters, digits, '.', '_' and '-', and must start "
        "with a letter or digit"));
  }
  return absl::OkStatus();
}

// Collects defects; renders at most kMaxReportedDefects of them.
class DefectList final {
 public:
  void Add(std::string defect) { defects_.push_back(std::move(defect)); }
  void Add(absl::string_view context, const absl::Status& status) {
    if (!status.ok()) Add(absl::StrCat(context, status.message()));
  }

  absl::Status ToStatus() const {
    if (defects_.empty()) return absl::OkStatus();
    const size_t shown =
        std::min(defects_.size(), static_cast<size_t>(kMaxReportedDefects));
    std::string message =
        absl::StrJoin(defects_.begin(), defects_.begin() + shown, "\n");
    if (shown < defects_.size()) {
      absl::StrAppend(&message, "\nand ", defects_.size() - shown,
                      " more defects");
    }
    return absl::InvalidArgumentError(message);
  }

 private:
  std::vector<std::string> defects_;
};

bool IsInside(absl::string_view directory, absl::string_view root) {
  if (root == "/") return true;
  return directory == root ||
         (absl::StartsWith(directory, root) && directory.size() > root.size() &&
          directory[root.size()] == '/');
}

void CheckBatchFields(const BatchDefinition& batch, DefectList& defects) {
  const std::string context = absl::StrCat("batch ", Quote(batch.name()), ": ");
  defects.Add(context, CheckBatchName(batch.name()));
  if (!batch.cluster().empty()) {
    defects.Add(context, CheckClusterName(batch.cluster()));
  }
  if (batch.max_parallel() < 0) {
    defects.Add(absl::StrCat(context, "max_parallel is ", batch.max_parallel(),
                             "; it must be >= 0 (0 means no limit)"));
  }
  defects.Add(absl::StrCat(context, "run_root_directory: "),
              CheckNormalizedAbsolutePath(batch.run_root_directory()));
  const auto& retry = batch.retry_policy();
  for (const std::string& cause : retry.retry_on()) {
    defects.Add(absl::StrCat(context, "retry_policy.retry_on: "),
                CheckRetryCause(cause));
  }
  if (retry.max_attempts() < 0 || retry.max_attempts() > kMaxAttempts) {
    defects.Add(absl::StrCat(context, "retry_policy.max_attempts is ",
                             retry.max_attempts(), "; it must be 0..",
                             kMaxAttempts));
  }
  if (batch.jobs().empty()) {
    defects.Add(absl::StrCat(context, "has no jobs (send at least one)"));
  }
}

std::string JobContext(const JobDefinition& job, int index) {
  return absl::StrCat("job ", Quote(job.key()), " (jobs[", index, "]): ");
}

// Defects of one job, each prefixed with the job's key, position and
// `field_prefix`. The prefix is only built for a defect: the ledger validates
// batches of 100,000 jobs.
class JobDefects final {
 public:
  JobDefects(const JobDefinition& job, int index, DefectList& defects,
             absl::string_view field_prefix = "")
      : job_(job),
        index_(index),
        defects_(defects),
        field_prefix_(field_prefix) {}

  void Add(absl::string_view what) {
    defects_.Add(absl::StrCat(JobContext(job_, index_), field_prefix_, what));
  }
  void Check(absl::string_view field, const absl::Status& status) {
    if (!status.ok()) Add(absl::StrCat(field, ": ", status.message()));
  }

 private:
  const JobDefinition& job_;
  const int index_;
  DefectList& defects_;
  const absl::string_view field_prefix_;
};

bool IsKeyOf(absl::string_view key, absl::string_view batch,
             absl::string_view basename) {
  return key.size() == batch.size() + 1 + basename.size() &&
         absl::StartsWith(key, batch) && key[batch.size()] == '/' &&
         absl::EndsWith(key, basename);
}

void CheckJobFields(const BatchDefinition& batch, const JobDefinition& job,
                    int index, DefectList& defects) {
  JobDefects job_defects(job, index, defects);
  job_defects.Check("basename", CheckJobBasename(job.basename()));
  if (!IsKeyOf(job.key(), batch.name(), job.basename())) {
    job_defects.Add(
        absl::StrCat("key must be \"<batch>/<basename>\" = ",
                     Quote(absl::StrCat(batch.name(), "/", job.basename()))));
  }
  const absl::Status directory = CheckNormalizedAbsolutePath(job.directory());
  job_defects.Check("directory", directory);
  if (directory.ok() &&
      !IsInside(job.directory(), batch.run_root_directory())) {
    job_defects.Add(absl::StrCat("directory ", Quote(job.directory()),
                                 " is outside run_root_directory ",
                                 Quote(batch.run_root_directory())));
  }
  if (!job.relative_directory().empty()) {
    job_defects.Check("relative_directory",
                      CheckPathText(job.relative_directory()));
  }
  if (job.program() == ccbatch::v1::PROGRAM_UNSPECIFIED ||
      !ccbatch::v1::Program_IsValid(job.program())) {
    job_defects.Add(
        "program is not specified (set one of GAUSSIAN, ORCA, XTB, CREST, "
        "PYAROMA)");
  }
  if (job.order() != index) {
    job_defects.Add(absl::StrCat("order is ", job.order(),
                                 "; it must equal the job's position ", index));
  }
}

// Indexes jobs by a string field (first occurrence wins); records duplicates
// as defects when `defects` is not null.
absl::flat_hash_map<std::string, int> IndexUnique(
    const BatchDefinition& batch, absl::string_view field,
    const std::string& (JobDefinition::*get)() const, DefectList* defects) {
  absl::flat_hash_map<std::string, int> index_of;
  index_of.reserve(batch.jobs_size());
  for (int i = 0; i < batch.jobs_size(); ++i) {
    const JobDefinition& job = batch.jobs(i);
    const std::string& value = (job.*get)();
    if (value.empty()) continue;  // reported by CheckJobFields
    auto [it, inserted] = index_of.emplace(value, i);
    if (!inserted && defects != nullptr) {
      defects->Add(absl::StrCat(JobContext(job, i), field, " ", Quote(value),
                                " is also the ", field, " of job ",
                                Quote(batch.jobs(it->second).key()), " (jobs[",
                                it->second, "])"));
    }
  }
  return index_of;
}

void CheckPipe(const BatchDefinition& batch, const JobDefinition& job,
               int index, absl::string_view field_prefix,
               const PipeSource& pipe,
               const absl::flat_hash_map<std::string, int>& index_of_key,
               DefectList& defects) {
  JobDefects pipe_defects(job, index, defects, field_prefix);
  pipe_defects.Check("directory", CheckPathText(pipe.directory()));
  pipe_defects.Check("filename", CheckPathText(pipe.filename()));
  if (pipe.upstream_key().empty()) {
    pipe_defects.Add(
        "upstream_key is empty (name the job the file comes from)");
    return;
  }
  if (!std::binary_search(job.upstream_keys().begin(),
                          job.upstream_keys().end(), pipe.upstream_key())) {
    pipe_defects.Add(absl::StrCat("upstream_key ", Quote(pipe.upstream_key()),
                                  " is not listed in upstream_keys"));
  }
  const auto it = index_of_key.find(pipe.upstream_key());
  if (it == index_of_key.end()) return;  // reported with upstream_keys
  const std::string& upstream_directory = batch.jobs(it->second).directory();
  if (pipe.resolved_directory() != upstream_directory) {
    pipe_defects.Add(
        absl::StrCat("resolved_directory ", Quote(pipe.resolved_directory()),
                     " is not the directory ", Quote(upstream_directory),
                     " of upstream job ", Quote(pipe.upstream_key())));
  }
}

// Checks upstream_keys and returns the resolvable edges (upstream[i] = jobs
// that job i depends on) for cycle detection.
std::vector<std::vector<int>> CheckUpstreamKeys(
    const BatchDefinition& batch,
    const absl::flat_hash_map<std::string, int>& index_of_key,
    DefectList& defects) {
  std::vector<std::vector<int>> upstream(batch.jobs_size());
  for (int i = 0; i < batch.jobs_size(); ++i) {
    const JobDefinition& job = batch.jobs(i);
    const auto& keys = job.upstream_keys();
    if (std::adjacent_find(keys.begin(), keys.end(),
                           std::greater_equal<std::string>()) != keys.end()) {
      JobDefects(job, i, defects)
          .Add("upstream_keys must be sorted and without duplicates");
    }
    for (const std::string& key : keys) {
      const auto it = index_of_key.find(key);
      if (it == index_of_key.end()) {
        JobDefects(job, i, defects)
            .Add(absl::StrCat("upstream_keys: ", Quote(key),
                              " is no job of batch ", Quote(batch.name())));
      } else if (it->second == i) {
        JobDefects(job, i, defects)
            .Add("upstream_keys: the job depends on itself");
      } else {
        upstream[i].push_back(it->second);
      }
    }
  }
  return upstream;
}

void CheckNoCycle(const BatchDefinition& batch,
                  const std::vector<std::vector<int>>& upstream,
                  DefectList& defects) {
  const std::optional<std::vector<int>> cycle =
      ccbatch::ledger::FindCycle(upstream);
  if (!cycle.has_value() || cycle->empty()) return;
  std::vector<std::string> keys;
  for (int index : *cycle) keys.push_back(Quote(batch.jobs(index).key()));
  keys.push_back(keys.front());
  defects.Add(absl::StrCat("batch ", Quote(batch.name()), ": dependency cycle ",
                           absl::StrJoin(keys, " -> "),
                           " (each job takes files from the next)"));
}

}  // namespace

absl::Status CheckBatchName(absl::string_view name) {
  return CheckSimpleName("batch name", name);
}

absl::Status CheckClusterName(absl::string_view name) {
  return CheckSimpleName("cluster name", name);
}

absl::Status CheckJobBasename(absl::string_view basename) {
  if (basename.empty()) return absl::InvalidArgumentError("basename is empty");
  if (basename.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("basename is ", basename.size(), " bytes long; at most ",
                     kMaxNameLength, " are allowed"));
  }
  if (basename == "." || basename == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("basename ", Quote(basename), " is not a file name"));
  }
  for (char c : basename) {
    if (c == '/' || c == '|' || absl::ascii_isspace(c) || IsControl(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "basename ", Quote(basename),
          " contains '/', '|', white space or a control character; it names "
          "the job's files, so use e.g. letters, digits, '_', '-', '.'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPathText(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("path is empty");
  if (path.size() > kMaxPathLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("path is ", path.size(), " bytes long; at most ",
                     kMaxPathLength, " are allowed"));
  }
  for (char c : path) {
    if (c == '|' || IsControl(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "path ", Quote(path), " contains '|' or a control character"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNormalizedAbsolutePath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("path is empty");
  if (path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path ", Quote(path), " is not absolute"));
  }
  CCB_RETURN_IF_ERROR(CheckPathText(path));
  if (path == "/") return absl::OkStatus();
  for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "path ", Quote(path),
          " is not in normal form (no \"//\", \".\", \"..\" or trailing '/')"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRetryCause(absl::string_view cause) {
  static constexpr absl::string_view kSlurmCauses[] = {
      "BOOT_FAIL", "CANCELLED",     "DEADLINE",  "FAILED",
      "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"};
  if (cause.empty() || cause.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry cause must be 1..", kMaxNameLength, " bytes long"));
  }
  const bool lower = std::all_of(cause.begin(), cause.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
  });
  if (lower) return absl::OkStatus();
  if (std::find(std::begin(kSlurmCauses), std::end(kSlurmCauses), cause) !=
      std::end(kSlurmCauses)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("retry cause ", Quote(cause), " is neither a SLURM state (",
                   absl::StrJoin(kSlurmCauses, ", "),
                   ") nor a lower-case verdict cause such as scf_fail"));
}

absl::Status ValidateBatch(const BatchDefinition& batch) {
  DefectList defects;
  CheckBatchFields(batch, defects);
  for (int i = 0; i < batch.jobs_size(); ++i) {
    CheckJobFields(batch, batch.jobs(i), i, defects);
  }
  IndexUnique(batch, "basename", &JobDefinition::basename, &defects);
  IndexUnique(batch, "directory", &JobDefinition::directory, &defects);
  // Keys are "<batch>/<basename>" (checked above), so a duplicate key is a
  // duplicate basename already reported.
  const absl::flat_hash_map<std::string, int> index_of_key =
      IndexUnique(batch, "key", &JobDefinition::key, nullptr);
  for (int i = 0; i < batch.jobs_size(); ++i) {
    const JobDefinition& job = batch.jobs(i);
    if (job.has_coords()) {
      CheckPipe(batch, job, i, "coords.", job.coords(), index_of_key, defects);
    }
    if (job.has_orbitals()) {
      CheckPipe(batch, job, i, "orbitals.", job.orbitals(), index_of_key,
                defects);
    }
  }
  CheckNoCycle(batch, CheckUpstreamKeys(batch, index_of_key, defects), defects);
  return defects.ToStatus();
}

}  // namespace ccbatch::common

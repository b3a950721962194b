#include "cli/batchfile_reader.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/batch_validator.h"
#include "common/program_names.h"
#include "common/status_macros.h"
#include "ledger_service/dependency_graph.h"

namespace ccbatch::cli {
namespace {

using ::ccbatch::v1::BatchDefinition;
using ::ccbatch::v1::JobDefinition;
using ::ccbatch::v1::PipeSource;
using ::ccbatch::v1::Program;

constexpr absl::string_view kRootKey = "run_root_directory";
constexpr absl::string_view kHeaderFields[] = {"job_basename", "job_directory",
                                               "program", "pipe"};
constexpr absl::string_view kHeader = "job_basename|job_directory|program|pipe";
constexpr absl::string_view kSettingKeys[] = {
    "batch", "cluster", "max_parallel", "retry_on", "max_attempts"};
constexpr int32_t kDefaultMaxAttempts = 3;

struct ProgramSpelling {
  Program program;
  absl::string_view name;
};
constexpr ProgramSpelling kPrograms[] = {
    {ccbatch::v1::PROGRAM_GAUSSIAN, "Gaussian"},
    {ccbatch::v1::PROGRAM_ORCA, "ORCA"},
    {ccbatch::v1::PROGRAM_CREST, "CREST"},
    {ccbatch::v1::PROGRAM_XTB, "xTB"},
    {ccbatch::v1::PROGRAM_PYAROMA, "pyAroma"},
};

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text), "\"");
}

// Offset of the first byte that does not belong to a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF are
// ill-formed), or npos when `text` is valid.
size_t FindInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    uint32_t smallest;
    if ((lead & 0xe0) == 0xc0) {
      length = 2, code_point = lead & 0x1f, smallest = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, code_point = lead & 0x0f, smallest = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, code_point = lead & 0x07, smallest = 0x10000;
    } else {
      return i;
    }
    if (text.size() - i < length) return i;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return i;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    if (code_point < smallest || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return i;
    }
    i += length;
  }
  return absl::string_view::npos;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = diagonal + (absl::ascii_tolower(a[i - 1]) !=
                                              absl::ascii_tolower(b[j - 1]));
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return row[b.size()];
}

// " (did you mean X?)" for the candidate closest to `word`, if close enough
// to be a plausible typo; else "".
template <typename Range, typename Name>
std::string Suggestion(absl::string_view word, const Range& candidates,
                       Name name_of) {
  absl::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& candidate : candidates) {
    const absl::string_view name = name_of(candidate);
    // A word that extends a candidate ("batchname") is as plausible a slip
    // as one wrong letter.
    const size_t distance =
        absl::StartsWithIgnoreCase(word, name) ? 1 : EditDistance(word, name);
    if (distance < best_distance) {
      best_distance = distance;
      best = name;
    }
  }
  if (best_distance > 3 || best_distance >= best.size()) return "";
  return absl::StrCat("; did you mean ", best, "?");
}

// Lexical normal form of an absolute path: "//", "." and ".." collapsed
// ("/.." is "/").
std::string NormalizeAbsolute(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

// `path` resolved against the absolute, normalised directory `base`.
std::string Resolve(absl::string_view base, absl::string_view path) {
  if (absl::StartsWith(path, "/")) return NormalizeAbsolute(path);
  return NormalizeAbsolute(absl::StrCat(base, "/", path));
}

bool IsInside(absl::string_view path, absl::string_view root) {
  if (root == "/") return true;
  return path == root ||
         (absl::StartsWith(path, root) && path.size() > root.size() &&
          path[root.size()] == '/');
}

bool HasDotDotComponent(absl::string_view path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return false;
}

std::vector<std::string> SplitTrimmed(absl::string_view text, char separator) {
  std::vector<std::string> fields;
  for (absl::string_view field : absl::StrSplit(text, separator)) {
    fields.emplace_back(absl::StripAsciiWhitespace(field));
  }
  return fields;
}

// A `coords{DIR,FILE}` or `orbitals{DIR,FILE}` item as written.
struct PipeSpec {
  std::string directory;
  std::string filename;  // empty: the default
};

// One job row, checked field by field but not yet linked to other rows.
struct JobRow {
  int line = 0;
  std::string basename;
  std::string relative_directory;
  std::string directory;  // absolute, normalised; empty when unknown
  Program program = ccbatch::v1::PROGRAM_UNSPECIFIED;
  std::optional<PipeSpec> coords;
  std::optional<PipeSpec> orbitals;
  // Filled when the pipes are resolved.
  std::optional<PipeSource> coords_source;
  std::optional<PipeSource> orbitals_source;
  std::vector<int> upstream;  // row indices, sorted, unique
};

class BatchfileParser final {
 public:
  BatchfileParser(absl::string_view file_name, const BatchfileOptions& options)
      : file_name_(file_name), options_(options) {}

  absl::StatusOr<BatchDefinition> Parse(absl::string_view contents);

 private:
  enum class Section { kRoot, kSettings, kRows };

  void AddDefect(int line, absl::string_view what);
  absl::Status DefectStatus();

  void ParseLine(int line, absl::string_view text);
  void ParseRoot(int line, absl::string_view value);
  void ParseSettingsLine(int line, absl::string_view text);
  void ParseSetting(int line, absl::string_view key, absl::string_view value);
  void ParseRetryOn(int line, absl::string_view value);
  std::optional<int32_t> ParseInteger(int line, absl::string_view key,
                                      absl::string_view value, int32_t min,
                                      int32_t max);
  void ParseRow(int line, absl::string_view text);
  void ParseRowDirectory(JobRow& row);
  void ParsePipeField(JobRow& row, absl::string_view field);
  void CheckUnique(const JobRow& row, int index);
  void CheckEndOfFile();

  void ResolvePipes();
  std::optional<PipeSource> ResolvePipe(JobRow& row, absl::string_view command,
                                        const PipeSpec& spec);
  void CheckNoCycle();
  std::string DisplayDirectory(absl::string_view directory) const;

  void ResolveNames();
  BatchDefinition Assemble() const;

  const std::string file_name_;
  const BatchfileOptions options_;

  std::vector<std::pair<int, std::string>> defects_;  // (line, text)

  Section section_ = Section::kRoot;
  bool seen_content_ = false;
  int last_content_line_ = 0;
  int header_line_ = 0;
  std::string root_;  // normalised; empty when missing or invalid
  absl::flat_hash_map<std::string, int> setting_lines_;
  std::string batch_setting_;
  std::string cluster_setting_;
  std::optional<int32_t> max_parallel_setting_;
  std::vector<std::string> retry_on_;
  std::optional<int32_t> max_attempts_;

  std::vector<JobRow> rows_;
  absl::flat_hash_map<std::string, int> row_of_basename_;
  absl::flat_hash_map<std::string, int> row_of_directory_;

  std::string batch_name_;
  std::string cluster_;
};

void BatchfileParser::AddDefect(int line, absl::string_view what) {
  defects_.emplace_back(line, std::string(what));
}

absl::Status BatchfileParser::DefectStatus() {
  if (defects_.empty()) return absl::OkStatus();
  std::stable_sort(
      defects_.begin(), defects_.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t shown = std::min(
      defects_.size(), static_cast<size_t>(common::kMaxReportedDefects));
  std::vector<std::string> lines;
  for (size_t i = 0; i < shown; ++i) {
    const auto& [line, text] = defects_[i];
    lines.push_back(line > 0 ? absl::StrCat(file_name_, ":", line, ": ", text)
                             : absl::StrCat(file_name_, ": ", text));
  }
  if (shown < defects_.size()) {
    lines.push_back(
        absl::StrCat("and ", defects_.size() - shown, " more defects"));
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

absl::StatusOr<BatchDefinition> BatchfileParser::Parse(
    absl::string_view contents) {
  absl::ConsumePrefix(&contents, "\xEF\xBB\xBF");
  int line = 0;
  for (absl::string_view text : absl::StrSplit(contents, '\n')) {
    ++line;
    absl::ConsumeSuffix(&text, "\r");
    const size_t bad = FindInvalidUtf8(text);
    if (bad != absl::string_view::npos) {
      AddDefect(line, absl::StrCat("byte ", bad + 1,
                                   " is not valid UTF-8 (save the file as "
                                   "UTF-8)"));
      seen_content_ = true;
      // Keep the section machine where the line most likely left it, so
      // that one bad byte does not cascade into header errors.
      if (section_ == Section::kRoot) {
        section_ = Section::kSettings;
      } else if (section_ == Section::kSettings &&
                 text.find('|') != absl::string_view::npos) {
        section_ = Section::kRows;
        header_line_ = line;
      }
      continue;
    }
    ParseLine(line, text);
  }
  CheckEndOfFile();
  ResolveNames();
  ResolvePipes();
  CheckNoCycle();
  CCB_RETURN_IF_ERROR(DefectStatus());
  BatchDefinition batch = Assemble();
  const absl::Status valid = common::ValidateBatch(batch);
  if (!valid.ok()) {
    return absl::InternalError(absl::StrCat(
        file_name_,
        ": the batchfile reader produced a batch the validator refuses (a "
        "ccbatch bug; please report it):\n",
        valid.message()));
  }
  return batch;
}

void BatchfileParser::ParseLine(int line, absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty() || absl::StartsWith(trimmed, "#")) return;
  seen_content_ = true;
  last_content_line_ = line;
  switch (section_) {
    case Section::kRoot: {
      section_ = Section::kSettings;
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(trimmed, absl::MaxSplits('=', 1));
      if (absl::StripAsciiWhitespace(kv.first) == kRootKey &&
          trimmed.find('=') != absl::string_view::npos) {
        setting_lines_[kRootKey] = line;
        ParseRoot(line, absl::StripAsciiWhitespace(kv.second));
        return;
      }
      AddDefect(line, absl::StrCat("the batchfile must start with a line "
                                   "run_root_directory=/absolute/path (add "
                                   "it as the first line)"));
      if (trimmed.find_first_of("=|") != absl::string_view::npos) {
        ParseSettingsLine(line, trimmed);
      }
      return;
    }
    case Section::kSettings:
      ParseSettingsLine(line, trimmed);
      return;
    case Section::kRows:
      ParseRow(line, trimmed);
      return;
  }
}

void BatchfileParser::ParseRoot(int line, absl::string_view value) {
  if (value.empty()) {
    AddDefect(line,
              "run_root_directory is empty (give the absolute directory "
              "the job directories are relative to)");
    return;
  }
  if (!absl::StartsWith(value, "/")) {
    AddDefect(line, absl::StrCat("run_root_directory ", Quote(value),
                                 " is relative (write it as an absolute "
                                 "path, starting with '/')"));
    return;
  }
  std::string root = NormalizeAbsolute(value);
  const absl::Status status = common::CheckNormalizedAbsolutePath(root);
  if (!status.ok()) {
    AddDefect(line, absl::StrCat("run_root_directory: ", status.message()));
    return;
  }
  root_ = std::move(root);
}

void BatchfileParser::ParseSettingsLine(int line, absl::string_view text) {
  if (text.find('|') == absl::string_view::npos) {
    const size_t equals = text.find('=');
    if (equals == absl::string_view::npos) {
      AddDefect(line, absl::StrCat("expected a key=value setting or the header "
                                   "line ",
                                   kHeader, " (fix or remove the line)"));
      return;
    }
    ParseSetting(line, absl::StripAsciiWhitespace(text.substr(0, equals)),
                 absl::StripAsciiWhitespace(text.substr(equals + 1)));
    return;
  }
  section_ = Section::kRows;
  header_line_ = line;
  std::vector<std::string> fields = SplitTrimmed(text, '|');
  if (fields.size() == 5 && fields.back().empty()) fields.pop_back();
  if (std::equal(fields.begin(), fields.end(), std::begin(kHeaderFields),
                 std::end(kHeaderFields))) {
    return;
  }
  const bool looks_like_header =
      std::any_of(fields.begin(), fields.end(), [](const std::string& f) {
        return std::find(std::begin(kHeaderFields), std::end(kHeaderFields),
                         absl::AsciiStrToLower(f)) != std::end(kHeaderFields);
      });
  if (looks_like_header) {
    AddDefect(line, absl::StrCat("wrong header line ", Quote(text),
                                 " (it must read exactly ", kHeader, ")"));
    return;
  }
  AddDefect(line, absl::StrCat("the header line is missing (insert ", kHeader,
                               " before the first job)"));
  ParseRow(line, text);
}

void BatchfileParser::ParseSetting(int line, absl::string_view key,
                                   absl::string_view value) {
  const auto [it, inserted] = setting_lines_.emplace(std::string(key), line);
  if (!inserted) {
    AddDefect(line, absl::StrCat(key, " is set twice (also on line ",
                                 it->second, "; keep one)"));
    return;
  }
  const std::string prefix = absl::StrCat(key, "=", value, ": ");
  if (key == kRootKey) {
    AddDefect(line, "run_root_directory must be the first line (move it up)");
  } else if (key == "batch") {
    const absl::Status status = common::CheckBatchName(value);
    if (!status.ok()) AddDefect(line, absl::StrCat(prefix, status.message()));
    batch_setting_ = std::string(value);
  } else if (key == "cluster") {
    const absl::Status status = common::CheckClusterName(value);
    if (!status.ok()) AddDefect(line, absl::StrCat(prefix, status.message()));
    cluster_setting_ = std::string(value);
  } else if (key == "max_parallel") {
    max_parallel_setting_ =
        ParseInteger(line, key, value, 0, std::numeric_limits<int32_t>::max());
  } else if (key == "max_attempts") {
    max_attempts_ = ParseInteger(line, key, value, 1, common::kMaxAttempts);
  } else if (key == "retry_on") {
    ParseRetryOn(line, value);
  } else {
    AddDefect(line,
              absl::StrCat("unknown setting ", Quote(key),
                           " (known: ", absl::StrJoin(kSettingKeys, ", "),
                           Suggestion(key, kSettingKeys,
                                      [](absl::string_view k) { return k; }),
                           ")"));
  }
}

std::optional<int32_t> BatchfileParser::ParseInteger(int line,
                                                     absl::string_view key,
                                                     absl::string_view value,
                                                     int32_t min, int32_t max) {
  int32_t number;
  if (!absl::SimpleAtoi(value, &number) || number < min || number > max) {
    AddDefect(line, absl::StrCat(key, "=", value, ": expected a whole number ",
                                 "from ", min, " to ", max));
    return std::nullopt;
  }
  return number;
}

void BatchfileParser::ParseRetryOn(int line, absl::string_view value) {
  for (const std::string& cause : SplitTrimmed(value, ',')) {
    if (cause.empty()) continue;
    const absl::Status status = common::CheckRetryCause(cause);
    if (!status.ok()) {
      AddDefect(line, absl::StrCat("retry_on: ", status.message()));
    } else if (std::find(retry_on_.begin(), retry_on_.end(), cause) ==
               retry_on_.end()) {
      retry_on_.push_back(cause);
    }
  }
  if (retry_on_.empty()) {
    AddDefect(line,
              "retry_on is empty (list causes such as "
              "NODE_FAIL,PREEMPTED, or remove the line)");
  }
}

void BatchfileParser::ParseRow(int line, absl::string_view text) {
  if (text.find('|') == absl::string_view::npos &&
      text.find('=') != absl::string_view::npos) {
    AddDefect(line,
              "settings (key=value) must come before the header line "
              "(move it up)");
    return;
  }
  std::vector<std::string> fields = SplitTrimmed(text, '|');
  if (fields.size() == 5 && fields.back().empty()) fields.pop_back();
  if (fields.size() != 4) {
    AddDefect(line,
              absl::StrCat("expected 4 '|'-separated fields (", kHeader,
                           "), found ", fields.size(),
                           fields.size() == 3
                               ? " (end the row with '|' when it has no pipe)"
                               : " (fix the row)"));
    return;
  }
  if (std::equal(fields.begin(), fields.end(), std::begin(kHeaderFields))) {
    AddDefect(line, absl::StrCat("the header line is repeated (also on line ",
                                 header_line_, "; remove this one)"));
    return;
  }
  JobRow row;
  row.line = line;
  row.basename = fields[0];
  row.relative_directory = fields[1];
  if (row.basename.empty()) {
    AddDefect(line,
              "job_basename is empty (name the job; its files are "
              "<job_basename>.*)");
  } else if (absl::Status status = common::CheckJobBasename(row.basename);
             !status.ok()) {
    AddDefect(line, absl::StrCat("job_basename: ", status.message()));
  }
  ParseRowDirectory(row);
  if (const std::optional<Program> program = ParseProgramName(fields[2])) {
    row.program = *program;
  } else {
    AddDefect(line,
              absl::StrCat(
                  "unknown program ", Quote(fields[2]), " (expected one of ",
                  absl::StrJoin(kPrograms, ", ",
                                [](std::string* out, const ProgramSpelling& p) {
                                  absl::StrAppend(out, p.name);
                                }),
                  Suggestion(fields[2], kPrograms,
                             [](const ProgramSpelling& p) { return p.name; }),
                  ")"));
  }
  ParsePipeField(row, fields[3]);
  const int index = static_cast<int>(rows_.size());
  CheckUnique(row, index);
  rows_.push_back(std::move(row));
}

void BatchfileParser::ParseRowDirectory(JobRow& row) {
  const std::string& relative = row.relative_directory;
  if (relative.empty()) {
    AddDefect(row.line,
              "job_directory is empty (give the job's directory, "
              "relative to run_root_directory)");
    return;
  }
  if (absl::Status status = common::CheckPathText(relative); !status.ok()) {
    AddDefect(row.line, absl::StrCat("job_directory: ", status.message()));
    return;
  }
  if (root_.empty()) return;  // the root's own defect is reported
  std::string directory = Resolve(root_, relative);
  if (!IsInside(directory, root_)) {
    AddDefect(row.line,
              absl::StrCat("job_directory ", Quote(relative), " is ", directory,
                           ", outside run_root_directory ", root_,
                           " (keep job directories inside the run root)"));
    return;
  }
  if (absl::Status status = common::CheckNormalizedAbsolutePath(directory);
      !status.ok()) {
    AddDefect(row.line, absl::StrCat("job_directory: ", status.message()));
    return;
  }
  row.directory = std::move(directory);
}

void BatchfileParser::ParsePipeField(JobRow& row, absl::string_view field) {
  constexpr absl::string_view kPipeHelp =
      "write coords{DIR,FILE} and/or orbitals{DIR,FILE}, separated by ';'; "
      "FILE may be empty";
  for (const std::string& item : SplitTrimmed(field, ';')) {
    if (item.empty()) continue;
    const size_t open = item.find('{');
    if (open == std::string::npos || item.back() != '}' ||
        std::count(item.begin(), item.end(), '{') != 1 ||
        std::count(item.begin(), item.end(), '}') != 1) {
      AddDefect(row.line, absl::StrCat("malformed pipe ", Quote(item), " (",
                                       kPipeHelp, ")"));
      continue;
    }
    const std::string command = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(absl::string_view(item).substr(0, open)));
    std::optional<PipeSpec>* slot = command == "coords"     ? &row.coords
                                    : command == "orbitals" ? &row.orbitals
                                                            : nullptr;
    if (slot == nullptr) {
      AddDefect(row.line,
                absl::StrCat("unknown pipe command ", Quote(command), " in ",
                             Quote(item), " (expected coords or orbitals)"));
      continue;
    }
    const std::vector<std::string> arguments = SplitTrimmed(
        absl::string_view(item).substr(open + 1, item.size() - open - 2), ',');
    if (arguments.size() != 2 || arguments[0].empty()) {
      AddDefect(row.line, absl::StrCat("malformed pipe ", Quote(item),
                                       " (expected ", command,
                                       "{DIR,FILE}: DIR is "
                                       "required, FILE may be empty)"));
      continue;
    }
    if (slot->has_value()) {
      AddDefect(row.line, absl::StrCat("pipe command ", command,
                                       " is given twice (keep one)"));
      continue;
    }
    absl::Status status = common::CheckPathText(arguments[0]);
    if (status.ok() && !arguments[1].empty()) {
      status = common::CheckPathText(arguments[1]);
      if (status.ok() && (absl::StartsWith(arguments[1], "/") ||
                          HasDotDotComponent(arguments[1]))) {
        status = absl::InvalidArgumentError(
            "FILE must be relative to DIR, without \"..\"");
      }
    }
    if (!status.ok()) {
      AddDefect(row.line,
                absl::StrCat("pipe ", Quote(item), ": ", status.message()));
      continue;
    }
    *slot = PipeSpec{arguments[0], arguments[1]};
  }
}

void BatchfileParser::CheckUnique(const JobRow& row, int index) {
  if (!row.basename.empty()) {
    const auto [it, inserted] = row_of_basename_.emplace(row.basename, index);
    if (!inserted) {
      AddDefect(row.line,
                absl::StrCat("job_basename ", Quote(row.basename),
                             " is also used on line ", rows_[it->second].line,
                             " (basenames must be unique in a batch)"));
    }
  }
  if (!row.directory.empty()) {
    const auto [it, inserted] = row_of_directory_.emplace(row.directory, index);
    if (!inserted) {
      const JobRow& other = rows_[it->second];
      AddDefect(row.line,
                absl::StrCat("job_directory ", Quote(row.relative_directory),
                             " is also the directory of job ",
                             Quote(other.basename), " on line ", other.line,
                             " (give each job its own directory, or their "
                             "output files mix)"));
    }
  }
}

void BatchfileParser::CheckEndOfFile() {
  if (!seen_content_) {
    AddDefect(1,
              "the file is empty (a batchfile starts with "
              "run_root_directory=/absolute/path, then the header line " +
                  std::string(kHeader) + " and one row per job)");
    return;
  }
  if (header_line_ == 0) {
    AddDefect(last_content_line_,
              absl::StrCat("the header line ", kHeader,
                           " is missing (add it, then one row per "
                           "job)"));
    return;
  }
  if (rows_.empty()) {
    AddDefect(header_line_,
              "the batch has no jobs (add rows "
              "job_basename|job_directory|program|pipe after "
              "the header)");
  }
  const auto attempts = setting_lines_.find("max_attempts");
  if (attempts != setting_lines_.end() && retry_on_.empty() &&
      setting_lines_.find("retry_on") == setting_lines_.end()) {
    AddDefect(attempts->second,
              "max_attempts has no effect without "
              "retry_on (add retry_on=CAUSE,... or remove "
              "max_attempts)");
  }
}

void BatchfileParser::ResolveNames() {
  if (!options_.batch_name.empty()) {
    batch_name_ = options_.batch_name;
    if (absl::Status status = common::CheckBatchName(batch_name_);
        !status.ok()) {
      AddDefect(0, absl::StrCat("batch name given on the command line: ",
                                status.message()));
    }
  } else if (!batch_setting_.empty()) {
    batch_name_ = batch_setting_;  // checked where it was read
  } else if (!root_.empty()) {
    batch_name_ = std::string(root_.substr(root_.rfind('/') + 1));
    if (absl::Status status = common::CheckBatchName(batch_name_);
        !status.ok()) {
      AddDefect(setting_lines_[kRootKey],
                absl::StrCat("the batch would be named after the run root's "
                             "last component, but ",
                             status.message(),
                             " (add a line batch=NAME, or pass --batch)"));
    }
  }
  cluster_ = !options_.cluster.empty() ? options_.cluster : cluster_setting_;
  if (!options_.cluster.empty()) {
    if (absl::Status status = common::CheckClusterName(options_.cluster);
        !status.ok()) {
      AddDefect(0, absl::StrCat("cluster given on the command line: ",
                                status.message()));
    }
  }
  if (options_.max_parallel.has_value() && *options_.max_parallel < 0) {
    AddDefect(0, absl::StrCat("max_parallel given on the command line is ",
                              *options_.max_parallel,
                              "; it must be >= 0 (0 means no limit)"));
  }
}

std::string BatchfileParser::DisplayDirectory(
    absl::string_view directory) const {
  if (directory == root_) return ".";
  if (!IsInside(directory, root_)) return std::string(directory);
  return std::string(directory.substr(root_ == "/" ? 1 : root_.size() + 1));
}

void BatchfileParser::ResolvePipes() {
  for (JobRow& row : rows_) {
    if (row.directory.empty()) continue;  // its defect is reported
    if (row.coords) row.coords_source = ResolvePipe(row, "coords", *row.coords);
    if (row.orbitals) {
      row.orbitals_source = ResolvePipe(row, "orbitals", *row.orbitals);
    }
    std::sort(row.upstream.begin(), row.upstream.end());
    row.upstream.erase(std::unique(row.upstream.begin(), row.upstream.end()),
                       row.upstream.end());
  }
}

std::optional<PipeSource> BatchfileParser::ResolvePipe(
    JobRow& row, absl::string_view command, const PipeSpec& spec) {
  const auto written = [&] {
    return absl::StrCat(command, "{", spec.directory, ",", spec.filename, "}");
  };
  std::string resolved = Resolve(row.directory, spec.directory);
  if (resolved == row.directory) {
    AddDefect(row.line, absl::StrCat(written(), ": DIR ", Quote(spec.directory),
                                     " is the job's own directory (a job "
                                     "cannot depend on itself; point DIR at "
                                     "an upstream job's directory)"));
    return std::nullopt;
  }
  const auto it = row_of_directory_.find(resolved);
  if (it == row_of_directory_.end()) {
    AddDefect(
        row.line,
        absl::StrCat(written(), ": DIR ", Quote(spec.directory),
                     " from job directory ", DisplayDirectory(row.directory),
                     " is ", DisplayDirectory(resolved),
                     ", the directory of no job in this batch (point "
                     "DIR at an upstream job's directory, relative to "
                     "this job's)"));
    return std::nullopt;
  }
  std::string filename = spec.filename;
  if (filename.empty()) {
    const absl::string_view last =
        absl::string_view(resolved).substr(resolved.rfind('/') + 1);
    filename = absl::StrCat(last, command == "coords" ? ".xyz" : ".gbw");
  }
  row.upstream.push_back(it->second);
  PipeSource source;
  source.set_directory(spec.directory);
  source.set_filename(std::move(filename));
  source.set_resolved_directory(std::move(resolved));
  // upstream_key is filled in Assemble(), once the batch name is final.
  return source;
}

void BatchfileParser::CheckNoCycle() {
  std::vector<std::vector<int>> upstream;
  upstream.reserve(rows_.size());
  for (const JobRow& row : rows_) upstream.push_back(row.upstream);
  const std::optional<std::vector<int>> cycle =
      ccbatch::ledger::FindCycle(upstream);
  if (!cycle.has_value() || cycle->empty()) return;
  std::vector<absl::string_view> names;
  for (int index : *cycle) names.push_back(rows_[index].basename);
  names.push_back(names.front());
  const int first = *std::min_element(cycle->begin(), cycle->end());
  AddDefect(rows_[first].line,
            absl::StrCat("dependency cycle ", absl::StrJoin(names, " -> "),
                         " (each job takes files from the next; remove one "
                         "of these pipes)"));
}

BatchDefinition BatchfileParser::Assemble() const {
  BatchDefinition batch;
  batch.set_name(batch_name_);
  batch.set_run_root_directory(root_);
  batch.set_cluster(cluster_);
  batch.set_max_parallel(
      options_.max_parallel.value_or(max_parallel_setting_.value_or(0)));
  batch.set_source_file(file_name_);
  if (!retry_on_.empty()) {
    auto* retry = batch.mutable_retry_policy();
    for (const std::string& cause : retry_on_) retry->add_retry_on(cause);
    retry->set_max_attempts(max_attempts_.value_or(kDefaultMaxAttempts));
  }
  const auto key_of = [&](int index) {
    return absl::StrCat(batch_name_, "/", rows_[index].basename);
  };
  batch.mutable_jobs()->Reserve(static_cast<int>(rows_.size()));
  for (int i = 0; i < static_cast<int>(rows_.size()); ++i) {
    const JobRow& row = rows_[i];
    JobDefinition* job = batch.add_jobs();
    job->set_key(key_of(i));
    job->set_basename(row.basename);
    job->set_directory(row.directory);
    job->set_relative_directory(row.relative_directory);
    job->set_program(row.program);
    const auto fill = [&](const std::optional<PipeSource>& source,
                          PipeSource* out) {
      *out = *source;
      out->set_upstream_key(
          key_of(row_of_directory_.at(source->resolved_directory())));
    };
    if (row.coords_source) fill(row.coords_source, job->mutable_coords());
    if (row.orbitals_source) fill(row.orbitals_source, job->mutable_orbitals());
    std::vector<std::string> upstream_keys;
    for (int up : row.upstream) upstream_keys.push_back(key_of(up));
    std::sort(upstream_keys.begin(), upstream_keys.end());
    for (std::string& key : upstream_keys)
      job->add_upstream_keys(std::move(key));
    job->set_order(i);
    job->set_source_line(row.line);
  }
  return batch;
}

}  // namespace

std::optional<Program> ParseProgramName(absl::string_view name) {
  return common::ProgramFromKey(name);
}

absl::string_view ProgramName(Program program) {
  for (const ProgramSpelling& spelling : kPrograms) {
    if (spelling.program == program) return spelling.name;
  }
  return "unspecified";
}

absl::StatusOr<BatchDefinition> ReadBatchfile(absl::string_view file_name,
                                              absl::string_view contents,
                                              const BatchfileOptions& options) {
  return BatchfileParser(file_name, options).Parse(contents);
}

}  // namespace ccbatch::cli

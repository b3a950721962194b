#include "queue_agent/squeue_parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/utf8_text.h"
#include "queue_agent/slurm_state.h"

namespace ccbatch::agent {
namespace {

constexpr size_t kFieldKinds = static_cast<size_t>(SqueueField::kIgnored);

size_t KindIndex(SqueueField field) { return static_cast<size_t>(field); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Consumes a non-empty run of digits from the front of `text`.
bool ConsumeDigits(absl::string_view& text) {
  size_t n = 0;
  while (n < text.size() && IsDigit(text[n])) ++n;
  text.remove_prefix(n);
  return n > 0;
}

bool IsTaskListChar(char c) {
  return IsDigit(c) || c == '-' || c == ',' || c == ':' || c == '%';
}

// Debian's absl::string_view::find is out of line; memchr is what it would
// call anyway.
size_t FindChar(absl::string_view text, char c) {
  const void* hit = std::memchr(text.data(), c, text.size());
  return hit == nullptr ? absl::string_view::npos
                        : static_cast<const char*>(hit) - text.data();
}

// Newlines in `text`. std::count goes byte by byte (it does not vectorise
// at -O2) and took a third of the parse; memchr skips a line at a time.
size_t CountNewlines(absl::string_view text) {
  size_t count = 0;
  for (size_t at = FindChar(text, '\n'); at != absl::string_view::npos;
       at = FindChar(text, '\n')) {
    ++count;
    text.remove_prefix(at + 1);
  }
  return count;
}

// Trims ASCII whitespace; cheap for the usual field that has none.
absl::string_view Trim(absl::string_view text) {
  if (text.empty() || (!absl::ascii_isspace(text.front()) &&
                       !absl::ascii_isspace(text.back()))) {
    return text;
  }
  return absl::StripAsciiWhitespace(text);
}

bool IsBlank(absl::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return absl::ascii_isspace(c); });
}

// "(null)" is how squeue prints an unset string field.
absl::string_view NullToEmpty(absl::string_view value) {
  return value == "(null)" ? absl::string_view() : value;
}

// The fields of one line by kind; views into the output text.
using LineFields = std::array<absl::string_view, kFieldKinds>;

// Parsing one output, line by line, into `result`.
class LineParser final {
 public:
  LineParser(const SqueueLayout& layout, ParsedSqueueRows& result)
      : layout_(layout), result_(result) {}

  void ParseLine(absl::string_view line, int64_t line_number) {
    LineFields fields;
    if (const char* problem = Split(line, fields)) {
      Malformed(line, line_number, problem);
      return;
    }
    if (const char* problem = Check(fields)) {
      Malformed(line, line_number, problem);
      return;
    }
    AddEntry(fields);
  }

 private:
  // Returns nullptr on success, else what was wrong.
  const char* Split(absl::string_view line, LineFields& fields) const {
    const absl::string_view delimiter = layout_.delimiter;
    const size_t last = layout_.fields.size() - 1;
    for (size_t i = 0; i < last; ++i) {
      const size_t end = delimiter.size() == 1 ? FindChar(line, delimiter[0])
                                               : line.find(delimiter);
      if (end == absl::string_view::npos) return "too few fields";
      Assign(layout_.fields[i], line.substr(0, end), fields);
      line.remove_prefix(end + delimiter.size());
    }
    Assign(layout_.fields[last], line, fields);
    return nullptr;
  }

  static void Assign(SqueueField kind, absl::string_view value,
                     LineFields& fields) {
    if (kind != SqueueField::kIgnored) fields[KindIndex(kind)] = value;
  }

  const char* Check(LineFields& fields) const {
    absl::string_view& id = fields[KindIndex(SqueueField::kJobId)];
    id = Trim(id);
    if (id.empty()) return "empty job id";
    if (!IsSlurmJobId(id)) return "not a SLURM job id";
    absl::string_view& state = fields[KindIndex(SqueueField::kState)];
    state = Trim(state);
    if (has_state_ && state.empty()) return "empty state";
    return nullptr;
  }

  void AddEntry(const LineFields& fields) {
    result_.rows.emplace_back(
        Field(fields, SqueueField::kJobId), StoredState(fields),
        Trim(Field(fields, SqueueField::kReason)),
        Field(fields, SqueueField::kName),
        NullToEmpty(Field(fields, SqueueField::kComment)),
        NullToEmpty(Trim(Field(fields, SqueueField::kNodes))));
  }

  // The long form of the line's state, or the state verbatim (counted) if
  // ccbatch does not know it.
  absl::string_view StoredState(const LineFields& fields) {
    const absl::string_view state = Field(fields, SqueueField::kState);
    if (state.empty()) return state;
    const std::optional<absl::string_view> canonical =
        CanonicalSlurmState(state);
    if (canonical) return *canonical;
    result_.diagnostics.set_unknown_states(
        result_.diagnostics.unknown_states() + 1);
    return state;
  }

  static absl::string_view Field(const LineFields& fields, SqueueField kind) {
    return fields[KindIndex(kind)];
  }

  void Malformed(absl::string_view line, int64_t line_number,
                 const char* problem) {
    v1::SnapshotDiagnostics& diagnostics = result_.diagnostics;
    diagnostics.set_malformed_lines(diagnostics.malformed_lines() + 1);
    if (diagnostics.malformed_samples_size() >=
        SqueueParser::kMaxMalformedSamples) {
      return;
    }
    const bool cut = line.size() > SqueueParser::kMaxSampleBytes;
    diagnostics.add_malformed_samples(absl::StrCat(
        "line ", line_number, ": ", problem, ": \"",
        absl::CHexEscape(line.substr(0, SqueueParser::kMaxSampleBytes)),
        cut ? "...\"" : "\""));
  }

  const SqueueLayout& layout_;
  ParsedSqueueRows& result_;
  const bool has_state_ =
      std::count(layout_.fields.begin(), layout_.fields.end(),
                 SqueueField::kState) > 0;
};

}  // namespace

SqueueLayout SqueueLayout::Agent() {
  return SqueueLayout{
      "\x1f",
      {SqueueField::kJobId, SqueueField::kState, SqueueField::kReason,
       SqueueField::kNodes, SqueueField::kComment, SqueueField::kName}};
}

bool IsSlurmJobId(absl::string_view id) {
  if (!ConsumeDigits(id)) return false;
  if (id.empty()) return true;
  const char separator = id.front();
  id.remove_prefix(1);
  if (separator == '+') return ConsumeDigits(id) && id.empty();
  if (separator != '_') return false;
  if (ConsumeDigits(id)) return id.empty();
  if (id.size() < 3 || id.front() != '[' || id.back() != ']') return false;
  return std::all_of(id.begin() + 1, id.end() - 1, IsTaskListChar);
}

SqueueParser::SqueueParser() : layout_(SqueueLayout::Agent()) {}

SqueueParser::SqueueParser(SqueueLayout layout) : layout_(std::move(layout)) {}

absl::StatusOr<SqueueParser> SqueueParser::ForLayout(SqueueLayout layout) {
  if (layout.delimiter.empty()) {
    return absl::InvalidArgumentError("squeue layout: empty delimiter");
  }
  std::array<int, kFieldKinds> counts{};
  for (SqueueField field : layout.fields) {
    if (field != SqueueField::kIgnored) ++counts[KindIndex(field)];
  }
  if (counts[KindIndex(SqueueField::kJobId)] != 1) {
    return absl::InvalidArgumentError(
        "squeue layout: needs exactly one job id field");
  }
  if (*std::max_element(counts.begin(), counts.end()) > 1) {
    return absl::InvalidArgumentError(
        "squeue layout: a field other than kIgnored appears twice");
  }
  return SqueueParser(std::move(layout));
}

ParsedSqueueRows SqueueParser::ParseRows(absl::string_view output) const {
  ParsedSqueueRows result;
  result.rows.reserve(CountNewlines(output) + 1);
  // Fields are cut at delimiters, line ends and ASCII whitespace. In valid
  // UTF-8 text a delimiter that is itself valid UTF-8 only matches at
  // character boundaries, so every field of valid text is valid too.
  result.rows_are_utf8 =
      common::IsValidUtf8(layout_.delimiter) && common::IsValidUtf8(output);
  LineParser parser(layout_, result);
  int64_t line_number = 0;
  while (!output.empty()) {
    const size_t end = FindChar(output, '\n');
    absl::string_view line = output.substr(0, end);
    output.remove_prefix(end == absl::string_view::npos ? output.size()
                                                        : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    ++result.lines;
    parser.ParseLine(line, line_number);
  }
  return result;
}

ParsedSqueue SqueueParser::Parse(absl::string_view output) const {
  ParsedSqueueRows parsed = ParseRows(output);
  ParsedSqueue result;
  result.entries.reserve(parsed.rows.size());
  for (const QueueRow& row : parsed.rows) {
    v1::QueueEntry* entry = &result.entries.emplace_back();
    if (parsed.rows_are_utf8) {
      row.FillEntryFromUtf8(entry);
    } else {
      row.FillEntry(entry);
    }
  }
  result.diagnostics = std::move(parsed.diagnostics);
  result.lines = parsed.lines;
  return result;
}

}  // namespace ccbatch::agent

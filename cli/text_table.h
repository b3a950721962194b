// A table of text cells rendered either as aligned columns for a person
// (optionally coloured with ANSI escapes) or as RFC 4180 CSV for a program.
// Every ccctl list (jobs, clusters, status counts) goes through it, so column
// alignment and CSV quoting are written once.
//
// Thread-compatible value type; rendering is pure.
#ifndef CCBATCH_CLI_TEXT_TABLE_H_
#define CCBATCH_CLI_TEXT_TABLE_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ccbatch::cli {

// How a cell is shown on a colour terminal. Ignored when colour is off and
// in CSV.
enum class CellStyle {
  kPlain,
  kBold,
  kDim,
  kRed,
  kGreen,
  kYellow,
  kBlue,
  kMagenta,
  kCyan,
};

struct Cell {
  Cell(std::string text, CellStyle style = CellStyle::kPlain)  // NOLINT
      : text(std::move(text)), style(style) {}
  Cell(const char* text, CellStyle style = CellStyle::kPlain)  // NOLINT
      : text(text), style(style) {}
  std::string text;
  CellStyle style;
};

// `text` wrapped in the ANSI escape for `style` when `color` is true;
// `text` unchanged otherwise.
std::string Styled(absl::string_view text, CellStyle style, bool color);

// Display width of UTF-8 `text`: one column per code point (the CLI prints
// no wide characters).
size_t DisplayWidth(absl::string_view text);

class TextTable final {
 public:
  // Column headings; their number fixes the number of cells per row.
  explicit TextTable(std::vector<std::string> headings);

  // REQUIRES: cells.size() equals the number of headings.
  void AddRow(std::vector<Cell> cells);

  size_t row_count() const { return rows_.size(); }

  // Aligned columns separated by two spaces, headings first, one line per
  // row, every line ending in '\n'. The last column is not padded, so long
  // reasons do not leave trailing blanks. Headings are bold with `color`.
  // Each line starts with `indent`.
  std::string RenderText(bool color, absl::string_view indent = "") const;

  // CSV with a heading line; cells quoted when they hold a comma, quote,
  // CR or LF; lines end in "\n".
  std::string RenderCsv() const;

 private:
  std::vector<std::string> headings_;
  std::vector<std::vector<Cell>> rows_;
};

// "key  value" lines, keys padded to the longest, each line starting with
// `indent` and ending in '\n'. Keys are dim with `color`.
std::string RenderKeyValues(
    const std::vector<std::pair<std::string, Cell>>& pairs,
    absl::string_view indent, bool color);

// One CSV field, quoted if needed (RFC 4180).
std::string CsvField(absl::string_view text);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_TEXT_TABLE_H_

#include "cli/text_table.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace ccbatch::cli {
namespace {

absl::string_view AnsiCode(CellStyle style) {
  switch (style) {
    case CellStyle::kPlain:
      return "";
    case CellStyle::kBold:
      return "1";
    case CellStyle::kDim:
      return "2";
    case CellStyle::kRed:
      return "31";
    case CellStyle::kGreen:
      return "32";
    case CellStyle::kYellow:
      return "33";
    case CellStyle::kBlue:
      return "34";
    case CellStyle::kMagenta:
      return "35";
    case CellStyle::kCyan:
      return "36";
  }
  return "";
}

}  // namespace

std::string Styled(absl::string_view text, CellStyle style, bool color) {
  absl::string_view code = AnsiCode(style);
  if (!color || code.empty() || text.empty()) return std::string(text);
  return absl::StrCat("\x1b[", code, "m", text, "\x1b[0m");
}

size_t DisplayWidth(absl::string_view text) {
  return std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

TextTable::TextTable(std::vector<std::string> headings)
    : headings_(std::move(headings)) {}

void TextTable::AddRow(std::vector<Cell> cells) {
  assert(cells.size() == headings_.size());
  cells.resize(headings_.size(), Cell(""));
  rows_.push_back(std::move(cells));
}

std::string TextTable::RenderText(bool color, absl::string_view indent) const {
  std::vector<size_t> widths(headings_.size(), 0);
  for (size_t i = 0; i < headings_.size(); ++i) {
    widths[i] = DisplayWidth(headings_[i]);
    for (const auto& row : rows_) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i].text));
    }
  }
  std::string out;
  auto append_line = [&](const std::vector<Cell>& cells) {
    std::string line(indent);
    for (size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      absl::StrAppend(&line, Styled(cells[i].text, cells[i].style, color));
      if (!last) {
        line.append(widths[i] - DisplayWidth(cells[i].text) + 2, ' ');
      }
    }
    // A trailing empty last column would leave blanks behind.
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  };
  std::vector<Cell> heading_cells;
  for (const auto& h : headings_)
    heading_cells.emplace_back(h, CellStyle::kBold);
  append_line(heading_cells);
  for (const auto& row : rows_) append_line(row);
  return out;
}

std::string RenderKeyValues(
    const std::vector<std::pair<std::string, Cell>>& pairs,
    absl::string_view indent, bool color) {
  size_t width = 0;
  for (const auto& [key, value] : pairs) {
    width = std::max(width, DisplayWidth(key));
  }
  std::string out;
  for (const auto& [key, value] : pairs) {
    absl::StrAppend(&out, indent, Styled(key, CellStyle::kDim, color),
                    std::string(width - DisplayWidth(key) + 2, ' '),
                    Styled(value.text, value.style, color), "\n");
  }
  return out;
}

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(text);
  }
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

std::string TextTable::RenderCsv() const {
  auto line = [](const std::vector<std::string>& fields) {
    return absl::StrCat(
        absl::StrJoin(fields, ",",
                      [](std::string* out, const std::string& f) {
                        out->append(CsvField(f));
                      }),
        "\n");
  };
  std::string out = line(headings_);
  for (const auto& row : rows_) {
    std::vector<std::string> texts;
    texts.reserve(row.size());
    for (const auto& cell : row) texts.push_back(cell.text);
    absl::StrAppend(&out, line(texts));
  }
  return out;
}

}  // namespace ccbatch::cli

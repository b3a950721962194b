// Acceptance test of the verdict engine (DESIGN §7, §10): every real output
// file of ../shared/corpus gets the verdict and cause MANIFEST.tsv requires.
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ccbatch/v1/job.pb.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_file.h"
#include "tests/shared_corpus.h"

namespace ccbatch::agent {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// One TSV line; a field in double quotes may contain tabs and "" for ".
std::vector<std::string> SplitTsvLine(absl::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    std::string& field = fields.back();
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == '\t') {
      fields.emplace_back();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  return fields;
}

struct Row {
  absl::flat_hash_map<std::string, std::string> columns;
  const std::string& operator[](const std::string& name) const {
    static const std::string* const kEmpty = new std::string();
    auto it = columns.find(name);
    return it == columns.end() ? *kEmpty : it->second;
  }
};

std::vector<Row> ReadManifest(const std::string& path) {
  std::vector<Row> rows;
  std::vector<std::string> header;
  for (absl::string_view line : absl::StrSplit(ReadAll(path), '\n')) {
    if (line.empty()) continue;
    std::vector<std::string> fields = SplitTsvLine(line);
    if (header.empty()) {
      header = std::move(fields);
      continue;
    }
    Row row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) {
      row.columns[header[i]] = fields[i];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST(OutputJudgeCorpusTest, EveryOutputGetsTheManifestVerdict) {
  CCB_SKIP_WITHOUT_SHARED(shared);
  const std::string corpus = *shared + "/corpus";
  const std::vector<Row> rows = ReadManifest(corpus + "/MANIFEST.tsv");
  ASSERT_GT(rows.size(), 50u);
  absl::flat_hash_map<v1::Program, std::unique_ptr<OutputJudge>> judges;
  for (v1::Program program : kAllPrograms) {
    CCB_ASSERT_OK_AND_ASSIGN(
        RuleSet rules, ParseRuleFile(BuiltinRuleText(program), "built-in"));
    CCB_ASSERT_OK_AND_ASSIGN(judges[program],
                             OutputJudge::Create(program, std::move(rules)));
  }
  int judged = 0;
  std::vector<std::string> wrong;
  for (const Row& row : rows) {
    const std::optional<v1::Program> program = ProgramFromKey(row["program"]);
    if (!program.has_value()) {
      EXPECT_EQ(row["program"], "slurm-squeue") << row["path"];
      continue;
    }
    const std::string text = ReadAll(corpus + "/" + row["path"]);
    ASSERT_FALSE(text.empty()) << row["path"];
    const v1::Verdict verdict = judges[*program]->Judge(text);
    ++judged;
    const std::string outcome =
        verdict.outcome() == v1::Verdict::OUTCOME_SUCCEEDED ? "succeeded"
        : verdict.outcome() == v1::Verdict::OUTCOME_FAILED  ? "failed"
                                                            : "other";
    const bool cause_ok =
        row["ccbatch_cause"].empty() || row["ccbatch_cause"] == verdict.cause();
    if (outcome != row["ccbatch_verdict"] || !cause_ok) {
      wrong.push_back(absl::StrCat(
          row["path"], ": got ", outcome, "/", verdict.cause(), " (",
          verdict.summary(), "); want ", row["ccbatch_verdict"], "/",
          row["ccbatch_cause"], " because ", row["ccbatch_why"]));
    }
    if (verdict.outcome() == v1::Verdict::OUTCOME_FAILED) {
      EXPECT_FALSE(verdict.cause().empty()) << row["path"];
    } else {
      EXPECT_TRUE(verdict.cause().empty()) << row["path"];
    }
    EXPECT_FALSE(verdict.summary().empty()) << row["path"];
  }
  EXPECT_GE(judged, 60);
  EXPECT_THAT(wrong, ::testing::IsEmpty()) << absl::StrJoin(wrong, "\n");
}

}  // namespace
}  // namespace ccbatch::agent

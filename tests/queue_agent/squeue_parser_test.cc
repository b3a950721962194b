#include "queue_agent/squeue_parser.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/shared_corpus.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kUs[] = "\x1f";

// One line in the agent's format.
std::string Line(absl::string_view id, absl::string_view state,
                 absl::string_view reason = "None",
                 absl::string_view nodes = "",
                 absl::string_view comment = "(null)",
                 absl::string_view name = "job") {
  return absl::StrCat(
      absl::StrJoin({id, state, reason, nodes, comment, name}, kUs), "\n");
}

std::vector<std::string> Ids(const ParsedSqueue& parsed) {
  std::vector<std::string> ids;
  for (const v1::QueueEntry& entry : parsed.entries) {
    ids.push_back(entry.slurm_job_id());
  }
  return ids;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

SqueueParser ParserFor(std::string delimiter, std::vector<SqueueField> fields) {
  absl::StatusOr<SqueueParser> parser =
      SqueueParser::ForLayout({std::move(delimiter), std::move(fields)});
  EXPECT_TRUE(parser.ok()) << parser.status();
  return *std::move(parser);
}

// ---------------------------------------------------------------------------
// The agent's own format.

TEST(SqueueParserTest, FormatAndLayoutAgree) {
  const SqueueLayout layout = SqueueLayout::Agent();
  const std::vector<std::string> codes =
      absl::StrSplit(kAgentSqueueFormat, layout.delimiter);
  EXPECT_THAT(codes, ElementsAre("%i", "%T", "%r", "%N", "%k", "%j"));
  EXPECT_THAT(layout.fields,
              ElementsAre(SqueueField::kJobId, SqueueField::kState,
                          SqueueField::kReason, SqueueField::kNodes,
                          SqueueField::kComment, SqueueField::kName));
}

TEST(SqueueParserTest, ParsesEveryField) {
  const ParsedSqueue parsed = SqueueParser().Parse(
      Line("4812", "RUNNING", "None", "c041", "ccb:o-17", "water opt"));
  ASSERT_THAT(parsed.entries, SizeIs(1));
  const v1::QueueEntry& entry = parsed.entries[0];
  EXPECT_EQ(entry.slurm_job_id(), "4812");
  EXPECT_EQ(entry.state(), "RUNNING");
  EXPECT_EQ(entry.reason(), "None");
  EXPECT_EQ(entry.nodes(), "c041");
  EXPECT_EQ(entry.comment(), "ccb:o-17");
  EXPECT_EQ(entry.name(), "water opt");
  EXPECT_EQ(parsed.lines, 1);
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0);
  EXPECT_EQ(parsed.diagnostics.unknown_states(), 0);
}

TEST(SqueueParserTest, EmptyOutputIsAnEmptyQueue) {
  for (absl::string_view output : {"", "\n", "\n\n  \n", "\r\n"}) {
    const ParsedSqueue parsed = SqueueParser().Parse(output);
    EXPECT_THAT(parsed.entries, SizeIs(0));
    EXPECT_EQ(parsed.lines, 0);
    EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0);
  }
}

TEST(SqueueParserTest, NameIsLastSoAnythingInItSurvives) {
  const std::vector<std::string> names = {
      "a|b c", "tab\there", "  spaced  ", "x\x1fy\x1fz", "%j|%T", "name;with;"};
  for (const std::string& name : names) {
    const ParsedSqueue parsed = SqueueParser().Parse(
        Line("1", "PENDING", "Priority", "", "(null)", name));
    ASSERT_THAT(parsed.entries, SizeIs(1)) << name;
    EXPECT_EQ(parsed.entries[0].name(), name);
    EXPECT_EQ(parsed.entries[0].state(), "PENDING");
  }
}

TEST(SqueueParserTest, CommentWithTheDelimiterSpillsIntoTheNameOnly) {
  const ParsedSqueue parsed =
      SqueueParser().Parse(Line("9", "RUNNING", "None", "c1",
                                "ccb:o-1\x1f"
                                "extra",
                                "name"));
  ASSERT_THAT(parsed.entries, SizeIs(1));
  EXPECT_EQ(parsed.entries[0].comment(), "ccb:o-1");
  EXPECT_EQ(parsed.entries[0].name(), "extra\x1fname");
  EXPECT_EQ(parsed.entries[0].slurm_job_id(), "9");
}

TEST(SqueueParserTest, NullFieldsBecomeEmpty) {
  const ParsedSqueue parsed = SqueueParser().Parse(
      Line("5", "PENDING", "JobHeldUser", "(null)", "(null)", ""));
  ASSERT_THAT(parsed.entries, SizeIs(1));
  EXPECT_EQ(parsed.entries[0].nodes(), "");
  EXPECT_EQ(parsed.entries[0].comment(), "");
  EXPECT_EQ(parsed.entries[0].name(), "");
  EXPECT_EQ(parsed.entries[0].reason(), "JobHeldUser");
}

TEST(SqueueParserTest, AcceptsCrLfAndAMissingFinalNewline) {
  std::string output = Line("1", "R") + Line("2", "PD");
  absl::StrReplaceAll({{"\n", "\r\n"}}, &output);
  output +=
      "3\x1f"
      "CD\x1fNone\x1f\x1f(null)\x1flast";  // no newline
  const ParsedSqueue parsed = SqueueParser().Parse(output);
  EXPECT_THAT(Ids(parsed), ElementsAre("1", "2", "3"));
  EXPECT_EQ(parsed.entries[0].name(), "job");  // no '\r' left over
  EXPECT_EQ(parsed.entries[2].name(), "last");
  EXPECT_EQ(parsed.entries[2].state(), "COMPLETED");
}

struct IdCase {
  const char* id;
  bool valid;
};

TEST(SqueueParserTest, JobIdForms) {
  const IdCase cases[] = {
      {"4812", true},       {"4812_7", true},      {"4812_[8-10]", true},
      {"12_[1-3%2]", true}, {"4812+1", true},      {"3_[1,4,7-9]", true},
      {"11_[1-6:2]", true}, {"", false},           {"JOBID", false},
      {"48a", false},       {"4812_", false},      {"4812_[]", false},
      {"4812_[1-3", false}, {"4812+", false},      {"_7", false},
      {"4812_7_1", false},  {"4812.batch", false}, {"-1", false},
      {"4812_[a]", false},  {"4812+1+2", false},
  };
  for (const IdCase& c : cases) {
    EXPECT_EQ(IsSlurmJobId(c.id), c.valid) << c.id;
    const ParsedSqueue parsed = SqueueParser().Parse(Line(c.id, "PENDING"));
    EXPECT_EQ(parsed.entries.size(), c.valid ? 1u : 0u) << c.id;
    EXPECT_EQ(parsed.diagnostics.malformed_lines(), c.valid ? 0 : 1) << c.id;
  }
}

TEST(SqueueParserTest, NormalisesShortStatesAndKeepsUnknownOnes) {
  const std::string output = Line("1", "PD") + Line("2", "R") +
                             Line("3", "CANCELLED by 0") + Line("4", "OOM") +
                             Line("5", "WEIRD_NEW_STATE") +
                             Line("6", " RUNNING ") + Line("7", "running");
  const ParsedSqueue parsed = SqueueParser().Parse(output);
  ASSERT_THAT(parsed.entries, SizeIs(7));
  std::vector<std::string> states;
  for (const auto& entry : parsed.entries) states.push_back(entry.state());
  EXPECT_THAT(states,
              ElementsAre("PENDING", "RUNNING", "CANCELLED", "OUT_OF_MEMORY",
                          "WEIRD_NEW_STATE", "RUNNING", "running"));
  EXPECT_EQ(parsed.diagnostics.unknown_states(), 2);
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0);
}

TEST(SqueueParserTest, MalformedLinesAreCountedWithLineNumbersNotFatal) {
  const std::string output = Line("1", "RUNNING") + "garbage without fields\n" +
                             "\n" + Line("", "RUNNING") +
                             "2\x1f\x1fNone\x1f\x1f(null)\x1fno state\n" +
                             Line("3", "PENDING");
  const ParsedSqueue parsed = SqueueParser().Parse(output);
  EXPECT_THAT(Ids(parsed), ElementsAre("1", "3"));
  EXPECT_EQ(parsed.lines, 5);
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 3);
  EXPECT_THAT(parsed.diagnostics.malformed_samples(),
              ElementsAre(StartsWith("line 2: too few fields: \"garbage"),
                          StartsWith("line 4: empty job id"),
                          StartsWith("line 5: empty state")));
  // Control bytes are escaped so a sample can be shown anywhere.
  EXPECT_THAT(parsed.diagnostics.malformed_samples(2), HasSubstr("\\x1f"));
}

TEST(SqueueParserTest, SamplesAreCappedAndCut) {
  std::string output;
  for (int i = 0; i < 20; ++i) output += std::string(500, 'x') + "\n";
  const ParsedSqueue parsed = SqueueParser().Parse(output);
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 20);
  ASSERT_THAT(parsed.diagnostics.malformed_samples(),
              SizeIs(SqueueParser::kMaxMalformedSamples));
  EXPECT_LT(parsed.diagnostics.malformed_samples(0).size(), 220u);
  EXPECT_THAT(parsed.diagnostics.malformed_samples(0), HasSubstr("...\""));
}

TEST(SqueueParserTest, AHeaderLineIsMalformed) {
  // What squeue prints when an option was eaten as the user name
  // (lab report §5: `-u $USER -h` with $USER empty).
  const ParsedSqueue parsed = SqueueParser().Parse(
      "JOBID\x1fSTATE\x1fREASON\x1fNODELIST\x1f"
      "COMMENT\x1fNAME\n");
  EXPECT_THAT(parsed.entries, SizeIs(0));
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 1);
}

TEST(SqueueParserTest, ForLayoutRejectsUnusableLayouts) {
  EXPECT_THAT(
      SqueueParser::ForLayout({"", {SqueueField::kJobId}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("delimiter")));
  EXPECT_THAT(
      SqueueParser::ForLayout({"|", {SqueueField::kState}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("job id")));
  EXPECT_THAT(
      SqueueParser::ForLayout(
          {"|", {SqueueField::kJobId, SqueueField::kName, SqueueField::kName}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  CCB_EXPECT_OK(SqueueParser::ForLayout(
      {"|",
       {SqueueField::kIgnored, SqueueField::kJobId, SqueueField::kIgnored}}));
}

TEST(SqueueParserTest, LayoutWithoutStateLeavesItEmpty) {
  const SqueueParser parser =
      ParserFor("|", {SqueueField::kJobId, SqueueField::kReason});
  const ParsedSqueue parsed = parser.Parse("7|Priority\n");
  ASSERT_THAT(parsed.entries, SizeIs(1));
  EXPECT_EQ(parsed.entries[0].state(), "");
  EXPECT_EQ(parsed.entries[0].reason(), "Priority");
}

TEST(SqueueParserTest, MultiCharacterDelimiter) {
  const SqueueParser parser = ParserFor(
      "<|>", {SqueueField::kJobId, SqueueField::kState, SqueueField::kName});
  const ParsedSqueue parsed = parser.Parse("4812_7<|>R<|>a <|> b|c\n");
  ASSERT_THAT(parsed.entries, SizeIs(1));
  EXPECT_EQ(parsed.entries[0].slurm_job_id(), "4812_7");
  EXPECT_EQ(parsed.entries[0].state(), "RUNNING");
  EXPECT_EQ(parsed.entries[0].name(), "a <|> b|c");
}

// The project's own fixture in the agent format (testdata/squeue/README.md).
TEST(SqueueParserTest, AgentFormatFixture) {
  for (const char* file : {"agent_format.txt", "agent_format_crlf.txt"}) {
    const std::string text =
        ReadFile(absl::StrCat("tests/queue_agent/testdata/squeue/", file));
    ASSERT_FALSE(text.empty()) << file;
    const ParsedSqueue parsed = SqueueParser().Parse(text);
    EXPECT_EQ(parsed.lines, 12) << file;
    EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0) << file;
    EXPECT_EQ(parsed.diagnostics.unknown_states(), 0) << file;
    ASSERT_THAT(parsed.entries, SizeIs(12)) << file;
    EXPECT_EQ(parsed.entries[1].name(), "water sp | b3lyp");
    EXPECT_EQ(parsed.entries[1].nodes(), "");
    EXPECT_EQ(parsed.entries[2].slurm_job_id(), "4814_7");
    EXPECT_EQ(parsed.entries[2].nodes(), "c[041-042]");
    EXPECT_EQ(parsed.entries[2].name(), "arr\ttab name");
    EXPECT_EQ(parsed.entries[2].comment(), "");
    EXPECT_EQ(parsed.entries[4].name(), "  leading spaces");
    EXPECT_EQ(parsed.entries[5].comment(), "free text, with spaces");
    EXPECT_EQ(parsed.entries[7].slurm_job_id(), "4817+1");
    EXPECT_EQ(parsed.entries[8].name(), "crest|conf search");
    EXPECT_EQ(parsed.entries[9].state(), "OUT_OF_MEMORY");
    EXPECT_EQ(parsed.entries[11].name(), "");
  }
}

// Verbatim output of the agent's own query on slurm-wlm 22.05.8.
TEST(SqueueParserTest, RealSlurmOutputInTheAgentFormat) {
  const ParsedSqueue held = SqueueParser().Parse(
      ReadFile("tests/queue_agent/testdata/squeue/real_22.05_held.txt"));
  EXPECT_EQ(held.diagnostics.malformed_lines(), 0);
  EXPECT_EQ(held.diagnostics.unknown_states(), 0);
  EXPECT_THAT(Ids(held), ElementsAre("3_1", "3_2", "3_3", "2"));
  const v1::QueueEntry& job = held.entries[3];
  EXPECT_EQ(job.state(), "PENDING");
  EXPECT_EQ(job.reason(), "JobHeldUser");
  EXPECT_EQ(job.nodes(), "");
  EXPECT_EQ(job.comment(), "ccb:o-check free text");
  EXPECT_EQ(job.name(), "ccb probe|check\tx");
  EXPECT_EQ(held.entries[0].comment(), "");

  const ParsedSqueue cancelled = SqueueParser().Parse(
      ReadFile("tests/queue_agent/testdata/squeue/real_22.05_cancelled.txt"));
  EXPECT_EQ(cancelled.diagnostics.malformed_lines(), 0);
  ASSERT_THAT(cancelled.entries, SizeIs(4));
  for (const auto& entry : cancelled.entries) {
    EXPECT_EQ(entry.state(), "CANCELLED");
  }
}

// ---------------------------------------------------------------------------
// ParseRows: the same parse as views into the output.

// Parse and ParseRows agree on everything: fields, diagnostics, lines.
void ExpectRowsMatchEntries(const SqueueParser& parser,
                            absl::string_view output) {
  const ParsedSqueue entries = parser.Parse(output);
  const ParsedSqueueRows rows = parser.ParseRows(output);
  EXPECT_EQ(rows.lines, entries.lines);
  EXPECT_EQ(rows.diagnostics.SerializeAsString(),
            entries.diagnostics.SerializeAsString());
  ASSERT_EQ(rows.rows.size(), entries.entries.size());
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    EXPECT_EQ(rows.rows[i].ToEntry().SerializeAsString(),
              entries.entries[i].SerializeAsString())
        << "row " << i << ": " << entries.entries[i].ShortDebugString();
  }
}

TEST(SqueueParserRowsTest, RowsAndEntriesAgree) {
  const std::string odd =
      Line("1", "PD", " Priority ", "(null)", "(null)", "  spaced  ") +
      "garbage\n" + Line("2", "WEIRD", "None", " c1 ", "ccb:o-1\x1fx", "n") +
      Line("", "R") + "\r\n" + Line("3_[1-4%2]", "R") + std::string(300, 'z') +
      "\n" + Line("4+1", "CANCELLED by 0", "", "", "", "");
  ExpectRowsMatchEntries(SqueueParser(), odd);
  ExpectRowsMatchEntries(
      ParserFor("<|>",
                {SqueueField::kJobId, SqueueField::kState, SqueueField::kName}),
      "4812_7<|>R<|>a <|> b|c\n7<|><|>x\n");
  for (const char* file : {"agent_format.txt", "agent_format_crlf.txt",
                           "real_22.05_held.txt", "real_22.05_cancelled.txt"}) {
    SCOPED_TRACE(file);
    ExpectRowsMatchEntries(
        SqueueParser(),
        ReadFile(absl::StrCat("tests/queue_agent/testdata/squeue/", file)));
  }
}

TEST(SqueueParserRowsTest, RowsViewTheOutputOrCanonicalStates) {
  const std::string output =
      ReadFile("tests/queue_agent/testdata/squeue/agent_format.txt") +
      Line("9", "R") + Line("10", "NEW_STATE");
  const ParsedSqueueRows parsed = SqueueParser().ParseRows(output);
  ASSERT_THAT(parsed.rows, SizeIs(14));
  auto inside = [&output](absl::string_view field) {
    return field.empty() ||
           (field.data() >= output.data() &&
            field.data() + field.size() <= output.data() + output.size());
  };
  for (const QueueRow& row : parsed.rows) {
    EXPECT_TRUE(inside(row.slurm_job_id()));
    EXPECT_TRUE(inside(row.reason()));
    EXPECT_TRUE(inside(row.name()));
    EXPECT_TRUE(inside(row.comment()));
    EXPECT_TRUE(inside(row.nodes()));
  }
  // "R" became "RUNNING", which is not in the text; an unknown state is.
  EXPECT_EQ(parsed.rows[12].state(), "RUNNING");
  EXPECT_FALSE(inside(parsed.rows[12].state()));
  EXPECT_EQ(parsed.rows[13].state(), "NEW_STATE");
  EXPECT_TRUE(inside(parsed.rows[13].state()));
}

TEST(SqueueParserRowsTest, KnowsWhenEveryRowIsUtf8) {
  EXPECT_TRUE(SqueueParser()
                  .ParseRows(Line("1", "R", "None", "c1", "ccb:o-1",
                                  "caf\xc3\xa9 \xe2\x9c\x93"))
                  .rows_are_utf8);
  EXPECT_TRUE(SqueueParser().ParseRows("").rows_are_utf8);
  EXPECT_FALSE(SqueueParser()
                   .ParseRows(Line("1", "R", "None", "", "(null)", "caf\xe9"))
                   .rows_are_utf8);
  // Bytes that do not even parse still make the output unchecked.
  EXPECT_FALSE(
      SqueueParser().ParseRows(Line("1", "R") + "junk\xff\n").rows_are_utf8);
}

// A delimiter that is not UTF-8 can cut a valid character in two: the rows
// are then not known to be UTF-8, and entries get '?' for the stray byte.
TEST(SqueueParserRowsTest, DelimiterThatCutsACharacter) {
  const SqueueParser parser =
      ParserFor("\xa9", {SqueueField::kName, SqueueField::kJobId});
  const std::string output =
      "caf\xc3\xa9"
      "12\n";  // "café12", valid
  const ParsedSqueueRows rows = parser.ParseRows(output);
  ASSERT_THAT(rows.rows, SizeIs(1));
  EXPECT_EQ(rows.rows[0].name(), "caf\xc3");
  EXPECT_FALSE(rows.rows_are_utf8);
  const ParsedSqueue entries = parser.Parse(output);
  ASSERT_THAT(entries.entries, SizeIs(1));
  EXPECT_EQ(entries.entries[0].name(), "caf?");
  EXPECT_EQ(entries.entries[0].slurm_job_id(), "12");
}

// ---------------------------------------------------------------------------
// Real captures (../shared/corpus/squeue). They were made with other `-o`
// formats than the agent's, so each test parses them with the layout they
// were printed in (SqueueParser::ForLayout): the same splitting, id
// validation and state normalisation run on real squeue text.

std::string Corpus(const std::string& dir, const std::string& name) {
  const std::string text = ReadFile(dir + "/corpus/squeue/" + name);
  EXPECT_FALSE(text.empty()) << name;
  return text;
}

// The lines of `capture` under the line `header`, up to the next header.
std::string CaptureBlock(const std::string& capture, absl::string_view header) {
  std::string block;
  bool inside = false;
  for (absl::string_view line : absl::StrSplit(capture, '\n')) {
    const bool is_header = absl::StartsWith(line, "---") ||
                           absl::StartsWith(line, "###") ||
                           absl::StartsWith(line, "$ ");
    if (inside && is_header) break;
    if (inside) absl::StrAppend(&block, line, "\n");
    if (line == header) inside = true;
  }
  EXPECT_FALSE(block.empty()) << "no block " << header;
  return block;
}

TEST(SqueueCorpusTest, LocalSlurmExpandedArrays) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const std::string capture = Corpus(*dir, "local-slurm-22.05__capture.txt");
  const SqueueParser parser =
      ParserFor("|", {SqueueField::kJobId, SqueueField::kState,
                      SqueueField::kName, SqueueField::kReason});
  const ParsedSqueue expanded =
      parser.Parse(CaptureBlock(capture, "--- squeue -r -h -o '%i|%T|%j|%r'"));
  EXPECT_EQ(expanded.diagnostics.malformed_lines(), 0);
  EXPECT_THAT(Ids(expanded), ElementsAre("1", "2", "3_1", "3_2", "3_3", "3_4",
                                         "4", "6", "7", "5"));
  EXPECT_EQ(expanded.entries[1].name(), "fail3");
  EXPECT_EQ(expanded.entries[1].reason(), "Priority");
  EXPECT_EQ(expanded.entries[9].reason(), "JobHeldUser");
  for (const auto& entry : expanded.entries)
    EXPECT_EQ(entry.state(), "PENDING");

  const ParsedSqueue collapsed =
      parser.Parse(CaptureBlock(capture, "--- squeue -h -o '%i|%T|%j|%r'"));
  EXPECT_EQ(collapsed.diagnostics.malformed_lines(), 0);
  EXPECT_THAT(Ids(collapsed),
              ElementsAre("1", "2", "3_[1-4]", "4", "6", "7", "5"));
}

TEST(SqueueCorpusTest, LocalSlurmLongAndShortStatesAgree) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const std::string block =
      CaptureBlock(Corpus(*dir, "local-slurm-22.05__capture.txt"),
                   "--- squeue -h -o '%A|%F|%K|%i|%T|%t|%r|%E'");
  using F = SqueueField;
  const ParsedSqueue by_long =
      ParserFor("|", {F::kIgnored, F::kIgnored, F::kIgnored, F::kJobId,
                      F::kState, F::kIgnored, F::kReason, F::kIgnored})
          .Parse(block);
  const ParsedSqueue by_short =
      ParserFor("|", {F::kIgnored, F::kIgnored, F::kIgnored, F::kJobId,
                      F::kIgnored, F::kState, F::kReason, F::kIgnored})
          .Parse(block);
  ASSERT_THAT(by_long.entries, SizeIs(7));
  ASSERT_THAT(by_short.entries, SizeIs(7));
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(by_short.entries[i].state(), by_long.entries[i].state());
    EXPECT_EQ(by_short.entries[i].slurm_job_id(),
              by_long.entries[i].slurm_job_id());
  }
  EXPECT_EQ(by_long.entries[2].slurm_job_id(), "3_[1-4]");
  EXPECT_EQ(by_long.entries[3].reason(), "Dependency");
}

TEST(SqueueCorpusTest, LocalSlurmStateTransitions) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  // Each "t=<time> rec rec ..." line holds one poll of
  // `squeue -h -r -t all -o '%i|%T|%r'`, records joined by spaces.
  const std::string capture = Corpus(*dir, "local-slurm-22.05__capture.txt");
  const SqueueParser parser = ParserFor(
      "|", {SqueueField::kJobId, SqueueField::kState, SqueueField::kReason});
  std::set<std::string> states;
  int polls = 0;
  for (absl::string_view line : absl::StrSplit(capture, '\n')) {
    if (!absl::StartsWith(line, "t=")) continue;
    std::vector<absl::string_view> records =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    records.erase(records.begin());  // the time
    const ParsedSqueue poll = parser.Parse(absl::StrJoin(records, "\n"));
    EXPECT_EQ(poll.diagnostics.malformed_lines(), 0) << line;
    EXPECT_EQ(poll.diagnostics.unknown_states(), 0) << line;
    EXPECT_EQ(poll.entries.size(), records.size());
    for (const auto& entry : poll.entries) states.insert(entry.state());
    ++polls;
  }
  EXPECT_GE(polls, 10);
  EXPECT_THAT(states,
              ::testing::IsSupersetOf(
                  {"PENDING", "RUNNING", "COMPLETING", "COMPLETED", "FAILED"}));
}

TEST(SqueueCorpusTest, LocalSlurmThrottledArrayAndTerminalStates) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const std::string capture = Corpus(*dir, "local-slurm-22.05__capture.txt");
  const SqueueParser parser = ParserFor(
      "|", {SqueueField::kJobId, SqueueField::kState, SqueueField::kReason});
  const ParsedSqueue arrays =
      parser.Parse(CaptureBlock(capture, "--- default"));
  EXPECT_THAT(Ids(arrays), ElementsAre("12_[1-6%2]", "11_[1-4]"));
  const ParsedSqueue all =
      parser.Parse(CaptureBlock(capture, "--- squeue -t all -h -o '%i|%T|%r'"));
  EXPECT_EQ(all.diagnostics.malformed_lines(), 0);
  ASSERT_THAT(all.entries, SizeIs(10));
  EXPECT_EQ(all.entries[7].slurm_job_id(), "2");
  EXPECT_EQ(all.entries[7].state(), "FAILED");
  EXPECT_EQ(all.entries[7].reason(), "NonZeroExitCode");
}

TEST(SqueueCorpusTest, VpensoCommaSeparatedStates) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const ParsedSqueue parsed =
      ParserFor(",", {SqueueField::kJobId, SqueueField::kState})
          .Parse(Corpus(*dir, "vpenso__squeue_A_T.txt"));
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0);
  EXPECT_EQ(parsed.diagnostics.unknown_states(), 0);
  EXPECT_EQ(parsed.entries.size(), static_cast<size_t>(parsed.lines));
  std::set<std::string> states;
  for (const auto& entry : parsed.entries) states.insert(entry.state());
  EXPECT_THAT(states, ::testing::IsSupersetOf(
                          {"CONFIGURING", "PREEMPTED", "NODE_FAIL",
                           "COMPLETING", "SUSPENDED", "CANCELLED", "TIMEOUT"}));
}

// ood_core captures: 0x1F-separated, a header line naming the columns, name
// and comment in the middle, a trailing separator.
SqueueLayout OodLayout(absl::string_view header, absl::string_view state) {
  SqueueLayout layout{"\x1f", {}};
  const std::vector<absl::string_view> columns = absl::StrSplit(header, "\x1f");
  // JOBID appears twice (%A, then %i); the second is the displayed id.
  int job_ids = 0;
  for (absl::string_view column : columns) {
    SqueueField field = SqueueField::kIgnored;
    if (column == "JOBID" && ++job_ids == 2) field = SqueueField::kJobId;
    if (column == state) field = SqueueField::kState;
    if (column == "REASON") field = SqueueField::kReason;
    if (column == "NODELIST") field = SqueueField::kNodes;
    if (column == "COMMENT") field = SqueueField::kComment;
    if (column == "NAME") field = SqueueField::kName;
    layout.fields.push_back(field);
  }
  return layout;
}

ParsedSqueue ParseOod(const std::string& text, absl::string_view state) {
  const size_t newline = text.find('\n');
  const SqueueLayout layout = OodLayout(text.substr(0, newline), state);
  absl::StatusOr<SqueueParser> parser = SqueueParser::ForLayout(layout);
  EXPECT_TRUE(parser.ok()) << parser.status();
  return parser->Parse(absl::string_view(text).substr(newline + 1));
}

TEST(SqueueCorpusTest, OodCoreRunningAndTimedOutJobs) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const std::string text = Corpus(*dir, "ood_core__null_submit_time.txt");
  const ParsedSqueue by_long = ParseOod(text, "STATE");
  const ParsedSqueue by_short = ParseOod(text, "ST");
  EXPECT_EQ(by_long.diagnostics.malformed_lines(), 0);
  ASSERT_THAT(by_long.entries, SizeIs(4));
  ASSERT_THAT(by_short.entries, SizeIs(4));
  EXPECT_EQ(by_long.entries[1].slurm_job_id(), "6787542");
  EXPECT_EQ(by_long.entries[1].state(), "RUNNING");
  EXPECT_EQ(by_long.entries[1].nodes(), "c0902");
  EXPECT_EQ(by_long.entries[1].name(), "ondemand/sys/dashboard/sys/bc_osc_vmd");
  EXPECT_EQ(by_long.entries[3].state(), "TIMEOUT");
  EXPECT_EQ(by_long.entries[3].reason(), "TimeLimit");
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(by_short.entries[i].state(), by_long.entries[i].state());
  }
}

// The first job of that capture is named "cupd3_n_fcc_mix_n15<0x1F>cohp": a
// real name holding the separator. With the name in the middle of the line
// every later column shifts by one. The parser cannot know: the reason
// column then holds the priority, the STATE column happens to hold ST's "R"
// (silently plausible), and the ST column holds a date, which at least is
// counted as an unknown state. This is why the agent's format puts the name
// last (see squeue_parser.h).
TEST(SqueueCorpusTest, OodCoreSeparatorInANameShiftsLaterColumns) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const std::string text = Corpus(*dir, "ood_core__null_submit_time.txt");
  const ParsedSqueue by_long = ParseOod(text, "STATE");
  ASSERT_THAT(by_long.entries, SizeIs(4));
  EXPECT_EQ(by_long.entries[0].slurm_job_id(), "6779842");
  EXPECT_EQ(by_long.entries[0].name(), "cupd3_n_fcc_mix_n15");
  EXPECT_EQ(by_long.entries[0].reason(), "100003461");
  EXPECT_EQ(by_long.entries[0].state(), "RUNNING");
  const ParsedSqueue by_short = ParseOod(text, "ST");
  EXPECT_EQ(by_short.entries[0].state(), "2026-03-10T12:34:51");
  EXPECT_EQ(by_short.diagnostics.unknown_states(), 1);

  // The same record in the agent's layout loses nothing.
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  // Columns of the first job (52: the name counts twice).
  const std::vector<std::string> cols = absl::StrSplit(lines[1], "\x1f");
  ASSERT_THAT(cols, SizeIs(52));
  const std::string agent_line = absl::StrCat(
      absl::StrJoin({cols[15], cols[36], cols[33], cols[27], cols[20]}, kUs),
      kUs, cols[17], "\x1f", cols[18], "\n");
  const ParsedSqueue agent = SqueueParser().Parse(agent_line);
  ASSERT_THAT(agent.entries, SizeIs(1));
  EXPECT_EQ(agent.entries[0].name(),
            "cupd3_n_fcc_mix_n15\x1f"
            "cohp");
  EXPECT_EQ(agent.entries[0].state(), "RUNNING");
  EXPECT_EQ(agent.diagnostics.unknown_states(), 0);
}

TEST(SqueueCorpusTest, OodCoreNonUtf8NameKeptAsBytes) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const ParsedSqueue parsed =
      ParseOod(Corpus(*dir, "ood_core__non_utf8_job_name.txt"), "STATE");
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0);
  ASSERT_THAT(parsed.entries, SizeIs(1));
  EXPECT_EQ(parsed.entries[0].slurm_job_id(), "29471683_9");
  EXPECT_EQ(parsed.entries[0].state(), "COMPLETED");
  EXPECT_THAT(parsed.entries[0].name(), HasSubstr(" non-utf8"));
  EXPECT_EQ(parsed.entries[0].comment(), "stdout=/tmp/job.output");
}

TEST(SqueueCorpusTest, RohanboardPipeSeparated) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  using F = SqueueField;
  const ParsedSqueue parsed =
      ParserFor("|", {F::kJobId, F::kIgnored, F::kName, F::kIgnored, F::kState,
                      F::kNodes, F::kReason, F::kIgnored})
          .Parse(Corpus(*dir, "rohanboard__squeue.txt"));
  ASSERT_THAT(parsed.entries, SizeIs(1));
  EXPECT_EQ(parsed.entries[0].slurm_job_id(), "2721325");
  EXPECT_EQ(parsed.entries[0].name(), "sshd");
  EXPECT_EQ(parsed.entries[0].state(), "RUNNING");
  EXPECT_EQ(parsed.entries[0].nodes(), "angmar");
  EXPECT_EQ(parsed.entries[0].reason(), "None");
}

TEST(SqueueCorpusTest, HbJobinfoArrayTaskIds) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const ParsedSqueue parsed =
      ParserFor("|", {SqueueField::kJobId, SqueueField::kIgnored})
          .Parse(Corpus(*dir, "hb-jobinfo__squeue.txt"));
  EXPECT_EQ(parsed.diagnostics.malformed_lines(), 0);
  EXPECT_EQ(parsed.entries.size(), static_cast<size_t>(parsed.lines));
  EXPECT_THAT(Ids(parsed), ::testing::Contains("8322514_33"));
}

// Outputs that are not the agent's format at all: every line is malformed,
// so the probe reports a failure instead of an empty snapshot.
TEST(SqueueCorpusTest, ForeignOutputsDoNotParseAsTheAgentFormat) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  for (const char* name :
       {"rivosinc__squeue_fallback.txt", "slurminal__squeue.json",
        "local-slurm-22.05__squeue.json", "rohanboard__squeue_json_error.txt",
        "vpenso__squeue_A_T.txt", "rohanboard__squeue.txt"}) {
    const ParsedSqueue parsed = SqueueParser().Parse(Corpus(*dir, name));
    EXPECT_GT(parsed.lines, 0) << name;
    EXPECT_EQ(parsed.diagnostics.malformed_lines(), parsed.lines) << name;
    EXPECT_THAT(parsed.entries, SizeIs(0)) << name;
  }
}

TEST(SqueueCorpusTest, RowsAndEntriesAgreeOnEveryCapture) {
  CCB_SKIP_WITHOUT_SHARED(dir);
  const std::string text = Corpus(*dir, "ood_core__null_submit_time.txt");
  const SqueueLayout layout =
      OodLayout(text.substr(0, text.find('\n')), "STATE");
  const SqueueParser ood = *SqueueParser::ForLayout(layout);
  ExpectRowsMatchEntries(ood, text.substr(text.find('\n') + 1));
  const SqueueParser pipe = ParserFor(
      "|", {SqueueField::kJobId, SqueueField::kState, SqueueField::kReason});
  for (const char* name :
       {"local-slurm-22.05__capture.txt", "vpenso__squeue_A_T.txt",
        "rohanboard__squeue.txt", "hb-jobinfo__squeue.txt",
        "rivosinc__squeue_fallback.txt", "slurminal__squeue.json"}) {
    SCOPED_TRACE(name);
    const std::string capture = Corpus(*dir, name);
    ExpectRowsMatchEntries(SqueueParser(), capture);
    ExpectRowsMatchEntries(pipe, capture);
  }
}

// Found by fuzz/squeue_parser_fuzzer (fuzz/regressions/squeue_parser/): a
// job name, reason or unknown state that is not UTF-8 (ood_core's capture
// has such a name) made the snapshot chunk unparseable for the ledger, which
// then refused every snapshot of the cluster. Entries carry '?' instead.
TEST(SqueueParserTest, EntriesAreValidUtf8WhateverTheBytes) {
  const std::string output =
      Line("3_2", "PENDING",
           "\xb2\x90"
           "bHeldUser",
           "", "(null)", "arr") +
      Line("4812", "WEIRD\xff", "None", "c1", "ccb:o-1 \xe9t\xe9", "caf\xe9");
  const ParsedSqueue parsed = SqueueParser().Parse(output);
  ASSERT_THAT(parsed.entries, SizeIs(2));
  EXPECT_EQ(parsed.entries[0].reason(), "??bHeldUser");
  EXPECT_EQ(parsed.entries[1].state(), "WEIRD?");
  EXPECT_EQ(parsed.entries[1].comment(), "ccb:o-1 ?t?");
  EXPECT_EQ(parsed.entries[1].name(), "caf?");
  EXPECT_EQ(parsed.diagnostics.unknown_states(), 1);
  for (const v1::QueueEntry& entry : parsed.entries) {
    v1::QueueEntry wire;
    EXPECT_TRUE(wire.ParseFromString(entry.SerializeAsString()))
        << entry.ShortDebugString();
  }
  // The rows still view squeue's own bytes.
  const ParsedSqueueRows rows = SqueueParser().ParseRows(output);
  ASSERT_THAT(rows.rows, SizeIs(2));
  EXPECT_EQ(rows.rows[1].name(), "caf\xe9");
}

}  // namespace
}  // namespace ccbatch::agent

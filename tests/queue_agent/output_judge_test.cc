#include "queue_agent/output_judge.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "ccbatch/v1/job.pb.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Property;

std::unique_ptr<OutputJudge> BuiltinJudge(v1::Program program) {
  auto rules = ParseRuleFile(BuiltinRuleText(program), "built-in");
  EXPECT_TRUE(rules.ok()) << rules.status();
  auto judge = OutputJudge::Create(program, *std::move(rules));
  EXPECT_TRUE(judge.ok()) << judge.status();
  return *std::move(judge);
}

v1::Verdict Judge(v1::Program program, absl::string_view text) {
  return BuiltinJudge(program)->Judge(text);
}

MATCHER(Succeeded, "succeeded") {
  *result_listener << "outcome " << v1::Verdict::Outcome_Name(arg.outcome())
                   << " cause \"" << arg.cause() << "\": " << arg.summary();
  return arg.outcome() == v1::Verdict::OUTCOME_SUCCEEDED && arg.cause().empty();
}

MATCHER_P(FailedWith, cause, absl::StrCat("failed with cause ", cause)) {
  *result_listener << "outcome " << v1::Verdict::Outcome_Name(arg.outcome())
                   << " cause \"" << arg.cause() << "\": " << arg.summary();
  return arg.outcome() == v1::Verdict::OUTCOME_FAILED && arg.cause() == cause;
}

// Pieces of Gaussian output, shaped like the real thing.
std::string GaussianStep(absl::string_view route, absl::string_view body,
                         absl::string_view end = "normal") {
  std::string text = absl::StrCat(
      " Entering Gaussian System, Link 0=g16\n Initial command:\n",
      " /opt/g16/l1.exe \"/scratch/Gau-1.inp\"\n",
      " ----------------------------------------------------------------\n",
      route,
      "\n ----------------------------------------------------------------\n",
      " SCF Done:  E(RB3LYP) =  -76.4089533     A.U. after    9 cycles\n",
      body);
  if (end == "normal") {
    absl::StrAppend(&text, " Normal termination of Gaussian 16 at Thu.\n");
  } else if (end == "error") {
    absl::StrAppend(&text,
                    " Error termination request processed by link 9999.\n"
                    " Error termination via Lnk1e in l9999.exe at Thu.\n");
  }
  return text;
}

constexpr absl::string_view kLink1 =
    " Link1:  Proceeding to internal job step number  2.\n";
constexpr absl::string_view kStationary =
    "         Item               Value     Threshold  Converged?\n"
    " Maximum Force            0.000001     0.000450     YES\n"
    "    -- Stationary point found.\n";
constexpr absl::string_view kFrequencies =
    " Harmonic frequencies (cm**-1), IR intensities (KM/Mole)\n"
    " Frequencies --   1637.2140              3847.8712\n";
constexpr absl::string_view kQuote =
    " There is an imaginary line between two nations.\n -- anonymous\n";

std::string ImaginaryLine(int n) {
  return absl::StrCat(" ******    ", n,
                      " imaginary frequencies (negative Signs) ****** \n");
}

std::string FreqStep(absl::string_view body) {
  return absl::StrCat(
      kLink1, GaussianStep(" #N Geom=AllCheck Guess=TCheck Freq", body));
}

TEST(GaussianJudgeTest, SingleStepEndingNormallySucceeds) {
  const v1::Verdict verdict = Judge(
      v1::PROGRAM_GAUSSIAN, GaussianStep(" #p b3lyp/6-31g(d) sp", kQuote));
  EXPECT_THAT(verdict, Succeeded());
  EXPECT_THAT(
      verdict.evidence(),
      Contains(AllOf(Property(&v1::EvidenceLine::rule, "normal_termination"),
                     Property(&v1::EvidenceLine::file, "output"))));
}

TEST(GaussianJudgeTest, EveryStepOfALink1JobMustEndNormally) {
  // Three steps: BatchRunner's at_least_2 called this a failure.
  const std::string three =
      absl::StrCat(GaussianStep(" #p opt freq b3lyp/6-31g(d)", kStationary),
                   FreqStep(absl::StrCat(kFrequencies, kStationary)),
                   " Link1:  Proceeding to internal job step number  3.\n",
                   GaussianStep(" #p b3lyp/6-311g(d,p) geom=check", ""));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, three), Succeeded());

  const std::string second_fails =
      absl::StrCat(GaussianStep(" #p stable=opt b3lyp/6-31g(d)", ""),
                   GaussianStep(" #p opt=(ts,calcfc) freq b3lyp/6-31g(d)",
                                " Optimization stopped.\n", "error"));
  const v1::Verdict verdict = Judge(v1::PROGRAM_GAUSSIAN, second_fails);
  EXPECT_THAT(verdict, FailedWith("error_termination"));
  EXPECT_THAT(verdict.summary(), HasSubstr("job step 2 of 2"));
  EXPECT_THAT(verdict.summary(), HasSubstr("Optimization stopped."));
}

TEST(GaussianJudgeTest, AStepWithoutTerminationIsIncomplete) {
  const std::string text =
      absl::StrCat(GaussianStep(" #p opt freq b3lyp/6-31g(d)", kStationary),
                   kLink1, " Entering Gaussian System, Link 0=g16\n");
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, text),
              FailedWith("incomplete_output"));
  EXPECT_THAT(
      Judge(v1::PROGRAM_GAUSSIAN,
            GaussianStep(" #p b3lyp/6-31g(d)", " Cycle  11  Pass 1\n", "none")),
      FailedWith("incomplete_output"));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, ""), FailedWith("incomplete_output"));
}

TEST(GaussianJudgeTest, OptFreqWithoutItsFrequencyStepIsIncomplete) {
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN,
                    GaussianStep(" #p opt freq b3lyp/6-31g(d)", kStationary)),
              FailedWith("incomplete_output"));
}

TEST(GaussianJudgeTest, ErrorTerminationCauseComesFromTheLastMarker) {
  struct Case {
    const char* body;
    const char* cause;
  };
  for (const Case& c : {
           Case{" Convergence failure -- run terminated.\n", "scf_fail"},
           Case{"    SCF has not converged.  Gradients are GARBAGE!!\n",
                "scf_fail"},
           Case{" Optimization stopped.\n    -- Number of steps exceeded\n",
                "opt_fail"},
           Case{" FormBX had a problem.\n", "bad_internals"},
           Case{" QPErr --- A syntax error was detected in the input line.\n",
                "syntax_error"},
           Case{" Optimization stopped.\n Convergence failure -- run "
                "terminated.\n",
                "scf_fail"},
           Case{" 3-21G basis sets are only available up to Xe.\n",
                "error_termination"},
       }) {
    EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN,
                      GaussianStep(" #p opt b3lyp/6-31g(d)", c.body, "error")),
                FailedWith(c.cause))
        << c.body;
  }
}

TEST(GaussianJudgeTest, OptFreqNeedsTheFrequencyStepsStationaryPoint) {
  const std::string route = " # opt b3lyp/6-31G* freq";  // not adjacent
  EXPECT_THAT(
      Judge(v1::PROGRAM_GAUSSIAN,
            absl::StrCat(GaussianStep(route, kStationary),
                         FreqStep(absl::StrCat(kFrequencies, kStationary)))),
      Succeeded());
  const v1::Verdict verdict =
      Judge(v1::PROGRAM_GAUSSIAN,
            absl::StrCat(GaussianStep(route, kStationary),
                         FreqStep(absl::StrCat(kFrequencies,
                                               " Maximum Displacement  0.002  "
                                               "0.0018  NO\n"))));
  EXPECT_THAT(verdict, FailedWith("not_stationary"));
  EXPECT_THAT(verdict.evidence(),
              Contains(Property(&v1::EvidenceLine::rule, "route")));
}

TEST(GaussianJudgeTest, RouteKeywordsAreReadWhateverTheirSpelling) {
  // Wrapped at 70 columns: "fr" + "eq"; options in parentheses; #P level.
  const std::string wrapped =
      " #P B3LYP/6-31G(d) Opt=(CalcFC,MaxCycles=100) SCRF=(PCM, Solvent=Water) "
      "fr\n"
      " eq";
  const std::string two_steps =
      absl::StrCat(GaussianStep(wrapped, kStationary), FreqStep(kFrequencies));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, two_steps),
              FailedWith("not_stationary"));
  // stable=opt is not an optimisation; "freq" alone asks for no check.
  EXPECT_THAT(
      Judge(v1::PROGRAM_GAUSSIAN,
            absl::StrCat(GaussianStep(" # um062x def2svp stable=opt freq", ""),
                         FreqStep(kFrequencies))),
      Succeeded());
}

TEST(GaussianJudgeTest, ArchiveRouteEchoIsNotARoute) {
  // The archive block repeats the route without the dashed rule above it.
  const std::string text =
      GaussianStep(" #p opt b3lyp/sto-3g",
                   absl::StrCat(kStationary,
                                " 1|1|UNPC|FOpt|RB3LYP|STO-3G||\n"
                                " # opt freq b3lyp/sto-3g||Title\n"));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, text), Succeeded());
}

TEST(GaussianJudgeTest, ImaginaryFrequenciesAreCountedFromTheirOwnLine) {
  const std::string min_route = " #p opt freq b3lyp/6-31g(d)";
  const std::string ts_route =
      " #p opt=(ts,calcfc,noeigentest) freq b3lyp/6-31g(d)";
  auto job = [&](const std::string& route, int imaginary) {
    std::string freq_body(kFrequencies);
    if (imaginary > 0) freq_body = ImaginaryLine(imaginary) + freq_body;
    return absl::StrCat(GaussianStep(route, kStationary),
                        FreqStep(absl::StrCat(freq_body, kStationary, kQuote)));
  };
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, job(min_route, 0)), Succeeded());
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, job(min_route, 1)),
              FailedWith("imaginary_frequencies"));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, job(ts_route, 1)), Succeeded());
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, job(ts_route, 0)),
              FailedWith("imaginary_frequencies"));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, job(ts_route, 2)),
              FailedWith("imaginary_frequencies"));
  // A frequency-only job is a minimum check.
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN,
                    GaussianStep(" #p freq b3lyp/6-31g(d)",
                                 ImaginaryLine(2) + std::string(kFrequencies))),
              FailedWith("imaginary_frequencies"));
}

TEST(GaussianJudgeTest, ImaginaryCheckComesBeforeStationarity) {
  const std::string text = absl::StrCat(
      GaussianStep(" # symm=loose opt b3lyp/6-31G* freq", kStationary),
      FreqStep(absl::StrCat(ImaginaryLine(3), kFrequencies)));
  EXPECT_THAT(Judge(v1::PROGRAM_GAUSSIAN, text),
              FailedWith("imaginary_frequencies"));
}

TEST(GaussianJudgeTest, ScanPointsThatHitMaxCycleAreWarnings) {
  const v1::Verdict verdict = Judge(
      v1::PROGRAM_GAUSSIAN,
      GaussianStep(" #rb3lyp gen opt=(ModRedundant,MaxCycle=10)",
                   " Optimization stopped.\n" + std::string(kStationary)));
  EXPECT_THAT(verdict, Succeeded());
  EXPECT_THAT(verdict.warnings(),
              ElementsAre(HasSubstr("optimisation(s) stopped")));
}

TEST(GaussianJudgeTest, CrlfOutputIsJudgedLikeLf) {
  const std::string lf =
      absl::StrCat(GaussianStep(" #p opt freq b3lyp/6-31g(d)", kStationary),
                   FreqStep(absl::StrCat(ImaginaryLine(1), kFrequencies)));
  const v1::Verdict from_lf = Judge(v1::PROGRAM_GAUSSIAN, lf);
  const v1::Verdict from_crlf =
      Judge(v1::PROGRAM_GAUSSIAN, absl::StrReplaceAll(lf, {{"\n", "\r\n"}}));
  EXPECT_THAT(from_lf, FailedWith("imaginary_frequencies"));
  EXPECT_EQ(from_crlf.SerializeAsString(), from_lf.SerializeAsString());
}

TEST(GaussianJudgeTest, FieldsComeFromTheRuleSet) {
  const v1::Verdict verdict =
      Judge(v1::PROGRAM_GAUSSIAN, GaussianStep(" #p sp", kQuote));
  std::vector<std::string> fields;
  for (const v1::ExtractedField& field : verdict.fields()) {
    fields.push_back(
        absl::StrCat(field.name(), "=", absl::StrJoin(field.values(), ",")));
  }
  EXPECT_THAT(fields, Contains("E_el_au=-76.4089533"));
  EXPECT_THAT(fields, Contains("normal_exit=true"));
  // BatchRunner's rule matches the quote; it is a field, not the verdict.
  EXPECT_THAT(fields, Contains("imaginary_frequencies=true"));
  EXPECT_THAT(fields, Contains("is_opt_freq=false"));
}

TEST(OutputJudgeTest, AUsersRulesChangeFieldsNotTheVerdict) {
  CCB_ASSERT_OK_AND_ASSIGN(
      RuleSet rules,
      ParseRuleFile("normal_exit ; nothing matches this ; found\n"
                    "energies ; SCF Done ; list ; float\n"
                    "broken ; SCF Done ; first ; int ; 5\n",
                    "/home/u/rules/gaussian_rules.dat"));
  CCB_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<OutputJudge> judge,
      OutputJudge::Create(v1::PROGRAM_GAUSSIAN, std::move(rules)));
  const v1::Verdict verdict = judge->Judge(GaussianStep(" #p sp", ""));
  EXPECT_THAT(verdict, Succeeded());
  ASSERT_EQ(verdict.fields_size(), 2);
  EXPECT_EQ(verdict.fields(0).name(), "normal_exit");
  EXPECT_THAT(verdict.fields(0).values(), ElementsAre("false"));
  EXPECT_EQ(verdict.fields(1).name(), "energies");
  EXPECT_THAT(verdict.fields(1).values(), ElementsAre("-76.4089533"));
  EXPECT_THAT(verdict.warnings(),
              ElementsAre(AllOf(HasSubstr("rule broken"),
                                HasSubstr("gaussian_rules.dat:3"))));
}

TEST(OutputJudgeTest, NeedsAProgram) {
  EXPECT_THAT(OutputJudge::Create(v1::PROGRAM_UNSPECIFIED, RuleSet()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("PROGRAM_UNSPECIFIED")));
}

// ORCA -----------------------------------------------------------------------

std::string OrcaOutput(absl::string_view keywords, absl::string_view body,
                       bool normal = true) {
  return absl::StrCat(
      "================================================================\n"
      "                                       INPUT FILE\n"
      "================================================================\n"
      "NAME = job.inp\n",
      keywords,
      "|  9>                          ****END OF INPUT****\n"
      "================================================================\n"
      "FINAL SINGLE POINT ENERGY      -229.123456789\n",
      body,
      normal ? "                             ****ORCA TERMINATED NORMALLY****\n"
             : "");
}

constexpr absl::string_view kRunDone =
    "                                *** OPTIMIZATION RUN DONE ***\n";

std::string OrcaFrequencies(const std::vector<std::string>& modes) {
  std::string text =
      "-----------------------\nVIBRATIONAL FREQUENCIES\n"
      "-----------------------\n\n   0:         0.00 cm**-1\n";
  for (size_t i = 0; i < modes.size(); ++i) {
    absl::StrAppend(&text, "   ", i + 6, ":     ", modes[i], " cm**-1\n");
  }
  absl::StrAppend(&text, "\n------------\nNORMAL MODES\n------------\n");
  return text;
}

TEST(OrcaJudgeTest, OptimisationsNeedRunDoneWhateverTheKeyword) {
  for (const char* keywords :
       {"|  1> ! B3LYP def2-SVP Opt\n", "|  1> !tightopt\n",
        "|  1> ! PBE\n|  2> ! LooseOpt  # loose\n", "|  1> ! COPT Freq\n",
        "|  1> ! VeryTightOpt\n"}) {
    EXPECT_THAT(Judge(v1::PROGRAM_ORCA, OrcaOutput(keywords, kRunDone)),
                Succeeded())
        << keywords;
    EXPECT_THAT(
        Judge(v1::PROGRAM_ORCA,
              OrcaOutput(keywords,
                         "The optimization did not converge but reached the "
                         "maximum number of optimization cycles.\n")),
        FailedWith("opt_fail"))
        << keywords;
  }
  // Not an optimisation: no RUN DONE needed; "opt" outside the input block
  // and in a comment does not count.
  EXPECT_THAT(
      Judge(v1::PROGRAM_ORCA, OrcaOutput("|  1> ! B3LYP def2-SVP # Opt later\n",
                                         "geometry opt stuff\n")),
      Succeeded());
}

TEST(OrcaJudgeTest, ImaginaryModesFailExceptOneForOptTs) {
  const std::string one = OrcaFrequencies({"-200.77", "1200.5"});
  EXPECT_THAT(Judge(v1::PROGRAM_ORCA, OrcaOutput("|  1> ! Opt Freq\n",
                                                 absl::StrCat(kRunDone, one))),
              FailedWith("imaginary_frequencies"));
  EXPECT_THAT(Judge(v1::PROGRAM_ORCA, OrcaOutput("|  1> ! NumFreq\n", one)),
              FailedWith("imaginary_frequencies"));
  EXPECT_THAT(Judge(v1::PROGRAM_ORCA, OrcaOutput("|  1> ! OptTS Freq\n",
                                                 absl::StrCat(kRunDone, one))),
              Succeeded());
  EXPECT_THAT(
      Judge(v1::PROGRAM_ORCA,
            OrcaOutput(
                "|  1> ! OptTS Freq\n",
                absl::StrCat(kRunDone, OrcaFrequencies({"-0.00", "30.1"})))),
      FailedWith("imaginary_frequencies"));
  EXPECT_THAT(
      Judge(v1::PROGRAM_ORCA,
            OrcaOutput(
                "|  1> ! OptTS Freq\n",
                absl::StrCat(kRunDone, OrcaFrequencies({"-633.3", "-20.2"})))),
      FailedWith("imaginary_frequencies"));
  // -0.00 and negative numbers outside the section do not count.
  EXPECT_THAT(
      Judge(v1::PROGRAM_ORCA,
            OrcaOutput("|  1> ! Freq\n",
                       absl::StrCat(OrcaFrequencies({"-0.00", "1500.0"}),
                                    "  STATE 2: -3863.3 cm**-1\n"))),
      Succeeded());
}

TEST(OrcaJudgeTest, AbnormalEndsTakeTheirCauseFromTheMarkers) {
  EXPECT_THAT(Judge(v1::PROGRAM_ORCA,
                    OrcaOutput("|  1> ! B3LYP\n",
                               "  *  SCF NOT CONVERGED AFTER 125 CYCLES  *\n"
                               "  ERROR\n",
                               false)),
              FailedWith("scf_fail"));
  EXPECT_THAT(Judge(v1::PROGRAM_ORCA,
                    OrcaOutput("|  1> ! B3LYP\n",
                               "ORCA finished by error termination in GTOInt\n"
                               "  .... aborting the run\n",
                               false)),
              FailedWith("error_termination"));
  EXPECT_THAT(Judge(v1::PROGRAM_ORCA,
                    OrcaOutput("|  1> ! B3LYP\n", "  ITER  Energy\n", false)),
              FailedWith("incomplete_output"));
}

TEST(OrcaJudgeTest, RecoveredScfIsAWarning) {
  const v1::Verdict verdict = Judge(
      v1::PROGRAM_ORCA,
      OrcaOutput("|  1> ! bp86 svp opt\n",
                 absl::StrCat("  *  SCF NOT CONVERGED AFTER 8 CYCLES  *\n",
                              kRunDone)));
  EXPECT_THAT(verdict, Succeeded());
  EXPECT_THAT(verdict.warnings(), ElementsAre(HasSubstr("SCF NOT CONVERGED")));
  EXPECT_THAT(verdict.fields(),
              Contains(Property(&v1::ExtractedField::name, "E_el_au")));
}

// xTB, CREST, pyAroma --------------------------------------------------------

std::string Fixture(absl::string_view name) {
  std::ifstream in(absl::StrCat("tests/queue_agent/testdata/xtb/", name));
  std::stringstream buffer;
  buffer << in.rdbuf();
  EXPECT_FALSE(buffer.str().empty()) << name;
  return buffer.str();
}

TEST(XtbJudgeTest, RealRunsFromThisMachine) {
  EXPECT_THAT(Judge(v1::PROGRAM_XTB, Fixture("water_opt.out")), Succeeded());
  const v1::Verdict ohess = Judge(v1::PROGRAM_XTB, Fixture("water_ohess.out"));
  EXPECT_THAT(ohess, Succeeded());
  EXPECT_THAT(ohess.warnings(), IsEmpty());
  EXPECT_THAT(Judge(v1::PROGRAM_XTB, Fixture("water_fail.out")),
              FailedWith("error_termination"));
  EXPECT_THAT(Judge(v1::PROGRAM_XTB, Fixture("nh3_planar_hess.out")),
              FailedWith("imaginary_frequencies"));
  EXPECT_THAT(Judge(v1::PROGRAM_XTB, Fixture("water_linear_hess.out")),
              FailedWith("error_termination"));
}

TEST(XtbJudgeTest, FieldsOfARealRun) {
  const v1::Verdict verdict =
      Judge(v1::PROGRAM_XTB, Fixture("water_ohess.out"));
  std::vector<std::string> names;
  for (const v1::ExtractedField& field : verdict.fields()) {
    names.push_back(field.name());
  }
  EXPECT_THAT(names, Contains("E_el_au"));
  EXPECT_THAT(names, Contains("G_au"));
  EXPECT_THAT(names, Contains("imaginary_frequencies"));
}

TEST(XtbJudgeTest, SmallImaginaryModesAreAWarning) {
  const v1::Verdict verdict =
      Judge(v1::PROGRAM_XTB,
            "          :  # imaginary freq.                       1      :\n"
            " * finished run on 2026/01/01 at 10:00:00.000\n");
  EXPECT_THAT(verdict, Succeeded());
  EXPECT_THAT(verdict.warnings(), ElementsAre(HasSubstr("cut-off")));
  EXPECT_THAT(Judge(v1::PROGRAM_XTB, "   * xtb version 6.5.1\n"),
              FailedWith("incomplete_output"));
}

TEST(CrestJudgeTest, NormalTerminationOrTheMarkers) {
  EXPECT_THAT(Judge(v1::PROGRAM_CREST, " CREST terminated normally.\n"),
              Succeeded());
  EXPECT_THAT(
      Judge(v1::PROGRAM_CREST, " Initial geometry optimization failed!\n"),
      FailedWith("opt_fail"));
  EXPECT_THAT(Judge(v1::PROGRAM_CREST,
                    "malloc(): unaligned tcache chunk detected\n"
                    "Command terminated by signal 6\n"),
              FailedWith("error_termination"));
  EXPECT_THAT(Judge(v1::PROGRAM_CREST, " C R E S T\n version 3.0.1"),
              FailedWith("incomplete_output"));
}

TEST(PyaromaJudgeTest, NormalTerminationOrTheMarkers) {
  EXPECT_THAT(Judge(v1::PROGRAM_PYAROMA, "pyAroma terminated normally\n"),
              Succeeded());
  EXPECT_THAT(Judge(v1::PROGRAM_PYAROMA,
                    "Traceback (most recent call last):\nValueError: x\n"),
              FailedWith("error_termination"));
  EXPECT_THAT(Judge(v1::PROGRAM_PYAROMA, "reading input\n"),
              FailedWith("incomplete_output"));
}

// Whether `verdict` can be parsed back from the wire (proto3 strings must be
// UTF-8, or the ledger refuses the message carrying it).
bool SurvivesWire(const v1::Verdict& verdict) {
  v1::Verdict parsed;
  return parsed.ParseFromString(verdict.SerializeAsString());
}

// Found by fuzz/output_judge_fuzzer (fuzz/regressions/output_judge/).
TEST(OutputJudgeTest, EvidenceThatIsNotUtf8BecomesQuestionMarks) {
  const v1::Verdict verdict =
      Judge(v1::PROGRAM_CREST,
            "CREST version 2.12\n writing /home/ren\xe9/x.xyz\n"
            " CREST terminated normally ('\xff').\n");
  EXPECT_THAT(verdict, Succeeded());
  ASSERT_THAT(verdict.evidence(), Not(IsEmpty()));
  EXPECT_EQ(verdict.evidence(0).text(), " CREST terminated normally ('?').");
  EXPECT_TRUE(SurvivesWire(verdict));
}

TEST(OutputJudgeTest, EvidenceIsCutBetweenCharacters) {
  // 299 bytes, then "é" (2 bytes) across the 300-byte cut.
  const std::string line = absl::StrCat(" CREST terminated normally",
                                        std::string(273, '.'), "\xc3\xa9 end");
  const v1::Verdict verdict = Judge(v1::PROGRAM_CREST, line + "\n");
  ASSERT_THAT(verdict.evidence(), Not(IsEmpty()));
  EXPECT_EQ(verdict.evidence(0).text(), line.substr(0, 299));
  EXPECT_TRUE(SurvivesWire(verdict));
}

// Found by fuzz/rule_file_fuzzer: values a user's rule extracts come from
// the file, whatever its encoding.
TEST(OutputJudgeTest, ExtractedValuesThatAreNotUtf8BecomeQuestionMarks) {
  CCB_ASSERT_OK_AND_ASSIGN(
      RuleSet rules,
      // RE2's `.` and `\S` match characters, not stray bytes; `\C` does.
      ParseRuleFile(
          "title ; ^Title ; first ; string ; first ; Title: (\\C+) K\n"
          "lines ; ^Title ; list\n",
          "mine.dat"));
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OutputJudge> judge,
                           OutputJudge::Create(v1::PROGRAM_CREST, rules));
  const v1::Verdict verdict = judge->Judge(
      "Title: \xc9thanol \xe0 298 K\n CREST terminated normally\n");
  EXPECT_THAT(
      verdict.fields(),
      ElementsAre(AllOf(Property(&v1::ExtractedField::name, "title"),
                        Property(&v1::ExtractedField::values,
                                 ElementsAre("?thanol ? 298"))),
                  AllOf(Property(&v1::ExtractedField::name, "lines"),
                        Property(&v1::ExtractedField::values,
                                 ElementsAre("Title: ?thanol ? 298 K")))));
  EXPECT_TRUE(SurvivesWire(verdict));
}

}  // namespace
}  // namespace ccbatch::agent

// docs/CLI.md shows real output: every block after a
// `<!-- golden: NAME -->` marker must equal tests/cli/testdata/NAME, which
// the renderer and command tests pin. Regenerate the blocks from the files
// after an intended change to the output.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/cli/golden.h"

namespace ccbatch::cli {
namespace {

using ::ccbatch::cli::testing::ReadGolden;

std::string ReadDoc() {
  std::ifstream in("docs/CLI.md", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(CliDocsTest, EveryQuotedOutputIsTheGoldenFile) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "docs/CLI.md is missing";
  re2::StringPiece input(doc);
  const RE2 block("(?s)<!-- golden: (\\S+) -->\\n```\\n(.*?)```");
  std::string name;
  std::string body;
  std::set<std::string> quoted;
  while (RE2::FindAndConsume(&input, block, &name, &body)) {
    quoted.insert(name);
    EXPECT_EQ(body, ReadGolden(name))
        << "docs/CLI.md quotes an outdated " << name;
  }
  // Each command's example is there.
  for (const char* expected :
       {"import.txt", "import_bad.err", "status.txt", "watch.txt", "jobs.txt",
        "show_failed.txt", "explain_waiting.txt", "explain_waiting.json",
        "retry.txt", "cancel.txt", "clusters.txt", "clusters.json",
        "check_output.txt"}) {
    EXPECT_TRUE(quoted.count(expected)) << "docs/CLI.md lacks " << expected;
  }
}

}  // namespace
}  // namespace ccbatch::cli

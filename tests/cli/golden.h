// Golden files for ccctl's output: tests/cli/testdata/<name>. To refresh
// them after an intended change, run the test with
//   --test_env=CCBATCH_UPDATE_GOLDENS=$PWD/tests/cli/testdata
// and review the diff; docs/CLI.md quotes these files (ccctl_docs_test
// checks that it still does).
#ifndef CCBATCH_TESTS_CLI_GOLDEN_H_
#define CCBATCH_TESTS_CLI_GOLDEN_H_

#include <string>

namespace ccbatch::cli::testing {

// The golden file's text, or "" with a test failure if it is missing.
std::string ReadGolden(const std::string& name);

// EXPECTs `actual` to equal the golden file `name` (and rewrites the file
// when CCBATCH_UPDATE_GOLDENS names a directory).
void ExpectGolden(const std::string& name, const std::string& actual);

}  // namespace ccbatch::cli::testing

#endif  // CCBATCH_TESTS_CLI_GOLDEN_H_

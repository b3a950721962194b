#include "tests/cli/golden.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace ccbatch::cli::testing {

std::string ReadGolden(const std::string& name) {
  std::ifstream in("tests/cli/testdata/" + name, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing golden file tests/cli/testdata/" << name;
    return "";
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  if (const char* dir = std::getenv("CCBATCH_UPDATE_GOLDENS")) {
    std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
    out << actual;
    return;
  }
  EXPECT_EQ(ReadGolden(name), actual)
      << "golden tests/cli/testdata/" << name << " differs; actual output:\n"
      << actual;
}

}  // namespace ccbatch::cli::testing

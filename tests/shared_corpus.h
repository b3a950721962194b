// Where the shared test corpus (../shared beside the checkout) is. Tests that
// need it skip with a message when it is absent, so the project's own tests
// pass for someone who cloned it alone.
#ifndef CCBATCH_TESTS_SHARED_CORPUS_H_
#define CCBATCH_TESTS_SHARED_CORPUS_H_

#include <sys/stat.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace ccbatch::testing {

// The directory named by $CCBATCH_SHARED, if it exists. scripts/test.sh sets
// it with --test_env.
inline std::optional<std::string> SharedDir() {
  const char* dir = std::getenv("CCBATCH_SHARED");
  struct stat info;
  if (dir == nullptr || stat(dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
    return std::nullopt;
  }
  return std::string(dir);
}

}  // namespace ccbatch::testing

#define CCB_SKIP_WITHOUT_SHARED(var)                                   \
  const std::optional<std::string> var = ::ccbatch::testing::SharedDir(); \
  if (!var) GTEST_SKIP() << "needs ../shared beside the checkout (set "  \
                            "CCBATCH_SHARED); skipping"

#endif  // CCBATCH_TESTS_SHARED_CORPUS_H_

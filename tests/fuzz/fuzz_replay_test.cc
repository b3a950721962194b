// Replays a fuzz target's committed inputs (fuzz/seeds/<target>/ and every
// input that once broke it, fuzz/regressions/<target>/) through its
// LLVMFuzzerTestOneInput in the ordinary gcc build: each finding stays a
// regression test without clang or libFuzzer. The target's own invariant
// checks (fuzz/fuzz_check.h) abort on a violation, which fails this test
// with the offending file named just before.
//
// Usage: <test> FILE...   (Bazel passes the files; see BUILD.bazel)
#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string>* inputs = nullptr;

TEST(FuzzReplayTest, EveryCommittedInputRunsCleanly) {
  ASSERT_FALSE(inputs->empty()) << "no inputs given";
  int seeds = 0;
  for (const std::string& path : *inputs) {
    std::ifstream file(path, std::ios::binary);
    ASSERT_TRUE(file) << "cannot open " << path;
    const std::string data{std::istreambuf_iterator<char>(file),
                           std::istreambuf_iterator<char>()};
    // Before the run: a failed invariant aborts the process.
    std::cerr << "replaying " << path << " (" << data.size() << " bytes)\n";
    EXPECT_EQ(LLVMFuzzerTestOneInput(
                  reinterpret_cast<const uint8_t*>(data.data()), data.size()),
              0)
        << path;
    if (absl::StrContains(path, "/seeds/")) ++seeds;
  }
  EXPECT_GT(seeds, 0) << "no seed corpus among the inputs";
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  inputs = new std::vector<std::string>(argv + 1, argv + argc);
  return RUN_ALL_TESTS();
}

// Invariant checks inside fuzz targets. A failed check prints what broke and
// aborts, which libFuzzer reports as a crash and the replay tests
// (tests/fuzz/) as a failure, with or without sanitizers.
#ifndef CCBATCH_FUZZ_FUZZ_CHECK_H_
#define CCBATCH_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "google/protobuf/message.h"

namespace ccbatch::fuzz {

[[noreturn]] inline void CheckFailed(const char* file, int line,
                                     const char* condition,
                                     const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n  %s\n", file, line,
               condition, detail.c_str());
  std::abort();
}

// True if `message` survives the wire: what a peer would parse from its
// serialization equals it. proto3 `string` fields must hold valid UTF-8 or
// the receiving side refuses the whole message (gRPC then fails the call).
inline bool SurvivesWire(const google::protobuf::Message& message) {
  std::string wire;
  if (!message.SerializeToString(&wire)) return false;
  std::unique_ptr<google::protobuf::Message> parsed(message.New());
  return parsed->ParseFromString(wire) && parsed->SerializeAsString() == wire;
}

}  // namespace ccbatch::fuzz

#define CCB_FUZZ_CHECK(condition, detail)                                     \
  do {                                                                        \
    if (!(condition)) {                                                       \
      ::ccbatch::fuzz::CheckFailed(__FILE__, __LINE__, #condition, (detail)); \
    }                                                                         \
  } while (false)

#endif  // CCBATCH_FUZZ_FUZZ_CHECK_H_

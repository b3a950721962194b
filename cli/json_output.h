// ccctl's `-o json`: protobuf's canonical JSON mapping of the ledger's
// response messages, so scripts see exactly the API's field names
// (lowerCamelCase), enums by name ("JOB_STATUS_RUNNING"), timestamps in
// RFC 3339 UTC, 64-bit integers as strings. Fields at their default value
// are printed too (0, false, "", []), so a script never meets a missing key.
// docs/CLI.md documents this contract; tests pin it with golden files.
//
// Pure, thread-safe.
#ifndef CCBATCH_CLI_JSON_OUTPUT_H_
#define CCBATCH_CLI_JSON_OUTPUT_H_

#include <string>

#include "google/protobuf/message.h"

namespace ccbatch::cli {

// Indented JSON of `message` followed by "\n".
std::string ToJson(const google::protobuf::Message& message);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_JSON_OUTPUT_H_

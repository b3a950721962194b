// Reading and writing the local files ccctl touches (batchfiles, token
// files, TLS material, `export --out`). Only main.cc wires these; the
// commands take them as std::function so tests run without a disk.
#ifndef CCBATCH_CLI_LOCAL_FILES_H_
#define CCBATCH_CLI_LOCAL_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ccbatch::cli {

// The whole file. NotFound / PermissionDenied / FailedPrecondition (a
// directory, an I/O error) name the path and the system's reason.
absl::StatusOr<std::string> ReadLocalFile(const std::string& path);

// Replaces `path` with `contents`: written to "<path>.tmp" then renamed, so
// a reader never sees half a file. Errors name the path and the reason.
absl::Status WriteLocalFile(const std::string& path,
                            const std::string& contents);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_LOCAL_FILES_H_

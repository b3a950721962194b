// Renders what `ccctl import` read and what the ledger made of it, and what
// `ccctl pause` / `resume` changed. Pure functions, thread-safe.
#ifndef CCBATCH_CLI_IMPORT_RENDERING_H_
#define CCBATCH_CLI_IMPORT_RENDERING_H_

#include <string>

#include "ccbatch/v1/ledger.pb.h"
#include "cli/output_format.h"

namespace ccbatch::cli {

// `response` null: a dry run (nothing sent). Table: a line saying what was
// imported (jobs added / updated / unchanged, jobs kept), the batch's
// settings, then KEY PROGRAM DIRECTORY UPSTREAM. JSON: the response, or the
// request for a dry run. CSV is not offered for import.
std::string RenderImport(const ccbatch::v1::ImportBatchRequest& request,
                         const ccbatch::v1::ImportBatchResponse* response,
                         OutputFormat format, const RenderOptions& options);

// After PauseBatch (`paused` true) or ResumeBatch. JSON: the BatchInfo.
std::string RenderPauseChange(const ccbatch::v1::BatchInfo& batch, bool paused,
                              OutputFormat format);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_IMPORT_RENDERING_H_

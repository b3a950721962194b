// A small LedgerService for ccctl's tests: answers from a LedgerFixture,
// records every call (with its authorization header and whether it had a
// deadline), and can be told to fail. Runs in-process on 127.0.0.1 with a
// port picked by the kernel. Stands in for the real ledger_service until
// the command tests are pointed at it.
#ifndef CCBATCH_TESTS_CLI_SCRIPTED_LEDGER_H_
#define CCBATCH_TESTS_CLI_SCRIPTED_LEDGER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "grpcpp/server.h"
#include "tests/cli/ledger_fixture.h"

namespace ccbatch::cli::testing {

struct RecordedCall {
  std::string rpc;
  // The "authorization" header, empty when absent.
  std::string authorization;
  bool had_deadline = false;
  // The request in text format.
  std::string request;
};

class ScriptedLedger final : public ccbatch::v1::LedgerService::Service {
 public:
  explicit ScriptedLedger(LedgerFixture fixture);

  // `rpc` (e.g. "GetJob", or "*" for all) answers `status` from now on.
  void Fail(const std::string& rpc, grpc::Status status);
  // ListJobs pages hold at most this many jobs, whatever the client asks.
  void SetMaxPageSize(int size);
  // What Watch writes, in order. Then it returns OK, or with
  // `hold_open` waits until the client cancels.
  void SetWatchScript(std::vector<ccbatch::v1::WatchResponse> script,
                      bool hold_open);
  // Notified when Watch has written its whole script.
  absl::Notification& watch_script_written() { return watch_written_; }

  std::vector<RecordedCall> calls() const;
  std::vector<std::string> rpc_names() const;
  std::optional<ccbatch::v1::ImportBatchRequest> last_import() const;

  grpc::Status ImportBatch(grpc::ServerContext* context,
                           const ccbatch::v1::ImportBatchRequest* request,
                           ccbatch::v1::ImportBatchResponse* response) override;
  grpc::Status PauseBatch(grpc::ServerContext* context,
                          const ccbatch::v1::PauseBatchRequest* request,
                          ccbatch::v1::BatchInfo* response) override;
  grpc::Status ResumeBatch(grpc::ServerContext* context,
                           const ccbatch::v1::ResumeBatchRequest* request,
                           ccbatch::v1::BatchInfo* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context,
                        const ccbatch::v1::ListJobsRequest* request,
                        ccbatch::v1::ListJobsResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context,
                      const ccbatch::v1::GetJobRequest* request,
                      ccbatch::v1::GetJobResponse* response) override;
  grpc::Status Watch(
      grpc::ServerContext* context, const ccbatch::v1::WatchRequest* request,
      grpc::ServerWriter<ccbatch::v1::WatchResponse>* writer) override;
  grpc::Status Summary(grpc::ServerContext* context,
                       const ccbatch::v1::SummaryRequest* request,
                       ccbatch::v1::SummaryResponse* response) override;
  grpc::Status Retry(grpc::ServerContext* context,
                     const ccbatch::v1::RetryRequest* request,
                     ccbatch::v1::RetryResponse* response) override;
  grpc::Status Cancel(grpc::ServerContext* context,
                      const ccbatch::v1::CancelRequest* request,
                      ccbatch::v1::CancelResponse* response) override;
  grpc::Status ListClusters(
      grpc::ServerContext* context,
      const ccbatch::v1::ListClustersRequest* request,
      ccbatch::v1::ListClustersResponse* response) override;
  grpc::Status ExportLedger(
      grpc::ServerContext* context,
      const ccbatch::v1::ExportLedgerRequest* request,
      ccbatch::v1::ExportLedgerResponse* response) override;

 private:
  // Records the call; returns the failure set for `rpc`, if any.
  std::optional<grpc::Status> Record(const std::string& rpc,
                                     grpc::ServerContext* context,
                                     const google::protobuf::Message& request);
  grpc::Status PauseOrResume(const std::string& batch, bool paused,
                             ccbatch::v1::BatchInfo* response);

  const LedgerFixture fixture_;
  mutable absl::Mutex mu_;
  std::vector<RecordedCall> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::Status> failures_ ABSL_GUARDED_BY(mu_);
  int max_page_size_ ABSL_GUARDED_BY(mu_) = 1000;
  std::vector<ccbatch::v1::WatchResponse> watch_script_ ABSL_GUARDED_BY(mu_);
  bool watch_hold_open_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ccbatch::v1::ImportBatchRequest> last_import_
      ABSL_GUARDED_BY(mu_);
  absl::Notification watch_written_;
};

// A gRPC server on 127.0.0.1:<free port> serving `service`.
class InProcessServer final {
 public:
  // REQUIRES: `service` outlives this.
  explicit InProcessServer(grpc::Service* service);
  ~InProcessServer();

  // "127.0.0.1:<port>".
  std::string address() const;

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// "127.0.0.1:<port>" where nothing listens (a port that was just free).
std::string UnusedLocalAddress();

}  // namespace ccbatch::cli::testing

#endif  // CCBATCH_TESTS_CLI_SCRIPTED_LEDGER_H_

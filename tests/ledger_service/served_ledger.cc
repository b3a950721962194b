#include "tests/ledger_service/served_ledger.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace ccbatch::ledger {

absl::StatusOr<std::unique_ptr<ServedLedger>> ServedLedger::Start(
    LedgerServerOptions options, std::optional<TokenTable> tokens) {
  std::unique_ptr<ServedLedger> served(new ServedLedger());
  served->log_ = std::make_unique<common::EventLog>(&served->clock_,
                                                    served->capture_.Sink());
  CCB_ASSIGN_OR_RETURN(served->store_, MemoryStore::Open());
  LedgerOptions ledger_options;
  ledger_options.default_cluster = "hpc1";
  ledger_options.log = served->log_.get();
  CCB_ASSIGN_OR_RETURN(served->ledger_,
                       Ledger::Open(served->store_.get(), &served->clock_,
                                    std::move(ledger_options)));
  ServedLedger* raw = served.get();
  served->subscription_ = served->ledger_->Subscribe([raw]() {
    absl::MutexLock lock(&raw->mu_);
    ++raw->changes_;
  });
  served->auth_ =
      tokens.has_value()
          ? std::make_shared<AuthGate>(served->log_.get(), *std::move(tokens))
          : std::make_shared<AuthGate>(served->log_.get());
  options.auth = served->auth_;
  options.listen_address = "127.0.0.1:0";
  options.tick_interval = absl::InfiniteDuration();
  options.shutdown_grace = absl::Seconds(2);
  CCB_ASSIGN_OR_RETURN(
      served->server_,
      LedgerServer::Start(served->ledger_.get(), served->log_.get(),
                          std::move(options)));
  return served;
}

ServedLedger::~ServedLedger() {
  if (server_ != nullptr) server_->Shutdown();
  server_.reset();
  if (ledger_ != nullptr) ledger_->Unsubscribe(subscription_);
  ledger_.reset();
}

bool ServedLedger::WaitUntil(const std::function<bool()>& condition,
                             absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::MutexLock lock(&mu_);
    const uint64_t seen = changes_;
    auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return changes_ != seen;
    };
    mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(50));
  }
  return true;
}

std::string ServedLedger::address() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

std::shared_ptr<grpc::Channel> ServedLedger::Channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> ContextWithToken(
    const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(kServedWait));
  if (!token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  return context;
}

ccbatch::v1::BatchDefinition SimpleBatch(
    const std::string& name, const std::vector<std::string>& basenames) {
  ccbatch::v1::BatchDefinition batch;
  batch.set_name(name);
  batch.set_run_root_directory(absl::StrCat("/runs/", name));
  batch.set_cluster("hpc1");
  for (size_t i = 0; i < basenames.size(); ++i) {
    ccbatch::v1::JobDefinition* job = batch.add_jobs();
    job->set_key(absl::StrCat(name, "/", basenames[i]));
    job->set_basename(basenames[i]);
    job->set_directory(absl::StrCat("/runs/", name, "/", basenames[i]));
    job->set_relative_directory(basenames[i]);
    job->set_program(ccbatch::v1::PROGRAM_XTB);
    job->set_order(static_cast<int>(i));
    job->set_source_line(static_cast<int>(i) + 2);
  }
  return batch;
}

}  // namespace ccbatch::ledger

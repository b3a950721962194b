// TLS and mutual TLS between the real LedgerServer and its clients, with
// certificates made at test time (test_certificates.h): the server's
// credentials come from ServerCredentialsFromFiles (what --tls_cert,
// --tls_key and --tls_client_ca do), the clients' from the builders ccctl
// (cli::MakeChannelCredentials) and queue_agent (ResolveLedgerConnection)
// use, so these tests cover the handshakes users get.
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "cli/ledger_client.h"
#include "common/file_system.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger_service/server_flags.h"
#include "queue_agent/agent_app.h"
#include "tests/ledger_service/served_ledger.h"
#include "tests/ledger_service/test_certificates.h"

namespace ccbatch::ledger {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::testing::TestCertificates;

// Made once: openssl takes a moment per key.
const TestCertificates& Certificates() {
  static const TestCertificates* certificates = []() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    absl::StatusOr<TestCertificates> made =
        ::ccbatch::testing::MakeTestCertificates(
            absl::StrCat(tmp ? tmp : "/tmp", "/tls"));
    if (!made.ok()) {
      ADD_FAILURE() << made.status();
      return new TestCertificates();
    }
    return new TestCertificates(*std::move(made));
  }();
  return *certificates;
}

std::unique_ptr<ServedLedger> ServeWith(
    std::shared_ptr<grpc::ServerCredentials> credentials) {
  LedgerServerOptions options;
  options.credentials = std::move(credentials);
  absl::StatusOr<std::unique_ptr<ServedLedger>> served =
      ServedLedger::Start(std::move(options));
  EXPECT_THAT(served, ::ccbatch::testing::IsOk());
  return served.ok() ? *std::move(served) : nullptr;
}

// A ledger serving TLS with `server` and, if `client_ca` is set, requiring
// client certificates it signed.
std::unique_ptr<ServedLedger> ServeTls(
    const ::ccbatch::testing::KeyAndCertificate& server,
    const std::string& client_ca_file = "") {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFromFiles(
          {server.certificate_file, server.key_file, client_ca_file},
          *common::PosixFileSystem::Default(), absl::Now());
  EXPECT_THAT(credentials, ::ccbatch::testing::IsOk());
  if (!credentials.ok()) return nullptr;
  return ServeWith(*credentials);
}

// ListClusters through `credentials`; a failed handshake is UNAVAILABLE.
grpc::Status ListClusters(ServedLedger& served,
                          std::shared_ptr<grpc::ChannelCredentials> credentials,
                          const std::string& host = "127.0.0.1") {
  auto stub = v1::LedgerService::NewStub(grpc::CreateChannel(
      absl::StrCat(host, ":", served.server().port()), credentials));
  v1::ListClustersResponse response;
  return stub->ListClusters(ContextWithToken("").get(),
                            v1::ListClustersRequest(), &response);
}

std::shared_ptr<grpc::ChannelCredentials> Trusting(
    const std::string& roots, const std::string& cert = "",
    const std::string& key = "") {
  cli::TlsMaterial tls;
  tls.enabled = true;
  tls.root_certificates = roots;
  tls.certificate_chain = cert;
  tls.private_key = key;
  return cli::MakeChannelCredentials(tls);
}

TEST(LedgerTlsTest, AClientTrustingTheCaConnects) {
  const TestCertificates& certs = Certificates();
  std::unique_ptr<ServedLedger> served = ServeTls(certs.server);
  ASSERT_NE(served, nullptr);
  const grpc::Status by_ip = ListClusters(*served, Trusting(certs.ca));
  EXPECT_TRUE(by_ip.ok()) << by_ip.error_message();
  const grpc::Status by_name =
      ListClusters(*served, Trusting(certs.ca), "localhost");
  EXPECT_TRUE(by_name.ok()) << by_name.error_message();
  EXPECT_TRUE(served->log().AwaitLinesWith({"event=server_started", "tls=yes"},
                                           1, kServedWait));
}

TEST(LedgerTlsTest, AClientTrustingAnotherCaIsRefused) {
  const TestCertificates& certs = Certificates();
  std::unique_ptr<ServedLedger> served = ServeTls(certs.server);
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(ListClusters(*served, Trusting(certs.other_ca)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(LedgerTlsTest, AnExpiredServerCertificateIsRefused) {
  const TestCertificates& certs = Certificates();
  // Built by hand: ServerCredentialsFromFiles refuses expired certificates
  // (TlsFlagsAreCheckedBeforeServing), a ledger built otherwise may not.
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back(
      {certs.expired_server.key, certs.expired_server.certificate});
  std::unique_ptr<ServedLedger> served =
      ServeWith(grpc::SslServerCredentials(options));
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(ListClusters(*served, Trusting(certs.ca)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(LedgerTlsTest, APlaintextClientCannotTalkToATlsServer) {
  const TestCertificates& certs = Certificates();
  std::unique_ptr<ServedLedger> served = ServeTls(certs.server);
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(
      ListClusters(*served, grpc::InsecureChannelCredentials()).error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST(LedgerTlsTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  const TestCertificates& certs = Certificates();
  std::unique_ptr<ServedLedger> served = ServeTls(certs.server, certs.ca_file);
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(ListClusters(*served, Trusting(certs.ca)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(
      ListClusters(*served, Trusting(certs.ca, certs.foreign_client.certificate,
                                     certs.foreign_client.key))
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  const grpc::Status good = ListClusters(
      *served, Trusting(certs.ca, certs.client.certificate, certs.client.key));
  EXPECT_TRUE(good.ok()) << good.error_message();
}

TEST(LedgerTlsTest, TheAgentsCredentialsVerifyTheServer) {
  const TestCertificates& certs = Certificates();
  std::unique_ptr<ServedLedger> served = ServeTls(certs.server, certs.ca_file);
  ASSERT_NE(served, nullptr);
  agent::LedgerConnectionFlags flags;
  flags.ledger = served->address();
  flags.tls_ca = certs.ca_file;
  flags.tls_cert = certs.client.certificate_file;
  flags.tls_key = certs.client.key_file;
  CCB_ASSERT_OK_AND_ASSIGN(const agent::LedgerConnection good,
                           agent::ResolveLedgerConnection(
                               flags, *common::PosixFileSystem::Default()));
  EXPECT_TRUE(good.tls);
  const grpc::Status ok = ListClusters(*served, good.credentials);
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  flags.tls_ca = certs.other_ca_file;
  CCB_ASSERT_OK_AND_ASSIGN(const agent::LedgerConnection wrong_ca,
                           agent::ResolveLedgerConnection(
                               flags, *common::PosixFileSystem::Default()));
  EXPECT_EQ(ListClusters(*served, wrong_ca.credentials).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(LedgerTlsTest, TlsFlagsAreCheckedBeforeServing) {
  using ::ccbatch::testing::StatusIs;
  using ::testing::HasSubstr;
  const TestCertificates& certs = Certificates();
  common::FileSystem& fs = *common::PosixFileSystem::Default();
  const absl::Time now = absl::Now();
  EXPECT_THAT(ServerCredentialsFromFiles({certs.server.certificate_file,
                                          certs.server.key_file, certs.ca_file},
                                         fs, now),
              ::ccbatch::testing::IsOk());
  EXPECT_THAT(ServerCredentialsFromFiles(
                  {certs.server.certificate_file, "", ""}, fs, now),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("needs both --tls_cert and --tls_key")));
  EXPECT_THAT(ServerCredentialsFromFiles({"", "", certs.ca_file}, fs, now),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("needs both --tls_cert and --tls_key")));
  EXPECT_THAT(
      ServerCredentialsFromFiles(
          {certs.server.certificate_file, "/nonexistent/key.pem", ""}, fs, now),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/key.pem")));
  EXPECT_THAT(
      ServerCredentialsFromFiles(
          {certs.server.certificate_file, certs.client.key_file, ""}, fs, now),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(absl::StrCat("--tls_key=", certs.client.key_file,
                                      " is not the key of --tls_cert="))));
  EXPECT_THAT(ServerCredentialsFromFiles({certs.expired_server.certificate_file,
                                          certs.expired_server.key_file, ""},
                                         fs, now),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has expired")));
  EXPECT_THAT(ServerCredentialsFromFiles(
                  {certs.server.certificate_file, certs.server.key_file, ""},
                  fs, absl::FromUnixSeconds(1'500'000'000)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is not valid yet")));
  // The key given as the certificate, the certificate as the key or CA.
  EXPECT_THAT(ServerCredentialsFromFiles(
                  {certs.server.key_file, certs.server.key_file, ""}, fs, now),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no PEM certificate")));
  EXPECT_THAT(ServerCredentialsFromFiles({certs.server.certificate_file,
                                          certs.server.certificate_file, ""},
                                         fs, now),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no unencrypted PEM private key")));
  EXPECT_THAT(
      ServerCredentialsFromFiles({certs.server.certificate_file,
                                  certs.server.key_file, certs.server.key_file},
                                 fs, now),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--tls_client_ca=")));
}

}  // namespace
}  // namespace ccbatch::ledger

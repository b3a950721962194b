// Certificates for TLS tests, made at test time with the `openssl` command
// (Debian's) in a scratch directory, so no private key is ever committed:
//  - a CA, and a second, unrelated CA;
//  - a server certificate for localhost / 127.0.0.1 (subjectAltName) signed
//    by the CA, valid now;
//  - the same server key with a certificate that expired in 2020 (made with
//    `openssl ca -startdate/-enddate`, since `openssl x509 -days` cannot go
//    back in time);
//  - a client certificate (for mutual TLS) signed by the CA, and one signed
//    by the unrelated CA.
// Every file is PEM; the struct holds their contents.
#ifndef CCBATCH_TESTS_LEDGER_SERVICE_TEST_CERTIFICATES_H_
#define CCBATCH_TESTS_LEDGER_SERVICE_TEST_CERTIFICATES_H_

#include <string>

#include "absl/status/statusor.h"

namespace ccbatch::testing {

struct KeyAndCertificate {
  std::string key;
  std::string certificate;
  // Where they were written (for flags that take file names).
  std::string key_file;
  std::string certificate_file;
};

struct TestCertificates {
  std::string ca;  // the CA certificate
  std::string ca_file;
  std::string other_ca;  // an unrelated CA certificate
  std::string other_ca_file;
  KeyAndCertificate server;          // CA-signed, localhost + 127.0.0.1
  KeyAndCertificate expired_server;  // same names, expired
  KeyAndCertificate client;          // CA-signed, for mutual TLS
  KeyAndCertificate foreign_client;  // signed by the unrelated CA
};

// Generates everything under `directory` (created if missing). An error
// names the openssl command that failed and its stderr.
absl::StatusOr<TestCertificates> MakeTestCertificates(
    const std::string& directory);

}  // namespace ccbatch::testing

#endif  // CCBATCH_TESTS_LEDGER_SERVICE_TEST_CERTIFICATES_H_

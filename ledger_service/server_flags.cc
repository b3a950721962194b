#include "ledger_service/server_flags.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "grpcpp/security/server_credentials.h"

namespace ccbatch::ledger {

absl::StatusOr<absl::flat_hash_map<std::string, int>> ParseClusterCaps(
    const std::vector<std::string>& values) {
  absl::flat_hash_map<std::string, int> caps;
  for (const std::string& value : values) {
    const size_t eq = value.find('=');
    int cap = -1;
    if (eq == std::string::npos || eq == 0 ||
        !absl::SimpleAtoi(absl::string_view(value).substr(eq + 1), &cap) ||
        cap < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--cluster_cap=\"", value,
          "\": expected NAME=N with N a whole number >= 0 (0: no cap), e.g. "
          "--cluster_cap=hpc1=200"));
    }
    const std::string name = value.substr(0, eq);
    if (!caps.emplace(name, cap).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cluster_cap names cluster \"", name,
                       "\" twice; give each cluster one cap"));
    }
  }
  return caps;
}

bool IsLoopbackListenAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") ||
      absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  absl::string_view host;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) return false;
    host = address.substr(1, close - 1);
  } else {
    const size_t colon = address.rfind(':');
    host =
        colon == absl::string_view::npos ? address : address.substr(0, colon);
    // More than one colon without brackets: a bare IPv6 address or a
    // scheme this check does not know; either way, not provably loopback.
    if (host.find(':') != absl::string_view::npos) return false;
  }
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string host_text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, host_text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host_text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::vector<std::string> MergeRepeatedFlag(std::vector<std::string> args,
                                           absl::string_view name) {
  const std::string long_form = absl::StrCat("--", name);
  const std::string short_form = absl::StrCat("-", name);
  std::vector<std::string> out;
  std::vector<std::string> values;
  size_t merged_at = 0;  // 0: no occurrence yet (args[0] is the program)
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == 0) {
      out.push_back(arg);
      continue;
    }
    if (arg == "--") break;
    std::optional<std::string> value;
    for (const std::string* form : {&long_form, &short_form}) {
      if (arg == *form && i + 1 < args.size()) {
        value = args[++i];
      } else if (absl::StartsWith(arg, *form + "=")) {
        value = arg.substr(form->size() + 1);
      }
      if (value.has_value()) break;
    }
    if (!value.has_value()) {
      out.push_back(arg);
      continue;
    }
    if (merged_at == 0) {
      merged_at = out.size();
      out.emplace_back();
    }
    values.push_back(*std::move(value));
  }
  for (; i < args.size(); ++i) out.push_back(args[i]);
  if (merged_at != 0) {
    out[merged_at] = absl::StrCat(long_form, "=", absl::StrJoin(values, ","));
  }
  return out;
}

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM text; INVALID_ARGUMENT naming the flag and
// the file when there is none.
absl::StatusOr<std::unique_ptr<X509, X509Deleter>> FirstCertificate(
    const std::string& pem, absl::string_view flag, absl::string_view file) {
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(MemoryBio(pem).get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", file,
                     " holds no PEM certificate (expected \"-----BEGIN "
                     "CERTIFICATE-----\")"));
  }
  return cert;
}

// The checks ServerCredentialsFromFiles promises on the PEM texts.
absl::Status CheckTlsMaterial(const TlsFiles& files, const std::string& cert,
                              const std::string& key,
                              const std::string& client_ca, absl::Time now) {
  using Certificate = std::unique_ptr<X509, X509Deleter>;
  CCB_ASSIGN_OR_RETURN(Certificate certificate,
                       FirstCertificate(cert, "tls_cert", files.cert));
  // A null passphrase callback with no user data: an encrypted key fails
  // here instead of prompting on the terminal.
  std::unique_ptr<EVP_PKEY, KeyDeleter> private_key(PEM_read_bio_PrivateKey(
      MemoryBio(key).get(), nullptr, [](char*, int, int, void*) { return 0; },
      nullptr));
  if (private_key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key=", files.key,
        " holds no unencrypted PEM private key (remove a passphrase with "
        "`openssl pkey -in KEY -out KEY.plain`)"));
  }
  if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key=", files.key, " is not the key of --tls_cert=", files.cert,
        "; give the key the certificate was made for"));
  }
  time_t at = absl::ToTimeT(now);
  if (X509_cmp_time(X509_get0_notAfter(certificate.get()), &at) < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--tls_cert=", files.cert,
        " has expired; every client would refuse it. Renew it (see "
        "docs/SECURITY.md) and start again"));
  }
  if (X509_cmp_time(X509_get0_notBefore(certificate.get()), &at) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--tls_cert=", files.cert,
                     " is not valid yet (check this machine's clock)"));
  }
  if (!files.client_ca.empty()) {
    CCB_RETURN_IF_ERROR(
        FirstCertificate(client_ca, "tls_client_ca", files.client_ca).status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFiles(const TlsFiles& files,
                           const common::FileSystem& file_system,
                           absl::Time now) {
  if (files.cert.empty() && files.key.empty() && files.client_ca.empty()) {
    return std::shared_ptr<grpc::ServerCredentials>();
  }
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls_cert and --tls_key (--tls_client_ca adds "
        "client certificates on top of them)");
  }
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  CCB_ASSIGN_OR_RETURN(pair.cert_chain, file_system.ReadFile(files.cert));
  CCB_ASSIGN_OR_RETURN(pair.private_key, file_system.ReadFile(files.key));
  grpc::SslServerCredentialsOptions options(
      files.client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!files.client_ca.empty()) {
    CCB_ASSIGN_OR_RETURN(options.pem_root_certs,
                         file_system.ReadFile(files.client_ca));
  }
  CCB_RETURN_IF_ERROR(
      CheckTlsMaterial(files, options.pem_key_cert_pairs.front().cert_chain,
                       options.pem_key_cert_pairs.front().private_key,
                       options.pem_root_certs, now));
  return grpc::SslServerCredentials(options);
}

}  // namespace ccbatch::ledger

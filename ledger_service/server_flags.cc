#include "ledger_service/server_flags.h"

#include <arpa/inet.h>
#include <netinet/in.h>

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

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFiles(const TlsFiles& files,
                           const common::FileSystem& file_system) {
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
  return grpc::SslServerCredentials(options);
}

}  // namespace ccbatch::ledger

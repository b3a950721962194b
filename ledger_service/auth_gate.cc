#include "ledger_service/auth_gate.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/event_log.h"

namespace ccbatch::ledger {
namespace {

constexpr absl::string_view kAuthorization = "authorization";
constexpr absl::string_view kBearer = "Bearer ";
constexpr absl::string_view kSendToken =
    "send \"authorization: Bearer <token>\" (queue_agent --token_file, "
    "ccctl --token-file)";

// The SHA-256 of the call's bearer token; UNAUTHENTICATED when there is
// none. The token is hashed here and not kept.
absl::StatusOr<TokenDigest> BearerDigest(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  const auto [first, end] = metadata.equal_range(
      grpc::string_ref(kAuthorization.data(), kAuthorization.size()));
  if (first == end) {
    return absl::UnauthenticatedError(absl::StrCat(
        "no authorization metadata: this ledger requires a token; ",
        kSendToken));
  }
  if (std::next(first) != end) {
    return absl::UnauthenticatedError(
        "more than one authorization metadata entry; send exactly one");
  }
  const absl::string_view value(first->second.data(), first->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearer)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the authorization metadata is not a Bearer token; ", kSendToken));
  }
  const absl::string_view token =
      absl::StripAsciiWhitespace(value.substr(kBearer.size()));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the Bearer token is empty; ", kSendToken));
  }
  return Sha256(token);
}

}  // namespace

std::string Caller::Describe() const {
  if (!role.has_value()) return absl::StrCat("client ", peer);
  return absl::StrCat(role->Name(), " (token ", fingerprint, ")");
}

AuthGate::AuthGate(common::EventLog* log) : log_(log), enabled_(false) {}

AuthGate::AuthGate(common::EventLog* log, TokenTable tokens)
    : log_(log), enabled_(true), tokens_(std::move(tokens)) {}

absl::StatusOr<Caller> AuthGate::Admit(const grpc::ServerContextBase& context,
                                       RpcMethod method) {
  Caller caller;
  caller.peer = context.peer();
  if (!enabled_) return caller;
  absl::StatusOr<TokenDigest> digest = BearerDigest(context.client_metadata());
  if (!digest.ok()) return Refuse(method, caller, digest.status());
  std::optional<TokenMatch> match;
  {
    absl::ReaderMutexLock lock(&mu_);
    match = tokens_.FindDigest(*digest);
  }
  if (!match.has_value()) {
    return Refuse(
        method, caller,
        absl::UnauthenticatedError(
            "the bearer token is not one this ledger accepts (mistyped, "
            "revoked, or meant for another ledger); ask the ledger's "
            "operator for a token and pass it with --token_file / "
            "--token-file"));
  }
  caller.role = std::move(match->role);
  caller.fingerprint = std::move(match->fingerprint);
  caller.digest = *digest;
  if (absl::Status allowed = Authorize(*caller.role, method); !allowed.ok()) {
    return Refuse(method, caller, std::move(allowed));
  }
  return caller;
}

absl::Status AuthGate::AdmitHello(const Caller& caller,
                                  absl::string_view cluster) {
  if (!enabled_ || !caller.role.has_value()) return absl::OkStatus();
  absl::Status allowed = AuthorizeHello(*caller.role, cluster);
  if (allowed.ok()) return allowed;
  return Refuse(RpcMethod::kConnect, caller, std::move(allowed));
}

absl::Status AuthGate::Recheck(const Caller& caller, RpcMethod method) {
  if (!enabled_ || !caller.role.has_value()) return absl::OkStatus();
  std::optional<TokenMatch> match;
  {
    absl::ReaderMutexLock lock(&mu_);
    match = tokens_.FindDigest(caller.digest);
  }
  if (!match.has_value()) {
    return Refuse(method, caller,
                  absl::UnauthenticatedError(
                      "this call's token was revoked (the ledger reloaded its "
                      "token file without it); reconnect with a current "
                      "token"));
  }
  if (method == RpcMethod::kConnect && match->role != *caller.role) {
    return Refuse(method, caller,
                  absl::PermissionDeniedError(absl::StrCat(
                      "this stream's token now has role ", match->role.Name(),
                      " instead of ", caller.role->Name(),
                      " (the ledger reloaded its token file)")));
  }
  if (absl::Status allowed = Authorize(match->role, method); !allowed.ok()) {
    Caller now = caller;
    now.role = match->role;
    return Refuse(method, now,
                  absl::PermissionDeniedError(absl::StrCat(
                      allowed.message(),
                      " (the ledger reloaded its token file, which changed "
                      "this token's role)")));
  }
  return absl::OkStatus();
}

void AuthGate::ReplaceTokens(TokenTable tokens) {
  const size_t count = tokens.size();
  std::vector<std::function<void()>> listeners;
  {
    absl::MutexLock lock(&mu_);
    tokens_ = std::move(tokens);
    listeners.reserve(listeners_.size());
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  log_->Info("tokens_loaded", {{"tokens", count}});
  for (const std::function<void()>& listener : listeners) listener();
}

uint64_t AuthGate::AddListener(std::function<void()> on_replaced) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_listener_++;
  listeners_.emplace(id, std::move(on_replaced));
  return id;
}

void AuthGate::RemoveListener(uint64_t id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

uint64_t AuthGate::AddRefusalObserver(
    std::function<void(absl::StatusCode code)> on_refusal) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_listener_++;
  refusal_observers_.emplace(id, std::move(on_refusal));
  return id;
}

void AuthGate::RemoveRefusalObserver(uint64_t id) {
  absl::MutexLock lock(&mu_);
  refusal_observers_.erase(id);
}

absl::Status AuthGate::Refuse(RpcMethod method, const Caller& caller,
                              absl::Status refusal) {
  refused_calls_.fetch_add(1);
  {
    // Under the lock, so an observer is never called after its removal.
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, observer] : refusal_observers_) {
      observer(refusal.code());
    }
  }
  log_->Warning(
      "auth_refused",
      {{"method", RpcMethodName(method)},
       {"peer", caller.peer},
       {"code", absl::StatusCodeToString(refusal.code())},
       {"role", caller.role.has_value() ? caller.role->Name() : "none"},
       {"fingerprint",
        caller.fingerprint.empty() ? "none" : caller.fingerprint},
       {"error", refusal.message()}});
  return refusal;
}

}  // namespace ccbatch::ledger

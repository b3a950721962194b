// The ledger's token file (--token_file, DESIGN §8): the bearer tokens it
// accepts and the role each carries. The file holds SHA-256 digests, never
// tokens, so reading it lets nobody in:
//
//   # comments and blank lines are allowed; so is a comment after a line
//   9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 admin
//   2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae agent:hpc1
//
// A digest is `printf %s "$TOKEN" | sha256sum` (64 hex digits, either
// case); the role is agent:<cluster>, reader or admin (auth_policy.h).
// A digest may appear only once: one token, one role.
#ifndef CCBATCH_LEDGER_SERVICE_TOKEN_FILE_H_
#define CCBATCH_LEDGER_SERVICE_TOKEN_FILE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_system.h"
#include "ledger_service/auth_policy.h"

namespace ccbatch::ledger {

using TokenDigest = std::array<uint8_t, 32>;

// SHA-256 of `token` (OpenSSL libcrypto).
TokenDigest Sha256(absl::string_view token);
// The same as 64 lower-case hex digits, as sha256sum prints it.
std::string Sha256Hex(absl::string_view token);

// A token the table holds, as the ledger may name it: by role and by the
// first 8 hex digits of its digest (enough to find its line in the file,
// useless for guessing the token).
struct TokenMatch {
  Role role;
  std::string fingerprint;
};

// Immutable after parsing; thread-safe for readers.
class TokenTable final {
 public:
  // Holds no token: every token is unknown.
  TokenTable() = default;

  // The role of the token whose digest is `digest`, or nullopt. Compares
  // `digest` with every entry using CRYPTO_memcmp and never stops early, so
  // the time taken does not tell which entry matched, or how much of one.
  std::optional<TokenMatch> FindDigest(const TokenDigest& digest) const;
  // FindDigest(Sha256(token)).
  std::optional<TokenMatch> Find(absl::string_view token) const {
    return FindDigest(Sha256(token));
  }

  size_t size() const { return entries_.size(); }

 private:
  friend absl::StatusOr<TokenTable> ParseTokenFile(absl::string_view,
                                                   absl::string_view);
  struct Entry {
    TokenDigest digest;
    Role role;
  };
  std::vector<Entry> entries_;
};

// Parses a token file's text. INVALID_ARGUMENT "<file_name>:<line>: <what is
// wrong>" for the first bad line: not two fields, a digest that is not 64
// hex digits, an unknown role, a digest already listed. The message never
// quotes a digest (a line may hold a token pasted by mistake).
absl::StatusOr<TokenTable> ParseTokenFile(absl::string_view text,
                                          absl::string_view file_name);

// Reads and parses `path`; the file system's error (naming the file) when it
// cannot be read.
absl::StatusOr<TokenTable> ReadTokenFile(const std::string& path,
                                         const common::FileSystem& fs);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_TOKEN_FILE_H_

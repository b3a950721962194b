#include "ledger_service/token_file.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace ccbatch::ledger {
namespace {

constexpr size_t kFingerprintDigits = 8;

std::string HexOf(const TokenDigest& digest) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::optional<TokenDigest> DigestFromHex(absl::string_view hex) {
  if (hex.size() != 2 * TokenDigest().size()) return std::nullopt;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c)) return std::nullopt;
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  TokenDigest digest;
  std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

}  // namespace

TokenDigest Sha256(absl::string_view token) {
  TokenDigest digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         digest.data());
  return digest;
}

std::string Sha256Hex(absl::string_view token) { return HexOf(Sha256(token)); }

std::optional<TokenMatch> TokenTable::FindDigest(
    const TokenDigest& digest) const {
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    // No early exit: every entry is compared, whatever matched before.
    const bool equal =
        CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return TokenMatch{found->role,
                    HexOf(found->digest).substr(0, kFingerprintDigits)};
}

absl::StatusOr<TokenTable> ParseTokenFile(absl::string_view text,
                                          absl::string_view file_name) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ":", line_number, ": ", what));
    };
    const size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() != 2) {
      return bad(absl::StrCat(
          "expected \"<sha256 of the token, 64 hex digits> <role>\", found ",
          fields.size(), fields.size() == 1 ? " field" : " fields"));
    }
    const std::optional<TokenDigest> digest = DigestFromHex(fields[0]);
    if (!digest.has_value()) {
      return bad(absl::StrCat(
          "the first field (", fields[0].size(),
          " characters) is not a SHA-256 digest of 64 hex digits; write "
          "`printf %s \"$TOKEN\" | sha256sum`, never the token itself"));
    }
    absl::StatusOr<Role> role = ParseRole(fields[1]);
    if (!role.ok()) return bad(role.status().message());
    for (const TokenTable::Entry& entry : table.entries_) {
      if (entry.digest == *digest) {
        return bad(absl::StrCat(
            "this digest is already listed with role ", entry.role.Name(),
            "; a token has one role (use separate tokens)"));
      }
    }
    table.entries_.push_back({*digest, *std::move(role)});
  }
  return table;
}

absl::StatusOr<TokenTable> ReadTokenFile(const std::string& path,
                                         const common::FileSystem& fs) {
  CCB_ASSIGN_OR_RETURN(const std::string text, fs.ReadFile(path));
  return ParseTokenFile(text, path);
}

}  // namespace ccbatch::ledger

#include "common/current_user.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ccbatch::common {

absl::StatusOr<std::string> CurrentUserName() {
  const uid_t uid = geteuid();
  std::vector<char> buffer(16 * 1024);
  passwd entry;
  passwd* found = nullptr;
  int error;
  while ((error = getpwuid_r(uid, &entry, buffer.data(), buffer.size(),
                             &found)) == ERANGE &&
         buffer.size() < (1u << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (error != 0) {
    return absl::ErrnoToStatus(
        error, absl::StrCat("could not look up the user name of uid ", uid));
  }
  if (found == nullptr || found->pw_name == nullptr ||
      found->pw_name[0] == '\0') {
    return absl::NotFoundError(absl::StrCat(
        "uid ", uid,
        " has no entry in the password database; run the agent as a user "
        "SLURM knows"));
  }
  return std::string(found->pw_name);
}

}  // namespace ccbatch::common

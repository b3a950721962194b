// One `squeue` call for all of the user's jobs, judged: either a snapshot
// of the queue or a ProbeFailure carrying squeue's own message. A failed
// squeue never yields an (empty) snapshot (DESIGN §8): an empty snapshot
// would make every job of the cluster look finished.
#ifndef CCBATCH_QUEUE_AGENT_SQUEUE_PROBE_H_
#define CCBATCH_QUEUE_AGENT_SQUEUE_PROBE_H_

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/clock.h"
#include "common/process_runner.h"
#include "queue_agent/queue_snapshot.h"
#include "queue_agent/squeue_parser.h"

namespace ccbatch::agent {

struct SqueueProbeOptions {
  // The squeue program: a path, or a name looked up in PATH.
  std::string squeue_path = "squeue";
  // Whose jobs to list: the agent's own user (common::CurrentUserName()),
  // never $USER. REQUIRES: non-empty.
  std::string user;
  // squeue is killed after this long; a dead controller makes it take
  // MessageTimeout (10 s by default) and a missing slurm.conf 60 s.
  absl::Duration timeout = absl::Seconds(60);
};

// Environment variables cleared for squeue: each changes what it prints
// (SQUEUE_FORMAT, SQUEUE_STATES, SQUEUE_SORT, ... as read by SLURM 22.05's
// squeue, and SLURM_CLUSTERS, which adds per-cluster header lines).
// SLURM_CONF is kept: it says which cluster to talk to.
const std::vector<std::string>& SqueueEnvironmentToClear();

// What a probe found: a snapshot, or why there is none.
using ProbeOutcome = std::variant<QueueSnapshot, v1::ProbeFailure>;

// Thread-compatible: one probe loop calls Probe(); it keeps no state between
// calls.
class SqueueProbe final {
 public:
  // kInvalidArgument for an empty user, a user starting with '-' or
  // containing whitespace or ',' (squeue would read it as an option or a
  // list), or a non-positive timeout. REQUIRES: `runner` and `clock`
  // outlive the probe; neither is owned.
  static absl::StatusOr<std::unique_ptr<SqueueProbe>> Create(
      SqueueProbeOptions options, common::ProcessRunner* runner,
      const common::Clock* clock);

  // The argv of the query:
  //   squeue --noheader -r -t all --user=<user> -o <kAgentSqueueFormat>
  // No partition filter: a job moved to another partition must not vanish.
  std::vector<std::string> Argv() const;

  // Runs squeue once. taken_at (and ProbeFailure.at) is the clock reading
  // when squeue was started. The outcome is a ProbeFailure when squeue
  // could not start, timed out, was killed by a signal, exited non-zero,
  // printed nothing but an error on stderr, or printed lines of which more
  // than half do not parse (e.g. a header because an option was eaten, or
  // another format). Exit 0 with empty stdout and stderr is a healthy
  // empty queue: a snapshot with no entries.
  ProbeOutcome Probe() const;

 private:
  SqueueProbe(SqueueProbeOptions options, common::ProcessRunner* runner,
              const common::Clock* clock);

  v1::ProbeFailure Failure(absl::Time started, int exit_code,
                           std::string error) const;
  ProbeOutcome Judge(common::ProcessResult result, absl::Time started,
                     absl::Duration took) const;

  const SqueueProbeOptions options_;
  common::ProcessRunner* const runner_;
  const common::Clock* const clock_;
  const SqueueParser parser_;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SQUEUE_PROBE_H_

#!/usr/bin/env bash
# The README's first command: builds ccbatch, starts a local SLURM, a ledger
# (RocksDB under a temporary directory) and one agent, imports the example
# batch of real xtb jobs (examples/xtb-demo), watches it until every job is
# final, prints the jobs and where their outputs are, and stops everything it
# started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/setup.sh
echo "demo: building (first build takes a few minutes)"
bazel build --noshow_progress //ledger_service:ledger_service //queue_agent:queue_agent //cli:ccctl
bin="$(bazel info bazel-bin 2>/dev/null)"

work="$(mktemp -d /tmp/ccbatch-demo.XXXXXX)"
pids=()
started_slurm=0
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$started_slurm" = 1 ]; then scripts/slurm-local.sh stop; fi
  echo "demo: stopped the ledger and the agent; outputs and logs stay in $work"
}
trap cleanup EXIT

if ! scripts/slurm-local.sh status >/dev/null 2>&1; then
  scripts/slurm-local.sh start
  started_slurm=1
fi
export SLURM_CONF="$(scripts/slurm-local.sh conf)"

"$bin/ledger_service/ledger_service" --listen=127.0.0.1:0 --port_file="$work/ledger.port" \
  --db="$work/ledger-db" --default_cluster=local >"$work/ledger.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/ledger.port" ] && break; sleep 0.1; done
[ -s "$work/ledger.port" ] || { echo "demo: the ledger did not start:"; tail "$work/ledger.log"; exit 1; }
export CCBATCH_LEDGER="127.0.0.1:$(cat "$work/ledger.port")"
echo "demo: ledger on $CCBATCH_LEDGER (log $work/ledger.log)"

"$bin/queue_agent/queue_agent" --ledger="$CCBATCH_LEDGER" --cluster=local \
  --state_dir="$work/agent-state" --interval=5s >"$work/agent.log" 2>&1 &
pids+=($!)
echo "demo: agent for cluster 'local' (log $work/agent.log)"

cp -r examples/xtb-demo "$work/xtb-demo"
sed -i "s|^run_root_directory=.*|run_root_directory=$work/xtb-demo|" "$work/xtb-demo/batchfile.csv"
ccctl="$bin/cli/ccctl"
"$ccctl" import "$work/xtb-demo/batchfile.csv"
echo
"$ccctl" status xtb-demo --watch
echo
"$ccctl" jobs xtb-demo
echo
"$ccctl" explain xtb-demo/clash_sp
echo
echo "demo: outputs are in $work/xtb-demo/<molecule>/{opt,sp}/ (e.g. water/opt/water_opt.out)"

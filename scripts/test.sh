#!/usr/bin/env bash
# The README's test command: installs what is missing, starts a local SLURM,
# runs every test with Bazel, and closes with one line `N passed, M failed`
# counted from individual test cases. Exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/setup.sh || exit 1

args=()
shared="${CCBATCH_SHARED:-$root/../shared}"
if [ -d "$shared" ]; then
  args+=("--test_env=CCBATCH_SHARED=$(cd "$shared" && pwd)")
else
  echo "test: no ../shared beside the checkout; tests that need it will skip"
fi

if [ -x scripts/slurm-local.sh ]; then
  if scripts/slurm-local.sh start; then
    trap 'scripts/slurm-local.sh stop' EXIT
    args+=("--test_env=SLURM_CONF=$(scripts/slurm-local.sh conf)")
  else
    echo "test: could not start the local SLURM; system tests will fail" >&2
  fi
fi

query_log="$(mktemp)"
mapfile -t targets < <(bazel query 'tests(//...)' 2>"$query_log" | sort)
if [ ${#targets[@]} -eq 0 ]; then
  grep -E "ERROR|Error" "$query_log" >&2
  echo "test: bazel query found no test targets (errors above)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

bazel test "${args[@]}" -- "${targets[@]}"
bazel_rc=$?

python3 scripts/count_test_results.py "$(bazel info bazel-testlogs 2>/dev/null)" "${targets[@]}"
count_rc=$?
if [ $bazel_rc -ne 0 ] || [ $count_rc -ne 0 ]; then
  exit 1
fi

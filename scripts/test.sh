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

# A short fuzz smoke pass (issue 7): each fuzzer counts as one case.
fuzz_log="$(mktemp)"
scripts/fuzz.sh "${CCBATCH_FUZZ_SECONDS:-20}" 2>&1 | tee "$fuzz_log"
fuzz_passed=$(grep -cE '^fuzz [a-z_]+: ok' "$fuzz_log")
fuzz_failed=$(grep -cE '^fuzz [a-z_]+: CRASH' "$fuzz_log")
if [ "$fuzz_passed" -eq 0 ] && [ "$fuzz_failed" -eq 0 ]; then
  fuzz_failed=1  # the fuzz build failed: its output above says why
fi

python3 scripts/count_test_results.py \
  --extra-passed "$fuzz_passed" --extra-failed "$fuzz_failed" \
  "$(bazel info bazel-testlogs 2>/dev/null)" "${targets[@]}"
count_rc=$?
if [ $bazel_rc -ne 0 ] || [ $count_rc -ne 0 ]; then
  exit 1
fi

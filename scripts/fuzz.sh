#!/usr/bin/env bash
# Builds ccbatch's libFuzzer targets (fuzz/) with clang-14, ASan and UBSan,
# and runs each for SECONDS (default 20), one after another.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     TARGET e.g. squeue_parser
#
# Each fuzzer starts from a scratch copy of its committed seeds
# (fuzz/seeds/<target>/) and past findings (fuzz/regressions/<target>/), so
# the checkout is never modified and ../shared is not needed. Prints, per
# fuzzer, its executions, coverage and new inputs, then one line
#   fuzz <target>: ok (<execs> execs)
# or
#   fuzz <target>: CRASH <artifact path>
# and exits non-zero if any fuzzer found something (artifacts and logs are
# kept in the printed directory; see fuzz/README.md for what to do next).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2

seconds="${1:-20}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for source in fuzz/*_fuzzer.cc; do
    name="$(basename "$source" _fuzzer.cc)"
    targets+=("$name")
  done
fi

# The fuzz build has its own output base: switching compilers in the main one
# would discard its whole cache. The server leaves after 10 idle minutes.
output_base="${CCBATCH_FUZZ_OUTPUT_BASE:-$HOME/.cache/ccbatch-fuzz-output}"
bazel_fuzz=(bazel "--output_base=$output_base" --max_idle_secs=600)

labels=()
for name in "${targets[@]}"; do
  if [ ! -f "fuzz/${name}_fuzzer.cc" ]; then
    echo "fuzz: no fuzz/${name}_fuzzer.cc" >&2
    exit 2
  fi
  labels+=("//fuzz:${name}_fuzzer")
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ccbatch-fuzz.XXXXXX")"
echo "fuzz: building ${#labels[@]} fuzzer(s) with clang-14 (ASan, UBSan)"
if ! "${bazel_fuzz[@]}" build --config=fuzz "${labels[@]}" >"$work/build.log" 2>&1; then
  grep -v 'ld.gold: warning' "$work/build.log" | tail -40 >&2
  echo "fuzz: build failed (full log: $work/build.log)" >&2
  exit 2
fi
bin="$("${bazel_fuzz[@]}" info --config=fuzz bazel-bin 2>/dev/null)/fuzz"

# The value of libFuzzer's final statistic `name`, or 0.
final_stat() {
  local value
  value="$(sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -1)"
  echo "${value:-0}"
}

# "cov: N ft: M" of the last status line libFuzzer printed.
last_coverage() {
  grep -o 'cov: [0-9]* ft: [0-9]*' "$1" | tail -1
}

findings=0
for name in "${targets[@]}"; do
  dir="$work/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  for source in "fuzz/seeds/$name" "fuzz/regressions/$name"; do
    if [ -d "$source" ]; then
      find "$source" -type f -exec cp {} "$dir/corpus/" \;
    fi
  done
  seeds="$(find "$dir/corpus" -type f | wc -l)"
  options=(
    "-max_total_time=$seconds"
    -timeout=10
    -rss_limit_mb=2048
    -print_final_stats=1
    "-artifact_prefix=$dir/artifacts/"
  )
  if [ -f "fuzz/dicts/$name.dict" ]; then
    options+=("-dict=$root/fuzz/dicts/$name.dict")
  fi
  # The outer timeout only catches a fuzzer that ignores -max_total_time
  # (e.g. one stuck before its first execution).
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
    timeout --kill-after=10 $((seconds + 120)) \
    "$bin/${name}_fuzzer" "${options[@]}" "$dir/corpus" >"$dir/log" 2>&1
  status=$?
  execs="$(final_stat number_of_executed_units "$dir/log")"
  added="$(final_stat new_units_added "$dir/log")"
  coverage="$(last_coverage "$dir/log")"
  echo "fuzz $name: $seeds seed(s), $execs execs, ${coverage:-no coverage line}, $added new input(s)"
  artifact="$(find "$dir/artifacts" -type f | head -1)"
  if [ $status -eq 0 ] && [ -z "$artifact" ]; then
    echo "fuzz $name: ok ($execs execs)"
    continue
  fi
  findings=$((findings + 1))
  # The invariant or sanitizer report, without libFuzzer's own chatter.
  grep -E 'fuzz invariant violated|^  [^ ]|libprotobuf ERROR|ERROR: (Address|Leak|libFuzzer)|runtime error|SUMMARY' \
    "$dir/log" | grep -v 'Combine libFuzzer' | head -8 | sed 's/^/  /'
  echo "fuzz $name: CRASH ${artifact:-"(exit $status, no artifact; log $dir/log)"}"
done

if [ $findings -gt 0 ]; then
  echo "fuzz: $findings fuzzer(s) found a problem; logs and inputs in $work"
  exit 1
fi
rm -rf "$work"
exit 0

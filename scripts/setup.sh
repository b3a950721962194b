#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need.
# Idempotent: installs only what is missing, and says what it did.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev libre2-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 openssl clang-format
  # fuzzing (libFuzzer + sanitizers) and the metrics endpoint
  clang-14 libclang-rt-14-dev libcpp-httplib-dev
  # a real single-node SLURM and real chemistry for system tests and the demo
  slurmctld slurmd slurm-client munge xtb
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -q >/dev/null
as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/ccbatch-setup-apt.log 2>&1 || {
  echo "setup: apt-get install failed; last lines of /tmp/ccbatch-setup-apt.log:" >&2
  tail -n 25 /tmp/ccbatch-setup-apt.log >&2
  exit 1
}
echo "setup: installed ${missing[*]}"

#!/usr/bin/env bash
# Runs callvault's lib tests RUNS times in a row (default 20) while CPU hogs
# (default 2, one per core of the reference machine) keep the machine busy
# for the whole loop; stops at the first failure and keeps its output.
#
#   scripts/lib-tests-under-load.sh [RUNS] [HOGS]
#
# The suite must pass every run: a test that needs an idle machine is a
# flaky test (see issue 13).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
hogs="${2:-2}"
logs="$(mktemp -d)"

# Built once, then run directly: every run tests the same binary.
binary="$(cargo test -p callvault --lib --locked --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)"
[ -x "$binary" ] || { echo "could not build callvault's lib tests" >&2; exit 2; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$hogs"); do
  if command -v stress-ng >/dev/null 2>&1; then
    stress-ng --cpu 1 --quiet &
  else
    yes >/dev/null &
  fi
  pids+=("$!")
done

passed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if "$binary" >"$logs/run-$i.log" 2>&1; then
    passed=$((passed + 1))
    echo "run $i/$runs: passed in $(( $(date +%s) - start )) s (load $(cut -d' ' -f1 /proc/loadavg))"
  else
    echo "run $i/$runs: FAILED after $(( $(date +%s) - start )) s; output in $logs/run-$i.log"
    grep -E "panicked|FAILED" "$logs/run-$i.log" || true
    echo "$passed of $i passed"
    exit 1
  fi
done
echo "$passed of $runs passed with $hogs CPU hogs; logs in $logs"

#!/usr/bin/env bash
# Where the service's CPU goes under load: scenario (b) of bench/e2e.ts (8k-row Arrow batches,
# 8 in flight) with the service started under `--perf-basic-prof`, sampled by `perf record` for a
# window after the warm-up. Prints each thread's share of the samples and the top symbols of the
# busiest threads (JavaScript and WASM functions by name, native ones by symbol). How session 14
# found the AML slots' compression and the roller's re-encoding.
#
#   bash bench/profile.sh [SECONDS]       (default 25; needs `perf`: apt-get install linux-perf)
#
# Threads are all named "node"; their top symbols say which is which (a pool worker shows
# `commitBatch` and `validateColumns`, the roller parquet-wasm's functions, an AML shard
# `score_rows` and `scoreSeq`). Not for timing: the profiler slows the service a little, and
# figures come from bench/e2e.ts itself.
set -euo pipefail
seconds=${1:-25}
command -v perf >/dev/null || {
  echo "perf not found: apt-get install linux-perf" >&2
  exit 2
}
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/sluice-profile-XXXXXX)
rm -rf /tmp/sluice-e2e-*
(cd "$here" && E2E_SCENARIOS=b E2E_SECONDS=$((seconds + 20)) E2E_WARMUP_SECONDS=15 \
  node --perf-basic-prof --import tsx bench/e2e.ts >"$out/e2e.txt" 2>"$out/e2e.err") &
bench=$!
# The service is the child started with `--serve`; wait for it, then for the warm-up.
pid=""
for _ in $(seq 1 120); do
  pid=$(pgrep -f -- "bench/e2e.ts --serve" | head -1 || true)
  [ -n "$pid" ] && break
  sleep 1
done
[ -n "$pid" ] || {
  echo "the service did not start (see $out/e2e.err)" >&2
  exit 1
}
sleep 25
perf record -e cpu-clock -F 997 -g -p "$pid" -o "$out/perf.data" -- sleep "$seconds" >/dev/null 2>&1
wait "$bench" || true
echo "== share of samples by thread (service pid $pid)"
perf report -i "$out/perf.data" --no-children -g none --sort pid --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
for tid in $(perf report -i "$out/perf.data" --no-children -g none --sort pid --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -4 | sed -E 's/.* ([0-9]+):.*/\1/'); do
  echo
  echo "== thread $tid: top symbols (share of all samples)"
  # `|| true`: head closing the pipe early is not a failure (set -o pipefail).
  perf report -i "$out/perf.data" --no-children -g none --tid "$tid" --sort sym --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -15 || true
done
echo
grep '^| (b)' "$out/e2e.txt" || true
echo "perf data and the run's output: $out (perf report -i $out/perf.data)"

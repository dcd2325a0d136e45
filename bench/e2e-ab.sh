#!/usr/bin/env bash
# Scenario (b) of bench/e2e.ts on two trees, alternating: a git ref (checked out into a temporary
# worktree with its own `npm ci`) and this working tree. This machine's speed moves by 10-30 %
# between days and by several per cent between minutes, which is more than most changes; only
# runs that alternate, on the same day, compare two trees.
#
#   bash bench/e2e-ab.sh REF [PAIRS]        (default: 2 pairs; E2E_SECONDS, 60, per run)
#
# Prints each run (tx/s and service CPU µs per row) and, per tree, the mean of its runs.
set -euo pipefail
ref=${1:?usage: bench/e2e-ab.sh REF [PAIRS]}
pairs=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
base=$(mktemp -d /tmp/sluice-ab-XXXXXX)
cleanup() {
  git -C "$here" worktree remove --force "$base/tree" >/dev/null 2>&1 || true
  rm -rf "$base"
}
trap cleanup EXIT
git -C "$here" worktree add --detach "$base/tree" "$ref" >/dev/null
(cd "$base/tree" && npm ci --no-audit --no-fund --silent)

run() { # tree label
  rm -rf /tmp/sluice-e2e-*
  (cd "$1" && E2E_SCENARIOS=b E2E_SECONDS="${E2E_SECONDS:-60}" node --import tsx bench/e2e.ts 2>/dev/null) |
    awk -F'|' -v t="$2" '/^\| \(b\)/ { gsub(/[ ,]/, "", $5); gsub(/ /, "", $13); print t, $5, $13 }'
}

results="$base/results"
for ((i = 1; i <= pairs; i++)); do
  run "$base/tree" "$ref" | tee -a "$results"
  run "$here" "working-tree" | tee -a "$results"
done
awk '{ n[$1]++; tx[$1] += $2; us[$1] += $3 }
  END { for (t in n) printf "%s: mean of %d runs %.0f tx/s, %.2f µs/row\n", t, n[t], tx[t] / n[t], us[t] / n[t] }' "$results"

#!/usr/bin/env bash
# The AML bench with a part of the AML step cut out. It applies one of bench/ablations/*.patch to
# a throwaway worktree of HEAD, rebuilds the WASM module there when the patch touches wasm/, and
# runs bench/aml.bench.ts in that worktree. These are the cuts session 19 measured to judge the AML
# speed target (docs/decisions.md, "Reaching each row's account state"):
#
#   stateful-rules-skipped  each row's slot is found and touched, no stateful rule runs
#   no-scoring              inputs, sort and residency only: the scoring call returns at once
#   inputs-only             the AML inputs (keys, GBP amounts, flags) only: no scoring call
#
#   bash bench/aml-ablate.sh NAME   (BENCH_ROUNDS, BENCH_ACCOUNTS, BENCH_ROWS as for the bench)
#
# The patches that touch wasm/ need scripts/build-wasm.sh's Rust toolchain. .ci/run checks that
# every patch still applies, so a change to the code they cut into must refresh them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: bash bench/aml-ablate.sh NAME (one of bench/ablations/*.patch)}
patch="$root/bench/ablations/$name.patch"
if [ ! -f "$patch" ]; then
  echo "no such ablation: $name (see bench/ablations/)" >&2
  exit 2
fi
tree=$(mktemp -d /tmp/sluice-ablate.XXXXXX)
cleanup() {
  rm -f "$tree/node_modules"
  git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"
}
trap cleanup EXIT
git -C "$root" worktree add --detach --force "$tree" HEAD >/dev/null
ln -s "$root/node_modules" "$tree/node_modules"
git -C "$tree" apply "$patch"
if grep -q '^+++ b/wasm/' "$patch"; then
  # A target folder of its own, kept between runs, so the next build is incremental.
  CARGO_TARGET_DIR="$root/wasm/target/ablate" bash "$tree/scripts/build-wasm.sh"
fi
echo "ablation: $name, on $(git -C "$root" rev-parse --short HEAD)"
cd "$tree"
node --import tsx bench/aml.bench.ts

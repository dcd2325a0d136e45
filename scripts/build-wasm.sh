#!/usr/bin/env bash
# Rebuilds wasm/pkg/sluice_kernels.wasm from wasm/src, byte for byte the same in any folder.
# Needs Debian's rustc/cargo with the wasm32 std, lld and binaryen:
#   apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld binaryen
# (rustup's cargo has no wasm32 target here, so /usr/bin comes first in PATH.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/wasm/pkg/sluice_kernels.wasm"}
target=${CARGO_TARGET_DIR:-"$root/wasm/target"}
export PATH=/usr/bin:$PATH
# Strip build paths from panic locations and debug info so the module does not depend on the folder.
# simd128: the row cipher computes four rows' ChaCha20 blocks in one 128-bit lane set (Node has had
# WASM SIMD on by default since 16.4).
export RUSTFLAGS="--remap-path-prefix=$root=/sluice -C target-feature=+bulk-memory,+simd128"
cd "$root/wasm"
/usr/bin/cargo build --quiet --release --target wasm32-unknown-unknown --target-dir "$target"
mkdir -p "$(dirname "$out")"
wasm-opt -O3 --enable-bulk-memory --enable-simd --strip-debug --strip-producers \
  "$target/wasm32-unknown-unknown/release/sluice_kernels.wasm" -o "$out"
echo "built $(basename "$out") ($(wc -c <"$out") bytes)"

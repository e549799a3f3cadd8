#!/usr/bin/env bash
# The whole test suite, as CI runs it on a fresh machine:
#   formatting, the workspace build, every cargo test (unit, snapshot, end-to-end,
#   the -p1 round trip over the peer suite), then the peer suite's conformance scores.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "run-all: cargo is required (the machine's Rust toolchain)" >&2
    exit 1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo build --release"
cargo build --release --workspace --all-targets

echo "== cargo test --release"
cargo test --release --workspace

echo "== peer suite (passes 1 and 2)"
tests/peer-suite.sh

#!/usr/bin/env bash
# Runtime hot-path throughput (array updates, <<<) on one and two threads, next to plain C
# baselines measured in the same run.  Usage: benches/runtime-bench.sh [ops per thread]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cc -std=gnu11 -O2 -Wall -Werror -pthread -I runtime-c/user -I runtime-c/common \
    -o "$out/map_bench" benches/runtime/map_bench.c
"$out/map_bench" "${1:-5000000}"
rm -rf "$out"

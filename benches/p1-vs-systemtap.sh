#!/usr/bin/env bash
# Pass-1 speed of stap-rs against Debian's SystemTap 4.8, measured in one run.
#
# Both translators parse the same typical script with -p1 (each also parses its own tapset
# library, as pass 1 does); hyperfine times them back to back and the ratio is printed.
# A third command makes stap-rs parse SystemTap's own tapset library as well (-I), so the
# second ratio compares equal work.
# Installs systemtap, linux-headers-amd64 and hyperfine with apt when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/against-systemtap.sh
SCRIPT=${1:-tests/p1/statements.stp}
JSON=$(mktemp)
hyperfine -N --warmup 3 --runs "${RUNS:-20}" --export-json "$JSON" \
    "/usr/bin/stap -r $KVER -p1 $SCRIPT" \
    "target/release/stap -r $KVER -p1 $SCRIPT" \
    "target/release/stap -r $KVER -p1 -I /usr/share/systemtap/tapset $SCRIPT" >&2
python3 - "$JSON" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
st, ours, same = r[0]["mean"], r[1]["mean"], r[2]["mean"]
print(f"systemtap 4.8 -p1: {st*1000:.1f} ms, stap-rs -p1: {ours*1000:.2f} ms, ratio {st/ours:.0f}x")
print(f"stap-rs -p1 parsing SystemTap's tapset library too: {same*1000:.1f} ms, ratio {st/same:.1f}x")
PY
rm -f "$JSON"

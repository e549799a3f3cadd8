#!/usr/bin/env bash
# Pass 2 of a module-wide line pattern (the peer suite's semok/xfslines.stp):
# module("xfs").statement("*@*:*"), every line of every function of xfs.ko from its DWARF
# (the debug file of linux-image-KVER-dbg), by stap-rs and by Debian's SystemTap 4.8, in one
# hyperfine run.  Prints each mean and the ratio.  Needs the debug files
# (tests/install-debuginfo.sh) and installs hyperfine and systemtap when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/against-systemtap.sh
[ -f "/usr/lib/debug/lib/modules/$KVER/kernel/fs/xfs/xfs.ko" ] || tests/install-debuginfo.sh
SCRIPT='probe module("xfs").statement("*@*:*") {}'
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export SYSTEMTAP_DIR=$W/stapdir
target/release/stap -r "$KVER" -u -w -p2 -e "$SCRIPT" > "$W/rs.out"
/usr/bin/stap -r "$KVER" -u -w -p2 -e "$SCRIPT" > "$W/st.out" 2>/dev/null
echo "points: stap-rs $(grep -c '^module' "$W/rs.out"), SystemTap $(grep -c '^module' "$W/st.out")"
hyperfine -w 1 -r 5 --export-json "$W/h.json" \
    -n "stap-rs" "target/release/stap -r $KVER -u -w -p2 -e '$SCRIPT' > /dev/null" \
    -n "SystemTap 4.8" "/usr/bin/stap -r $KVER -u -w -p2 -e '$SCRIPT' > /dev/null 2>&1" >&2
python3 - "$W/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
rs, st = r[0]["mean"], r[1]["mean"]
print(f"stap-rs {rs:.3f} s, SystemTap 4.8 {st:.3f} s: SystemTap takes {st / rs:.1f}x as long")
PY

#!/usr/bin/env bash
# Pass-2 cost of the kernel's DWARF (the debug vmlinux), in one hyperfine run:
#   - the baseline: a kernel.function probe reading $count with BTF alone (the debug vmlinux
#     kept off the search path);
#   - a line probe over every line of ksys_write reading the local $ret, with the DWARF index
#     cached (every run after the first);
#   - the same with the index built afresh each run (a first run on a new kernel);
#   - SystemTap 4.8 on the line probe, when Debian's systemtap package and the debug vmlinux
#     at its standard path are there.
# Prints each mean and the ratios to the baseline.  Needs target/release/stap, hyperfine and
# the debug vmlinux (tests/install-debuginfo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
STAP=$(pwd)/target/release/stap
. tests/lib.sh
KVER=$(target_kernel)
[ -f "/usr/lib/debug/boot/vmlinux-$KVER" ] || tests/install-debuginfo.sh
command -v hyperfine >/dev/null || install_packages "hyperfine (times the commands)"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME=$W/cache SYSTEMTAP_DIR=$W/stapdir
BTF='probe kernel.function("ksys_write") { println($count) }'
LINES='probe kernel.statement("ksys_write@fs/read_write.c:*") { if (@defined($ret)) println($ret) }'
"$STAP" -r "$KVER" -p2 -e "$LINES" > /dev/null 2>&1 # the index, cached
# One --prepare per command: only the third forgets the index.
cmds=(
    --prepare true -n "BTF alone (baseline)"
    "SYSTEMTAP_DEBUGINFO_PATH=/nonexistent $STAP -r $KVER -p2 -e '$BTF' > /dev/null 2>&1"
    --prepare true -n "DWARF, index cached" "$STAP -r $KVER -p2 -e '$LINES' > /dev/null 2>&1"
    --prepare "rm -f $W/stapdir/cache/kdwarf-*" -n "DWARF, index built"
    "$STAP -r $KVER -p2 -e '$LINES' > /dev/null 2>&1"
)
if [ -x /usr/bin/stap ] && /usr/bin/stap -r "$KVER" -p2 -e "$LINES" > /dev/null 2>&1; then
    cmds+=(--prepare true -n "SystemTap 4.8" "/usr/bin/stap -r $KVER -p2 -e '$LINES' > /dev/null 2>&1")
fi
hyperfine --warmup 1 --runs 10 --export-json "$W/p2.json" "${cmds[@]}" > /dev/null 2>&1
python3 - "$W/p2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["mean"]
for x in r:
    print(f"{x['command']:<24} {x['mean'] * 1000:8.1f} ms  {x['mean'] / base:6.2f}x the baseline")
PY

#!/usr/bin/env bash
# Pass-2 speed with the tapset library, stap-rs against Debian's SystemTap 4.8, in one run:
# a one-probe script (the library is there but unused) and a script on every system call
# (syscall.* and syscall.*.return: stap-rs writes that tapset from the kernel's metadata,
# cached after the first run).  hyperfine times each pair back to back; the ratios are
# printed.  Installs what it needs (benches/against-systemtap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/against-systemtap.sh
# SystemTap 4.8 resolves syscall.* through the kernel's DWARF: take a kernel that
# has its debug vmlinux installed (tests/install-debuginfo.sh) when the target has none;
# the oldest such: 4.8 does not resolve syscall.* on 6.12 (sysc_arch_prctl.stp).
if [ ! -f "/usr/lib/debug/boot/vmlinux-$KVER" ]; then
    for d in $(ls -v -r /usr/lib/debug/boot/vmlinux-* 2>/dev/null); do
        k=${d#/usr/lib/debug/boot/vmlinux-}
        [ -d "/usr/lib/modules/$k/build" ] && KVER=$k
    done
fi
echo "p2-tapsets: kernel $KVER" >&2
one='probe begin { printf("%d\n", pid()) }'
all='global calls probe syscall.*, syscall.*.return { calls[name]++ }'
# A warm cache, as in use: the first run of each writes it.
target/release/stap -r "$KVER" -p2 -e "$all" >/dev/null
JSON=$(mktemp)
hyperfine -N --warmup 2 --runs "${RUNS:-10}" --export-json "$JSON" \
    "/usr/bin/stap -r $KVER -p2 -e '$one'" \
    "target/release/stap -r $KVER -p2 -e '$one'" \
    "/usr/bin/stap -r $KVER -p2 -e '$all'" \
    "target/release/stap -r $KVER -p2 -e '$all'" >&2
python3 - "$JSON" <<'PY'
import json, sys
r = [x["mean"] for x in json.load(open(sys.argv[1]))["results"]]
print(f"one probe: systemtap 4.8 -p2 {r[0]*1000:.0f} ms, stap-rs {r[1]*1000:.1f} ms, ratio {r[0]/r[1]:.0f}x")
print(f"syscall.*: systemtap 4.8 -p2 {r[2]*1000:.0f} ms, stap-rs {r[3]*1000:.0f} ms, ratio {r[2]/r[3]:.1f}x")
PY
rm -f "$JSON"

#!/usr/bin/env bash
# Uprobe overhead (issue 15, item 7).  One QEMU boot of the target kernel with
# -icount shift=0, so guest time counts guest instructions (1 ns = 1 instruction):
# deterministic, immune to host load.  A static workload calls a function N times
# (benches/vm/caller.c); it runs without a module and then with each probe module loaded,
# and the added guest instructions per call are reported, side by side in the same boot:
#   floor      a hand-written uprobe on the function with an empty handler
#              (benches/vm/ovh_ufloor.c): what any uprobe-based tracer pays
#   count      process("caller").function("ovh_target") { n++ }
#   map        process("caller").function("ovh_target") { c[execname()]++ }
#   mfloor     the same hand-written uprobe on the loop's SDT marker (a nop)
#   mark       process("caller").mark("hit") { n++ }
#   st_count, st_map, st_mark  the same scripts built by SystemTap 4.8 (its runtime
#              patched for task_work_cancel(), as benches/p4-build.sh does), run by its
#              staprun
#   bt_count, bt_map, bt_mark  bpftrace (Debian's package) with the same work:
#              uprobe:caller:ovh_target { @n++ }, { @c[comm]++ }, usdt:caller:ovh:hit
#              { @n++ } (its libraries make the guest's initramfs about 200 MB larger,
#              so this boot gets 1536 MiB)
# Usage: [STAP_TEST_KVER=K] benches/uprobe-overhead.sh [N] (default 100000; the newest
# kernel unless STAP_TEST_KVER names one: SystemTap 4.8 builds for 6.1); RUNS=k repeats each timing
# (median).  The program's path is the same on the host and in the guest.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
runs=${RUNS:-3}
. benches/against-systemtap.sh
. tests/lib.sh
need=()
[ -f /usr/include/x86_64-linux-gnu/sys/sdt.h ] || need+=("systemtap-sdt-dev (sys/sdt.h: the workload's marker)")
[ -x /usr/bin/bpftrace ] || need+=("bpftrace (the bt_* rows)")
install_packages "${need[@]}"
kver=$KVER
echo "uprobe-overhead: kernel $kver" >&2
W=$(mktemp -d /tmp/uprobe-ovh.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/stage" "$W/floor"

cc -O2 -static -Wall -Werror -o "$W/caller" benches/vm/caller.c
# The file offsets of the function and of the marker (its note's address).
offsets=$(python3 - "$W/caller" <<'PY'
import re, subprocess, sys
run = lambda *a: subprocess.run(a, capture_output=True, text=True).stdout
syms = run("nm", sys.argv[1])
func = next(int(l.split()[0], 16) for l in syms.splitlines() if l.endswith(" ovh_target"))
notes = run("readelf", "-n", sys.argv[1])
mark = int(re.search(r"Name: hit\s+Location: (0x[0-9a-f]+)", notes).group(1), 16)
def offset(addr):
    for l in run("readelf", "-lW", sys.argv[1]).splitlines():
        f = l.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            off, va, memsz = int(f[1], 16), int(f[2], 16), int(f[5], 16)
            if va <= addr < va + memsz:
                return addr - va + off
print(offset(func), offset(mark))
PY
)
read -r offset moffset <<<"$offsets"
cp benches/vm/ovh_ufloor.c "$W/floor/"
echo 'obj-m := ovh_ufloor.o' > "$W/floor/Kbuild"
make -s -C "/usr/lib/modules/$kver/build" M="$W/floor" modules >/dev/null
cp "$W/floor/ovh_ufloor.ko" "$W/stage/"
cp "$W/floor/ovh_ufloor.ko" "$W/stage/ovh_mfloor.ko"

P="$W/caller"
declare -A script=(
	[count]="global n; probe process(\"$P\").function(\"ovh_target\") { n++ }"
	[map]="global c; probe process(\"$P\").function(\"ovh_target\") { c[execname()]++ }"
	[mark]="global n; probe process(\"$P\").mark(\"hit\") { n++ }"
)
declare -A bt=(
	[count]="uprobe:$P:ovh_target { @n++ }"
	[map]="uprobe:$P:ovh_target { @c[comm]++ }"
	[mark]="usdt:$P:ovh:hit { @n++ }"
)
# bpftrace's scenarios have no module: an empty file stands for one.
for m in "${!bt[@]}"; do
	: > "$W/stage/bt_$m.ko"
done
cp -r /usr/share/systemtap/runtime "$W/st-runtime"
sed -i 's/typedef typeof(&task_work_cancel) task_work_cancel_fn;/typedef typeof(\&task_work_cancel_func) task_work_cancel_fn;/' \
	"$W/st-runtime/stp_task_work.c"
have_st=1
for m in "${!script[@]}"; do
	ko=$(SYSTEMTAP_DIR="$W/cache" target/release/stap -p4 -r "$kver" -m "ovh_$m" -e "${script[$m]}")
	cp "$ko" "$W/stage/ovh_$m.ko"
	if ! (cd "$W/stage" && /usr/bin/stap -R "$W/st-runtime" -r "$kver" -p4 -m "st_$m" -e "${script[$m]}" \
		>/dev/null 2>"$W/st_$m.err"); then
		echo "SystemTap 4.8 did not build st_$m:" >&2
		grep -m3 -i error "$W/st_$m.err" >&2 || true
		have_st=0
	fi
done

# Each module's guest scenario: RUNS timings without it, then RUNS with it loaded.
for ko in "$W"/stage/*.ko; do
	m=$(basename "$ko" .ko)
	case $m in
	ovh_ufloor)
		load="insmod \$1 path=$P offset=$offset"
		unload="rmmod $m";;
	ovh_mfloor)
		load="insmod \$1 path=$P offset=$moffset"
		unload="rmmod ovh_ufloor";;
	bt_*)
		load="bpftrace -e '${bt[${m#bt_}]}' > /tmp/$m.out 2>&1 & pid=\$!; while ! grep -q Attaching /tmp/$m.out; do sleep 1; done"
		unload="kill -INT \$pid; wait \$pid; echo \"=== RC $m \$?\"; cat /tmp/$m.out";;
	st_*)
		load="/usr/bin/staprun \$1 > /tmp/$m.out 2>&1 & pid=\$!; while ! lsmod | grep -q '^$m '; do sleep 1; done"
		unload="kill -INT \$pid; wait \$pid; echo \"=== RC $m \$?\"; cat /tmp/$m.out";;
	*)
		load="stpd \$1 > /tmp/$m.out 2>&1 & pid=\$!; while [ ! -e /proc/stap_$m ]; do sleep 1; done"
		unload="kill -INT \$pid; wait \$pid; echo \"=== RC $m \$?\"; cat /tmp/$m.out";;
	esac
	cat > "$W/stage/$m.sh" <<SH
for i in \$(seq $runs); do echo "=== BASE $m \$($P $n)"; done
$load
sleep 1
for i in \$(seq $runs); do echo "=== PROBE $m \$($P $n)"; done
$unload
SH
done

STPD=$PWD/target/release/stpd VM_HOSTBIN="$P /usr/bin/staprun /usr/lib/systemtap/stapio /usr/bin/bpftrace" \
	VM_MEM=1536 VM_QEMU_ARGS="-icount shift=0" tests/vm/boot.sh "$W/serial.log" "$W"/stage/*.ko
tr -d '\r' < "$W/serial.log" > "$W/log"
if grep -q 'STILL-LOADED\|Oops\|BUG:' "$W/log"; then
	cat "$W/log" >&2
	echo "uprobe-overhead: a module misbehaved" >&2
	exit 1
fi

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ns() { grep "^=== $1 $2 caller $n " "$W/log" | awk '{ print $6 }' | median; }
printf '%d calls, median of %d runs, guest instructions (-icount shift=0), kernel %s\n\n' "$n" "$runs" "$kver"
printf '| probe | without | with | added per call | / floor |\n'
printf '| --- | --- | --- | --- | --- |\n'
floor=
for m in ovh_ufloor ovh_count ovh_map st_count st_map bt_count bt_map ovh_mfloor ovh_mark st_mark bt_mark; do
	[ -e "$W/stage/$m.ko" ] || continue
	base=$(ns BASE $m)
	with=$(ns PROBE $m)
	[ -n "$base" ] && [ -n "$with" ] || { cat "$W/log" >&2; echo "uprobe-overhead: no timing for $m" >&2; exit 1; }
	per=$(awk -v a="$base" -v b="$with" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')
	# Function probes against the function's floor, marker probes against the marker's.
	case $m in ovh_ufloor | ovh_mfloor) floor=$per ;; esac
	ratio=$(awk -v p="$per" -v f="$floor" 'BEGIN { printf "%.2f", p / f }')
	printf '| %s | %d | %d | %s | %s |\n' "$m" "$base" "$with" "$per" "$ratio"
done

#!/usr/bin/env bash
# Probe overhead in the kernel (issue 6, acceptance 8).  One QEMU boot of the target kernel
# with -icount shift=0, so guest time counts guest instructions (1 ns = 1 instruction):
# deterministic, immune to host load.  A static workload makes N write(2) calls to /dev/null
# (benches/vm/writer.c); it runs without a module and then with each probe module loaded,
# and the added guest instructions per write are reported:
#   floor    a hand-written kprobe on ksys_write with an empty handler (benches/vm/ovh_floor.c)
#   count    kprobe.function("ksys_write") { n++ }
#   map      kprobe.function("ksys_write") { c[execname()]++ }
#   stat     kernel.function("ksys_write") { s <<< $count }
# next to the figures the issue gives for SystemTap 4.8 and bpftrace 0.17 on this kernel.
# Usage: benches/probe-overhead.sh [N] (default 200000); RUNS=k repeats each timing (median);
# STAP_ARGS adds stap options (-D STP_NO_OVERLOAD, say).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
runs=${RUNS:-3}
. tests/lib.sh
kver=$(target_kernel)
echo "probe-overhead: kernel $kver" >&2
cargo build --release --quiet --bin stap --bin stpd
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/stage" "$W/floor"

cc -O2 -static -Wall -Werror -o "$W/writer" benches/vm/writer.c
cp benches/vm/ovh_floor.c "$W/floor/"
echo 'obj-m := ovh_floor.o' > "$W/floor/Kbuild"
make -s -C "/usr/lib/modules/$kver/build" M="$W/floor" modules >/dev/null
cp "$W/floor/ovh_floor.ko" "$W/stage/"

declare -A script=(
	[ovh_count]='global n; probe kprobe.function("ksys_write") { n++ }'
	[ovh_map]='global c; probe kprobe.function("ksys_write") { c[execname()]++ }'
	[ovh_stat]='global s; probe kernel.function("ksys_write") { s <<< $count }'
)
for m in "${!script[@]}"; do
	ko=$(SYSTEMTAP_DIR="$W/cache" target/release/stap -p4 -r "$kver" -m "$m" ${STAP_ARGS:-} -e "${script[$m]}")
	cp "$ko" "$W/stage/$m.ko"
done

# Each module's guest scenario: RUNS timings without it, then RUNS with it loaded.
for ko in "$W"/stage/*.ko; do
	m=$(basename "$ko" .ko)
	if [ "$m" = ovh_floor ]; then
		load="insmod \$1"
		unload="rmmod $m"
	else
		load="stpd \$1 > /tmp/$m.out 2>&1 & pid=\$!; while [ ! -e /proc/stap_$m ]; do sleep 1; done"
		unload="kill -INT \$pid; wait \$pid; echo \"=== RC $m \$?\"; cat /tmp/$m.out"
	fi
	cat > "$W/stage/$m.sh" <<SH
for i in \$(seq $runs); do echo "=== BASE $m \$(writer $n)"; done
$load
sleep 1
for i in \$(seq $runs); do echo "=== PROBE $m \$(writer $n)"; done
$unload
SH
done

STPD=$PWD/target/release/stpd VM_BIN="$W/writer" VM_QEMU_ARGS="-icount shift=0" \
	tests/vm/boot.sh "$W/serial.log" "$W"/stage/*.ko
tr -d '\r' < "$W/serial.log" > "$W/log"
if grep -q 'STILL-LOADED\|Oops\|BUG:' "$W/log"; then
	cat "$W/log" >&2
	echo "probe-overhead: a module misbehaved" >&2
	exit 1
fi

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ns() { grep "^=== $1 $2 writer $n " "$W/log" | awk '{ print $6 }' | median; }
declare -A peer=([ovh_count]="485 (SystemTap 4.8)" [ovh_map]="847 (SystemTap 4.8), 922 (bpftrace 0.17)" [ovh_stat]="509 (SystemTap 4.8)")
printf '%d write(2) calls, median of %d runs, guest instructions (-icount shift=0)\n\n' "$n" "$runs"
printf '| probe | without | with | added per write | peers, added per write |\n'
printf '| --- | --- | --- | --- | --- |\n'
for m in ovh_floor ovh_count ovh_map ovh_stat; do
	base=$(ns BASE $m)
	with=$(ns PROBE $m)
	[ -n "$base" ] && [ -n "$with" ] || { cat "$W/log" >&2; echo "probe-overhead: no timing for $m" >&2; exit 1; }
	per=$(awk -v a="$base" -v b="$with" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')
	printf '| %s | %d | %d | %s | %s |\n' "${m#ovh_}" "$base" "$with" "$per" "${peer[$m]:-}"
done

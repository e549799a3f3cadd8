#!/usr/bin/env bash
# Boots the target kernel (target_kernel in tests/lib.sh: $STAP_TEST_KVER or the newest
# installed) under QEMU (TCG) with a busybox initramfs holding the
# given modules, and writes the serial console to LOG.  Usage: boot.sh LOG MODULE.ko...
# Each MODULE may have a MODULE.args file beside it (stpd's options, shell words), or a
# MODULE.sh scenario that the guest runs instead of stpd, and a MODULE.stdin file, its stdin.
# VM_WORKLOAD=1 keeps every guest CPU busy with a shell loop meanwhile.
# STPD names the stpd binary to put in the guest (with the libraries ldd lists).
# VM_APPEND adds kernel command-line arguments (nokaslr, say).
# VM_EXTRA lists files to put in the guest's /extra (test modules a scenario loads).
# VM_HOSTBIN lists host programs to put in the guest at the same paths, with the libraries
# ldd lists (SystemTap's staprun and stapio, for tests/systemtap.rs).
# VM_BIN lists more (static) programs to put in the guest's /bin; VM_QEMU_ARGS adds QEMU
# options (shell words), e.g. "-icount shift=0" for the benchmarks.
# VM_TCG_THREAD=single runs every vCPU on one host thread (see tests/hostile.rs).
# VM_MEM sets the guest's memory in MiB (512 unless given).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log=$1
shift
. "$here/../lib.sh"
kver=$(target_kernel)
is_static_elf /bin/busybox || { echo "boot.sh: /bin/busybox is not a static program (install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# /bin, /lib and /lib64 are under /usr, as on Debian: stap finds process("/bin/busybox")
# at /usr/bin/busybox (and a library at /usr/lib/...), where the guest has it too.
mkdir -p "$work/root/usr/bin" "$work/root/usr/lib" "$work/root/usr/lib64" "$work/root/modules" "$work/root/proc" "$work/root/sys" "$work/root/dev" "$work/root/tmp"
ln -s usr/bin "$work/root/bin"
ln -s usr/lib "$work/root/lib"
ln -s usr/lib64 "$work/root/lib64"
cp /bin/busybox "$work/root/bin/busybox"
stpd=${STPD:?set STPD to the stpd binary}
cp "$stpd" "$work/root/bin/stpd"
ldd "$stpd" | grep -o '/[^ ]*' | while read -r lib; do
	mkdir -p "$work/root$(dirname "$lib")"
	cp -L "$lib" "$work/root$lib"
done
for bin in ${VM_HOSTBIN:-}; do
	mkdir -p "$work/root$(dirname "$bin")"
	cp "$bin" "$work/root$bin"
	# A static program has no libraries (and ldd says so with an error).
	{ ldd "$bin" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
		mkdir -p "$work/root$(dirname "$lib")"
		cp -L "$lib" "$work/root$lib"
	done
done
for bin in ${VM_BIN:-}; do
	cp "$bin" "$work/root/bin/"
done
mkdir -p "$work/root/extra"
for f in ${VM_EXTRA:-}; do
	cp "$f" "$work/root/extra/"
done
cp "$here/../../src/vm-guest-init.sh" "$work/root/init"
chmod +x "$work/root/init"
for ko in "$@"; do
	cp "$ko" "$work/root/modules/"
	args="${ko%.ko}.args"
	[ -f "$args" ] && cp "$args" "$work/root/modules/"
	scenario="${ko%.ko}.sh"
	[ -f "$scenario" ] && cp "$scenario" "$work/root/modules/"
	stdin="${ko%.ko}.stdin"
	[ -f "$stdin" ] && cp "$stdin" "$work/root/modules/"
done
[ -n "${VM_WORKLOAD:-}" ] && touch "$work/root/workload"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"
# --foreground: timeout stays in this script's process group, so a harness that kills the
# group (a hung guest) kills QEMU too; without it timeout makes a group of its own and the
# guest outlives the harness, starving every later boot of CPU.
# tsc=reliable: an emulated guest's TSC drifts from its other clocks whenever the host
# deschedules a vCPU; the clocksource watchdog then marks it unstable and flips the
# sched_clock static key by live text patching, which under TCG has oopsed on a stale int3
# (sched_clock_cpu, at boot, before any module was loaded).
timeout --foreground "${VM_TIMEOUT:-600}" qemu-system-x86_64 -accel "tcg${VM_TCG_THREAD:+,thread=$VM_TCG_THREAD}" -m "${VM_MEM:-512}" -smp "${VM_SMP:-1}" \
	-kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet loglevel=1 tsc=reliable ${VM_APPEND:-}" \
	-nographic -no-reboot -serial "file:$log" -monitor none -display none ${VM_QEMU_ARGS:-}

#!/usr/bin/env bash
# Boots the installed Debian kernel under QEMU (TCG) with a busybox initramfs holding the
# given modules, and writes the serial console to LOG.  Usage: boot.sh LOG MODULE.ko...
# Each MODULE may have a MODULE.seconds file beside it (how long it may run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log=$1
shift
kver=$(ls /usr/lib/modules | while read -r k; do [ -e "/boot/vmlinuz-$k" ] && echo "$k"; done | sort | tail -n 1)
[ -n "$kver" ] || { echo "boot.sh: no /boot/vmlinuz-* (install linux-image-amd64)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/modules" "$work/root/proc" "$work/root/sys" "$work/root/dev" "$work/root/tmp"
cp /bin/busybox "$work/root/bin/busybox"
cp "$here/../../src/vm-guest-init.sh" "$work/root/init"
chmod +x "$work/root/init"
for ko in "$@"; do
	cp "$ko" "$work/root/modules/"
	secs="${ko%.ko}.seconds"
	[ -f "$secs" ] && cp "$secs" "$work/root/modules/"
done
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"
timeout "${VM_TIMEOUT:-600}" qemu-system-x86_64 -machine accel=tcg -m 512 -smp "${VM_SMP:-1}" \
	-kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet loglevel=1" \
	-nographic -no-reboot -serial "file:$log" -monitor none -display none

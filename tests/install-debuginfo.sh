#!/usr/bin/env bash
# Installs the kernel's own DWARF for every kernel whose build tree is installed: the
# debug vmlinux of Debian's linux-image-KVER-dbg, at /usr/lib/debug/boot/vmlinux-KVER
# (where the package puts it).  Only that file is unpacked: the package's 5 GB of module
# debug files are not needed.  Downloading the 860 MB package and unpacking the vmlinux
# takes about half a minute.
set -euo pipefail
for build in /usr/lib/modules/*/build; do
    [ -d "$build" ] || continue
    kver=$(basename "$(dirname "$build")")
    dbg=/usr/lib/debug/boot/vmlinux-$kver
    [ -f "$dbg" ] && continue
    echo "== installing the debug vmlinux of $kver (linux-image-$kver-dbg)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    fetch() { (cd "$tmp" && apt-get download -q "linux-image-$kver-dbg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true); }
    fetch
    if ! ls "$tmp"/*.deb >/dev/null 2>&1; then
        apt-get update -qq
        fetch
    fi
    deb=$(ls "$tmp"/linux-image-"$kver"-dbg_*.deb 2>/dev/null | head -1)
    if [ -z "$deb" ]; then
        echo "install-debuginfo: could not download linux-image-$kver-dbg" >&2
        exit 1
    fi
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$kver"
    mkdir -p /usr/lib/debug/boot
    mv "$tmp/usr/lib/debug/boot/vmlinux-$kver" "$dbg.tmp"
    mv "$dbg.tmp" "$dbg"
    rm -rf "$tmp"
    trap - EXIT
done

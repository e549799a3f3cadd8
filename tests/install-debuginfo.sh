#!/usr/bin/env bash
# Installs the kernel's own DWARF for each kernel of KVERS (default: every kernel whose
# build tree is installed): the
# debug vmlinux of Debian's linux-image-KVER-dbg, at /usr/lib/debug/boot/vmlinux-KVER
# (where the package puts it), and the debug files of the few modules the tests probe
# (MODULES, under /usr/lib/debug/lib/modules/KVER/).  The package's other 5 GB of module
# debug files are not unpacked.  Downloading the 860 MB package and unpacking takes about
# half a minute.
MODULES=${MODULES:-"kernel/fs/xfs/xfs.ko kernel/fs/nfs/nfsv3.ko kernel/fs/nfs/nfs.ko kernel/fs/nfs/nfsv4.ko kernel/fs/nfsd/nfsd.ko kernel/net/sunrpc/sunrpc.ko"}
set -euo pipefail
if [ -z "${KVERS:-}" ]; then
    KVERS=$(for b in /usr/lib/modules/*/build; do [ -d "$b" ] && basename "$(dirname "$b")"; done || true)
fi
for kver in $KVERS; do
    dbg=/usr/lib/debug/boot/vmlinux-$kver
    want=("./usr/lib/debug/boot/vmlinux-$kver")
    for m in $MODULES; do
        [ -f "/usr/lib/debug/lib/modules/$kver/$m" ] || want+=("./usr/lib/debug/lib/modules/$kver/$m")
    done
    [ -f "$dbg" ] && [ ${#want[@]} -eq 1 ] && continue
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
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "${want[@]}"
    for f in "${want[@]}"; do
        f=${f#.}
        mkdir -p "$(dirname "$f")"
        mv "$tmp$f" "$f.tmp"
        mv "$f.tmp" "$f"
    done
    rm -rf "$tmp"
    trap - EXIT
done

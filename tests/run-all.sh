#!/usr/bin/env bash
# The whole test suite, as CI runs it on a fresh machine:
#   formatting, the workspace build, every cargo test (unit, snapshot, end-to-end,
#   the -p1 round trip over the peer suite), then the peer suite's conformance scores.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "run-all: cargo is required (the machine's Rust toolchain)" >&2
    exit 1
fi

# The user-space runtime is built with the system C compiler (and its sanitizer runtimes);
# kernel modules with the kernel's own build tree (Debian's linux-headers-amd64).
need=()
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v make >/dev/null || need+=(make)
ls -d /usr/lib/modules/*/build >/dev/null 2>&1 || need+=(linux-headers-amd64)
# The VM tier boots that kernel under QEMU with a busybox initramfs.
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# The kernel's own DWARF (lines, locals, inlined copies), for the VM tier's DWARF tests.
tests/install-debuginfo.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo build --release"
cargo build --release --workspace --all-targets

echo "== cargo test --release"
cargo test --release --workspace

echo "== end-to-end table under AddressSanitizer and UndefinedBehaviorSanitizer"
STAP_E2E_SANITIZE=1 cargo test --release --test e2e e2e_table_user_runtime

echo "== peer suite (passes 1 and 2)"
tests/peer-suite.sh

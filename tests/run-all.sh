#!/usr/bin/env bash
# The whole test suite, as CI runs it on a fresh machine:
#   formatting, the workspace build, every cargo test (unit, snapshot, end-to-end, the -p1
#   round trip over the peer suite, a sample of the table run by SystemTap 4.8 live)
#   against Debian's 6.1 kernel, a minute of generated scripts built in both backends
#   (fuzz/scriptgen), the kernel tiers again
#   against Debian's 6.12 kernel and the e2e table on its PREEMPT_RT flavour, then the peer
#   suite's conformance scores.
# KERNELS="6.1 6.12 rt" (the default) names the targets; a smaller list runs fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

if ! command -v cargo >/dev/null; then
    echo "run-all: cargo is required (the machine's Rust toolchain)" >&2
    exit 1
fi
KERNELS=${KERNELS:-"6.1 6.12 rt"}

# Each stage's header says how long the run has taken so far, and the end lists every
# stage's time: a slow or stuck stage is named in whatever part of the log one has.
# A test command that outlives its budget (minutes) is stopped, and the run fails there.
start=$SECONDS
stages=()
mark=$SECONDS
stage() {
    [ ${#stages[@]} -gt 0 ] && stages[-1]="${stages[-1]}: $(( SECONDS - mark )) s"
    mark=$SECONDS
    stages+=("$1")
    printf '== [%dm%02ds] %s\n' $(( (SECONDS - start) / 60 )) $(( (SECONDS - start) % 60 )) "$1"
}
within() {
    local minutes=$1
    shift
    if ! timeout -k 30 "$(( minutes * 60 ))" "$@"; then
        echo "run-all: FAIL in '${stages[-1]}' (a failure above, or over its budget of $minutes minutes)" >&2
        exit 1
    fi
}

# Debian's meta-packages of each target: the image the VM boots and the build tree modules
# are built against.
declare -A IMAGE=([6.1]=linux-image-amd64 [6.12]=linux-image-6.12-amd64 [rt]=linux-image-6.12-rt-amd64)
declare -A HEADERS=([6.1]=linux-headers-amd64 [6.12]=linux-headers-6.12-amd64 [rt]=linux-headers-6.12-rt-amd64)

# The user-space runtime is built with the system C compiler (and its sanitizer runtimes);
# kernel modules with the kernel's own build tree.
need=()
command -v cc >/dev/null || need+=("gcc (the user runtime's C compiler)" "libc6-dev (its C library)")
command -v make >/dev/null || need+=("make (Kbuild)")
for t in $KERNELS; do
    installed "${HEADERS[$t]}" || need+=("${HEADERS[$t]} (the $t kernel's build tree)")
    installed "${IMAGE[$t]}" || need+=("${IMAGE[$t]} (the $t kernel, booted by the VM tier)")
done
command -v qemu-system-x86_64 >/dev/null || need+=("qemu-system-x86 (the VM tier)")
is_static_elf /bin/busybox || need+=("busybox-static (the guest's shell: a static busybox)")
command -v cpio >/dev/null || need+=("cpio (packs the guest's initramfs)")
installed libc6-dbg || need+=("libc6-dbg (the C library's DWARF, for the VM tier's probes in libc)")
[ -f /usr/include/x86_64-linux-gnu/sys/sdt.h ] || need+=("systemtap-sdt-dev (sys/sdt.h: the SDT markers of the VM tier's test program)")
# SystemTap 4.8 itself: the e2e table's expectations are its outputs, and tests/systemtap.rs
# builds and runs a sample of the table with it again (its stap, staprun and stapio).
[ -x /usr/bin/stap ] && [ -x /usr/bin/staprun ] || need+=("systemtap (SystemTap 4.8, the reference the table is checked against)")
stage "what the tests need"
install_packages "${need[@]}"
is_static_elf /bin/busybox || { echo "run-all: /bin/busybox is still not static" >&2; exit 1; }

declare -A KVER
for t in $KERNELS; do
    KVER[$t]=$(kernel_of_package "${IMAGE[$t]}")
    echo "== target $t: kernel ${KVER[$t]}"
done
first=${KERNELS%% *}

# The kernel's own DWARF (lines, locals, inlined copies), for the VM tier's DWARF tests, on
# the targets that run them (not rt, which runs the e2e table only).
dbg=()
for t in $KERNELS; do [ "$t" = rt ] || dbg+=("${KVER[$t]}"); done
stage "the kernels' DWARF"
KVERS="${dbg[*]}" tests/install-debuginfo.sh

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo build --release"
cargo build --release --workspace --all-targets

stage "cargo test --release (kernel $first: ${KVER[$first]})"
STAP_TEST_KVER=${KVER[$first]} within 40 cargo test --release --workspace

# Generated scripts (fuzz/scriptgen): every one pass 2 accepts must build in both backends
# with -Werror and run on the user runtime; a minute here, ten by hand (fuzz/README.md).
stage "generated scripts (fuzz/scriptgen, kernel ${KVER[$first]})"
within 5 cargo run --release --manifest-path fuzz/Cargo.toml -p stap-scriptgen -- \
    --minutes 1 --seed "$(date +%j)000" --kernel "${KVER[$first]}"

# The table's fidelity files (the language and runtime library against SystemTap's outputs)
# do not depend on the kernel: the first target runs them; the others skip them.
fidelity_skip=()
for f in aggregates histograms printf-flags strings foreach limits; do
    fidelity_skip+=(--skip "::$f::")
done
for t in $KERNELS; do
    [ "$t" = "$first" ] && continue
    k=${KVER[$t]}
    if [ "$t" = rt ]; then
        stage "the e2e table in the kernel: $t ($k)"
        STAP_TEST_KVER=$k within 15 cargo test --release --test e2e -- --skip e2e_table_user_runtime \
            "${fidelity_skip[@]}"
    else
        stage "kernel tiers: $t ($k)"
        STAP_TEST_KVER=$k within 30 cargo test --release --test e2e --test vm --test vm_dwarf --test vm_nfs --test vm_process --test vm_uprobe --test vm_sdt --test vm_ustack --test hostile -- \
            --skip e2e_table_user_runtime "${fidelity_skip[@]}"
    fi
done

stage "end-to-end table under AddressSanitizer and UndefinedBehaviorSanitizer"
STAP_E2E_SANITIZE=1 within 10 cargo test --release --test e2e e2e_table_user_runtime

stage "peer suite (passes 1, 2, 3 and 4, kernel ${KVER[$first]})"
STAP_TEST_KVER=${KVER[$first]} within 15 tests/peer-suite.sh

stage "done"
echo "run-all: every tier passed in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s:"
for s in "${stages[@]:0:${#stages[@]}-1}"; do
    echo "  $s"
done

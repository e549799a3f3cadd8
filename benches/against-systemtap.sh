# Sourced by the benchmarks that compare stap-rs with Debian's SystemTap 4.8: installs
# hyperfine, systemtap and the kernel headers when missing, sets KVER (target_kernel of
# tests/lib.sh) and builds stap-rs.  Run from the project root.
. tests/lib.sh
need=()
command -v hyperfine >/dev/null || need+=("hyperfine (times the commands)")
[ -x /usr/bin/stap ] || need+=("systemtap (SystemTap 4.8, the baseline)")
ls /usr/lib/modules/*/build >/dev/null 2>&1 || need+=("linux-headers-amd64 (the kernel's build tree)")
install_packages "${need[@]}"
KVER=$(target_kernel)
export KVER
cargo build --release -q

# Sourced by the benchmarks that compare stap-rs with Debian's SystemTap 4.8: installs
# hyperfine, systemtap and the kernel headers when missing, sets KVER (a kernel with a build
# tree) and builds stap-rs.  Run from the project root.
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/stap ] || need+=(systemtap)
ls /usr/lib/modules/*/build >/dev/null 2>&1 || need+=(linux-headers-amd64)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
KVER=$(ls -d /usr/lib/modules/*/build | head -n 1 | cut -d/ -f5)
export KVER
cargo build --release -q

# Shared by the project's shell scripts (source it): which kernel a test or benchmark
# targets, what is installed, and installing what is missing.  Every function says why it
# stops.

# The target kernel, one rule for every script and test: $STAP_TEST_KVER when set, else the
# newest release (by version) that has both a build tree and a /boot/vmlinuz image.
target_kernel() {
	local k
	if [ -n "${STAP_TEST_KVER:-}" ]; then
		k=$STAP_TEST_KVER
		if [ ! -d "/usr/lib/modules/$k/build" ] || [ ! -f "/boot/vmlinuz-$k" ]; then
			echo "target_kernel: STAP_TEST_KVER=$k has no /usr/lib/modules/$k/build or /boot/vmlinuz-$k" >&2
			return 1
		fi
		echo "$k"
		return 0
	fi
	k=$(for d in /usr/lib/modules/*/; do
		d=${d%/}
		d=${d##*/}
		[ -d "/usr/lib/modules/$d/build" ] && [ -f "/boot/vmlinuz-$d" ] && echo "$d"
	done | sort -V | tail -n 1)
	if [ -z "$k" ]; then
		echo "target_kernel: no kernel has both a build tree (/usr/lib/modules/KVER/build) and an image (/boot/vmlinuz-KVER): install linux-headers-amd64 and linux-image-amd64" >&2
		return 1
	fi
	echo "$k"
}

# The kernel release a Debian meta-package (linux-image-amd64, linux-image-6.12-amd64, ...)
# stands for, read from its installed dependencies.
kernel_of_package() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' "$1" 2>/dev/null | tr ',' '\n' | sed -n 's/^ *linux-image-\([^ ]*\).*/\1/p' | head -n 1)
	dep=${dep%-unsigned}
	if [ -z "$dep" ] || [ ! -f "/boot/vmlinuz-$dep" ]; then
		echo "kernel_of_package: $1 is not installed or names no installed kernel" >&2
		return 1
	fi
	echo "$dep"
}

# Whether a Debian package is installed.
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Whether FILE is an ELF program that needs no dynamic loader: only a static busybox runs in
# the guest's initramfs, which has no libraries.
is_static_elf() {
	[ -f "$1" ] && LC_ALL=C readelf -h "$1" >/dev/null 2>&1 &&
		! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'INTERP'
}

# install_packages "PKG (why)"...: installs the packages without their recommendations,
# saying what and why first.
install_packages() {
	[ $# -gt 0 ] || return 0
	local pkgs=() p
	for p in "$@"; do pkgs+=("${p%% *}"); done
	echo "== installing: $(printf '%s; ' "$@")"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

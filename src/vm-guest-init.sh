#!/bin/busybox sh
# /init of the probe VM (stap --vm and the test tier): runs every module in /modules in
# turn with stpd, printing markers the host parses, then powers off.
#   /modules/NAME.args   stpd's options for NAME (shell words: -T, -c, -x, -o ...)
# stpd writes the script's output and, prefixed with "=E= ", its error lines to the console
# as whole lines; "=== STATUS NAME RC" gives its exit status.
#   /ctl-on-ttyS1        each line the host writes to the second serial port interrupts the
#                        running stpd (Ctrl-C in stap --vm)
#   /modules/NAME.sh     a test scenario run instead of stpd, given the module's path
#   /modules/NAME.stdin  stpd's standard input (else /dev/null)
#   /workload            a busy shell loop runs per CPU meanwhile (the test tier's load)
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
ln -s /proc/self/fd /dev/fd 2>/dev/null
ln -s fd/0 /dev/stdin 2>/dev/null
ln -s fd/1 /dev/stdout 2>/dev/null
ln -s fd/2 /dev/stderr 2>/dev/null
export PATH=/bin
echo "=== STAP-VM-BEGIN $(uname -r)"
if [ -e /ctl-on-ttyS1 ]; then
	stty -F /dev/ttyS1 raw -echo 2>/dev/null
	(
		while read -r _; do
			[ -s /tmp/stpd.pid ] && kill -INT "$(cat /tmp/stpd.pid)"
		done < /dev/ttyS1
	) &
fi
if [ -e /workload ]; then
	for _ in $(seq "$(grep -c '^processor' /proc/cpuinfo)"); do
		(while :; do echo busy > /dev/null; done) &
	done
fi
for ko in /modules/*.ko; do
	name=$(basename "$ko" .ko)
	args=$(cat "/modules/$name.args" 2>/dev/null)
	echo "=== CASE $name"
	echo "=== STDOUT $name"
	eval "set -- $args"
	stdin=/dev/null
	[ -e "/modules/$name.stdin" ] && stdin="/modules/$name.stdin"
	if [ -e "/modules/$name.sh" ]; then
		sh "/modules/$name.sh" "$ko" &
	else
		stpd --merge-stderr '=E= ' "$@" "$ko" < "$stdin" &
	fi
	echo $! > /tmp/stpd.pid
	wait $!
	rc=$?
	: > /tmp/stpd.pid
	echo "=== STATUS $name $rc"
	if lsmod | grep -q "^$name "; then
		echo "=== STILL-LOADED $name"
	fi
	echo "=== END $name"
done
echo "=== STAP-VM-END"
poweroff -f

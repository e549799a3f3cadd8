#!/bin/busybox sh
# /init of the probe VM (stap --vm and the test tier): runs every module in /modules in
# turn, printing markers the host parses, then powers off.  A module's output streams from
# /proc/stap_<name>/out to the console until its control file says "done" (exit(), or the
# watchdog writing "exit" when the time allowed is up); then its error lines follow.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "=== STAP-VM-BEGIN $(uname -r)"
for ko in /modules/*.ko; do
	name=$(basename "$ko" .ko)
	limit=$(cat "/modules/$name.seconds" 2>/dev/null || echo 10)
	echo "=== CASE $name"
	if ! insmod "$ko"; then
		echo "=== INSMOD-FAILED $name"
		continue
	fi
	d=/proc/stap_$name
	# A watchdog ends the session when its time is up; output streams to the console live.
	(
		i=0
		while [ "$(cat "$d/ctl" 2>/dev/null)" != "done" ]; do
			i=$((i + 1))
			[ "$i" -eq $((limit * 10)) ] && echo exit > "$d/ctl"
			sleep 0.1
		done
	) &
	watchdog=$!
	echo "=== STDOUT $name"
	cat "$d/out"
	wait "$watchdog"
	echo "=== STDERR $name"
	cat "$d/err"
	rmmod "$name" || echo "=== RMMOD-FAILED $name"
	if lsmod | grep -q "^$name "; then
		echo "=== STILL-LOADED $name"
	fi
	echo "=== END $name"
done
echo "=== STAP-VM-END"
poweroff -f

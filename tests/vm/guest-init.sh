#!/bin/busybox sh
# /init of the test VM: runs every module in /modules in turn, printing markers the host
# parses, then powers off.  Output of a module is read from /proc/stap_<name>/{out,err}
# until its control file says "done" (exit() or the end of the time allowed).
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
	cat "$d/out" > "/tmp/$name.out" &
	out_pid=$!
	cat "$d/err" > "/tmp/$name.err" &
	err_pid=$!
	i=0
	while [ "$(cat "$d/ctl")" != "done" ]; do
		i=$((i + 1))
		if [ "$i" -ge $((limit * 10)) ]; then
			echo exit > "$d/ctl"
		fi
		sleep 0.1
	done
	wait "$out_pid" "$err_pid"
	echo "=== STDOUT $name"
	cat "/tmp/$name.out"
	echo "=== STDERR $name"
	cat "/tmp/$name.err"
	rmmod "$name" || echo "=== RMMOD-FAILED $name"
	if lsmod | grep -q "^$name "; then
		echo "=== STILL-LOADED $name"
	fi
	echo "=== END $name"
done
echo "=== STAP-VM-END"
poweroff -f

#!/usr/bin/env bash
# Pass-4 (module build) time of stap-rs, measured in one hyperfine run next to:
#   - the floor: the kernel's Kbuild building an empty module (no translator can beat it);
#   - Debian's SystemTap 4.8 with -p4.  Its runtime does not build against Debian's 6.1
#     kernels any more (task_work_cancel() now returns bool; the old function is
#     task_work_cancel_func()), so it runs with a copy of its runtime patched on that one
#     line (-R); if even that fails, the script says so and measures the rest;
#   - the cache hits of both (the same script again).
# Prints each mean and the ratios.  Installs hyperfine, systemtap and the headers if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/against-systemtap.sh
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
SCRIPT='global n probe timer.ms(10) { n++ } probe timer.s(1) { printf("%d\n", n); exit() }'
printf '%s\n' "$SCRIPT" > "$W/small.stp"

# The floor: an empty module, built with the flags stap-rs builds modules with (no debug
# information, src/kbuild.rs).
mkdir -p "$W/empty-src"
cat > "$W/empty-src/empty.c" <<'EOF'
#include <linux/module.h>
static int __init empty_init(void) { return 0; }
static void __exit empty_exit(void) { }
module_init(empty_init);
module_exit(empty_exit);
MODULE_LICENSE("GPL");
EOF
echo 'obj-m := empty.o' > "$W/empty-src/Kbuild"

# SystemTap 4.8 with its runtime patched for task_work_cancel().
cp -r /usr/share/systemtap/runtime "$W/st-runtime"
sed -i 's/typedef typeof(&task_work_cancel) task_work_cancel_fn;/typedef typeof(\&task_work_cancel_func) task_work_cancel_fn;/' \
	"$W/st-runtime/stp_task_work.c"
ST="/usr/bin/stap -R $W/st-runtime -r $KVER -p4 $W/small.stp"
cmds=(
	"rm -rf $W/empty && cp -r $W/empty-src $W/empty && make -s -C /usr/lib/modules/$KVER/build M=$W/empty KCFLAGS=-g0 CONFIG_DEBUG_INFO_BTF_MODULES= modules"
	"rm -rf $W/rs-cold && SYSTEMTAP_DIR=$W/rs-cold target/release/stap -r $KVER -p4 $W/small.stp"
	"SYSTEMTAP_DIR=$W/rs-warm target/release/stap -r $KVER -p4 $W/small.stp"
)
names=("floor (empty module, Kbuild)" "stap-rs -p4, cold" "stap-rs -p4, cache hit")
if SYSTEMTAP_DIR=$W/st-probe $ST >/dev/null 2>"$W/st.err"; then
	cmds+=("rm -rf $W/st-cold && SYSTEMTAP_DIR=$W/st-cold $ST" "SYSTEMTAP_DIR=$W/st-warm $ST")
	names+=("SystemTap 4.8 -p4 (patched runtime), cold" "SystemTap 4.8 -p4, cache hit")
else
	echo "SystemTap 4.8 -p4 failed even with the patched runtime:" >&2
	grep -m3 error "$W/st.err" >&2 || tail -3 "$W/st.err" >&2
fi
JSON="$W/results.json"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$JSON" "${cmds[@]}" >&2
python3 - "$JSON" "${names[@]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = sys.argv[2:]
m = [x["mean"] for x in r]
for n, t in zip(names, m):
    print(f"{n:45s} {t * 1000:8.0f} ms")
print(f"stap-rs cold / floor:            {m[1] / m[0]:.2f}x")
print(f"stap-rs cache hit / cold:        {m[2] / m[1]:.3f}x")
if len(m) > 3:
    print(f"SystemTap 4.8 cold / stap-rs cold: {m[3] / m[1]:.2f}x")
    print(f"SystemTap 4.8 hit / stap-rs hit:   {m[4] / m[2]:.2f}x")
PY

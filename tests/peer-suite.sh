#!/usr/bin/env bash
# Runs SystemTap's own translator tests (../shared/peer-suite) against target/release/stap
# and fails when a score drops below what the project has reached, or anything crashes or
# times out.  Override a minimum with MIN_<CATEGORY> (e.g. MIN_SEMOK=40); KEEP_LOGS=dir
# keeps each test's output.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=${PEER_SUITE:-../shared/peer-suite}
if [ ! -x "$SUITE/score.sh" ]; then
    echo "peer-suite: $SUITE/score.sh not found (the project expects ../shared beside it)" >&2
    exit 1
fi
declare -A MIN=(
    [parseok]=${MIN_PARSEOK:-52}
    [parseko]=${MIN_PARSEKO:-150}
    [semok]=${MIN_SEMOK:-83}
    [semko]=${MIN_SEMKO:-177}
    [transok]=${MIN_TRANSOK:-15}
    [transko]=${MIN_TRANSKO:-3}
    [buildok]=${MIN_BUILDOK:-187}
    [buildko]=${MIN_BUILDKO:-5}
)

# Kernel probe points resolve against one target kernel, whatever this machine runs: the
# target kernel of tests/lib.sh (STAP_TEST_KVER, else the newest installed), through a
# wrapper that adds -r unless a test names its own.
STAP=$(pwd)/target/release/stap
. tests/lib.sh
kver=$(target_kernel 2>/dev/null || true)
wrap=$(mktemp -d)
trap 'rm -rf "$wrap"' EXIT
if [ -n "$kver" ]; then
    printf '#!/usr/bin/env bash\nfor a in "$@"; do case "$a" in -r|-r?*) exec "%s" "$@";; esac; done\nexec "%s" -r "%s" "$@"\n' \
        "$STAP" "$STAP" "$kver" > "$wrap/stap"
    chmod +x "$wrap/stap"
    STAP=$wrap/stap
    echo "peer-suite: kernel probe points resolve against $kver"
fi
# The few tests that run stap hundreds of times (parseok/unparser.stp, autocast01) get
# score.sh's SLOW_TIMEOUT; every other test keeps its 10 s.
out=$(CATEGORIES="parseok parseko semok semko transok transko" SLOW_TIMEOUT=${SLOW_TIMEOUT:-60} \
    STAP=$STAP "$SUITE/score.sh" 2>&1)
echo "$out"
# Pass 4 (a module built with Kbuild per test): a module of every system call takes a
# minute on two cores, so these get BUILD_TIMEOUT (120 s) each.
build=$(CATEGORIES="buildok buildko" TIMEOUT=${BUILD_TIMEOUT:-120} STAP=$STAP "$SUITE/score.sh" 2>&1)
echo "$build"
out="$out
$build"
fail=0
if echo "$out" | grep -Eq 'crashes=[1-9]|timeouts=[1-9]'; then
    echo "peer-suite: FAIL: crashes or timeouts" >&2
    fail=1
fi
for cat in parseok parseko semok semko transok transko buildok buildko; do
    got=$(echo "$out" | awk -v c="$cat:" '$1 == c { split($2, a, "/"); print a[1] }')
    if [ "${got:-0}" -lt "${MIN[$cat]}" ]; then
        echo "peer-suite: FAIL: $cat ${got:-0} < ${MIN[$cat]}" >&2
        fail=1
    else
        echo "peer-suite: $cat ${got} >= ${MIN[$cat]}"
    fi
done
exit $fail

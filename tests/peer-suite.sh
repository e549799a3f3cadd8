#!/usr/bin/env bash
# Runs SystemTap's own parse tests (../shared/peer-suite) against target/release/stap and
# fails when a score drops below what the project has reached.  Override the minima with
# MIN_PARSEOK / MIN_PARSEKO; KEEP_LOGS=dir keeps each test's output.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=${PEER_SUITE:-../shared/peer-suite}
if [ ! -x "$SUITE/score.sh" ]; then
    echo "peer-suite: $SUITE/score.sh not found (the project expects ../shared beside it)" >&2
    exit 1
fi
MIN_PARSEOK=${MIN_PARSEOK:-52}
MIN_PARSEKO=${MIN_PARSEKO:-150}

out=$(CATEGORIES="parseok parseko" STAP=target/release/stap "$SUITE/score.sh" 2>&1)
echo "$out"
score() { echo "$out" | awk -v c="$1:" '$1 == c { split($2, a, "/"); print a[1] }'; }
ok=$(score parseok)
ko=$(score parseko)
fail=0
if echo "$out" | grep -Eq 'crashes=[1-9]|timeouts=[1-9]'; then
    echo "peer-suite: FAIL: crashes or timeouts" >&2
    fail=1
fi
if [ "${ok:-0}" -lt "$MIN_PARSEOK" ]; then
    echo "peer-suite: FAIL: parseok $ok < $MIN_PARSEOK" >&2
    fail=1
fi
if [ "${ko:-0}" -lt "$MIN_PARSEKO" ]; then
    echo "peer-suite: FAIL: parseko $ko < $MIN_PARSEKO" >&2
    fail=1
fi
if [ "$fail" = 0 ]; then
    echo "peer-suite: parseok $ok >= $MIN_PARSEOK, parseko $ko >= $MIN_PARSEKO"
fi
exit $fail

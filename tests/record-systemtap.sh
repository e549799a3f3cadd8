#!/usr/bin/env bash
# Records SystemTap 4.8's outputs as the e2e table's expectations (tests/e2e/README.md):
# every kernel case that is new or changed since its recording is built by Debian's
# SystemTap 4.8 and run with its staprun in one VM boot; ALL=1 records every case again,
# CASES=TEXT only those whose FILE::NAME contains TEXT.  The target is Debian's 6.1 kernel
# (SystemTap 4.8's runtime builds there with the task_work_cancel patch), or $STAP_TEST_KVER.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
[ -x /usr/bin/stap ] && [ -x /usr/bin/staprun ] || install_packages "systemtap (SystemTap 4.8 itself)"
if [ -z "${STAP_TEST_KVER:-}" ]; then
    STAP_TEST_KVER=$(kernel_of_package linux-image-amd64)
fi
export STAP_TEST_KVER
STAP_SYSTEMTAP_RECORD=$([ -n "${ALL:-}" ] && echo all || echo 1) \
    STAP_SYSTEMTAP_CASES=${CASES:-} cargo test --release --test systemtap -- --nocapture

#!/usr/bin/env bash
# test-rxe.sh — `npm run test:rxe`: every test that needs real verbs, inside QEMU guests (this kernel has no RDMA):
#   1. run-native-tests.sh: one guest on rxe0 — the Verbs contract through the native addon, our iSER initiator
#      against LIO isert, the kernel iSER initiator against our target, the conformance suite against LIO;
#   2. softroce-vs-rxe.sh: two guests on a bridge — our soft-RoCE (UDP) against the kernel's rxe + LIO isert.
# Both always run; the last line sums their "N passed, N failed" lines, and the exit code is non-zero if either
# failed. Knobs: the two scripts' own (RXEVM_DIR, RXEVM_TIMEOUT, NATIVE_TEST_FILTER, SOFTROCE_*).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT
rc=0
bash "$HERE/run-native-tests.sh" 2>&1 | tee "$LOG/native" || rc=1
bash "$HERE/softroce-vs-rxe.sh" 2>&1 | tee "$LOG/softroce" || rc=1

# counts FILE PREFIX: "passed failed" from the script's last summary line (a missing line counts as one failure).
counts() {
  local line
  line=$(grep -E "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -1)
  [ -n "$line" ] || { echo "0 1"; return; }
  echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/'
}
read -r np nf < <(counts "$LOG/native" native-test)
read -r sp sf < <(counts "$LOG/softroce" softroce-vs-rxe)
echo "test:rxe: native guest $np passed, $nf failed; soft-RoCE vs kernel rxe $sp passed, $sf failed"
echo "test:rxe: $((np + sp)) passed, $((nf + sf)) failed"
[ $((nf + sf)) -eq 0 ] || rc=1
exit $rc

#!/bin/bash
# native-test.sh — INSIDE the guest: rxe0 up, then the native addon's tests (vitest, test/native) against it.
# Expects the share (/mnt/host) to hold bundle.tar (repo subset + node_modules + the built addon, made by
# run-native-tests.sh): unpacked to /tmp, because node_modules over 9p is several times slower.
# Writes vitest's JSON report to /mnt/host/results.json; the last line is
# "native-test: N passed, N failed, N skipped". /mnt/host/env.sh (optional) sets NATIVE_TEST_FILTER (vitest
# filters, default test/native) and NATIVE_TEST_TIMEOUT (seconds).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SHARE=/mnt/host
WORK=/tmp/repo
t0=$(now)
# shellcheck source=/dev/null
[ -f "$SHARE/env.sh" ] && . "$SHARE/env.sh"

step rxe_up rxe_up || { echo "native-test: 0 passed, 1 failed (rxe_up)"; exit 1; }
unpack() { mkdir -p "$WORK" && tar -xf "$SHARE/bundle.tar" -C "$WORK"; }
step unpack unpack || { echo "native-test: 0 passed, 1 failed (unpack)"; exit 1; }

cd "$WORK" || exit 1
# RXEVM_GUEST=1: tests that change kernel state (LIO, iscsid) run only here.
export ISER_RDMA_ADDR ISER_REQUIRE_RDMA=1 RXEVM_GUEST=1 CI=1
ISER_RDMA_ADDR=$(my_ip)
# A task stuck in the kernel (D state) for two samples in a row gets its kernel stack printed: a hang inside
# rdma_cm, isert or configfs otherwise shows only as a silent timeout (quiet console hides hung-task traces).
watchdog() {
  local seen='' stuck pid
  for _ in $(seq 200); do
    sleep 30
    stuck=$(ps -eLo tid=,stat= | awk '$2 ~ /^D/ {print $1}' | sort | tr '\n' ' ')
    for pid in $stuck; do
      case " $seen " in *" $pid "*)
        echo "native-test: watchdog: task $pid ($(cat /proc/"$pid"/comm 2>/dev/null)) stuck in D state:"
        sed 's/^/    /' /proc/"$pid"/stack 2>/dev/null
        ;;
      esac
    done
    seen=$stuck
  done
}
watchdog &
watchdog_pid=$!
rc=0
# Bounded twice: vitest's own per-test timeouts, and this hard limit on the whole run. One file at a time:
# LIO's configfs tree, iscsid and the SCSI hosts are global to the guest, so files must not race.
# shellcheck disable=SC2086 # NATIVE_TEST_FILTER is a list of filters
# A copy of the output goes to /tmp/vitest.out through a process substitution, not a pipe: a worker stuck in D
# state keeps its stdout open forever, and a pipe's reader would wait for it. Bash needs /dev/fd for that, which
# only udev would have made here.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
timeout --kill-after=10 "${NATIVE_TEST_TIMEOUT:-780}" node node_modules/vitest/vitest.mjs run ${NATIVE_TEST_FILTER:-test/native} \
  --no-file-parallelism --reporter=default --reporter=json --outputFile.json="$SHARE/results.json" \
  > >(tee /tmp/vitest.out) 2>&1 || rc=$?

kill "$watchdog_pid" 2>/dev/null
counts=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$SHARE/results.json" 2>/dev/null) || {
  # vitest writes its JSON report only at the end: killed, it leaves none. Say which files had finished.
  echo "native-test: vitest left no report (rc=$rc); files finished before that:"
  grep -E '^ (✓|❯|↓) test/' /tmp/vitest.out | sed 's/^/    /'
  counts="0 passed, 1 failed (no report; vitest rc=$rc)"
}
awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "native-test: %.1fs in the guest\n", b-a}'
echo "native-test: $counts"
exit $rc

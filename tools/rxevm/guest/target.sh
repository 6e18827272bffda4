#!/bin/bash
# target.sh — INSIDE guest A: rxe0 and a LIO target with an iSER portal on eth0's address; announces
# /mnt/host/target.ready, then serves until /mnt/host/done appears (bounded by rxevm.wait=SECONDS).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ip=$(my_ip)
wait_s=$(cmdline_arg rxevm.wait)
step rxe_up rxe_up
step lio_iser_portal lio_configfs "$ip" 1
echo "$ip" >/mnt/host/target.ready.tmp && mv /mnt/host/target.ready.tmp /mnt/host/target.ready
echo "target: serving $IQN on $ip:3260 (iSER), waiting up to ${wait_s:-300}s"
step wait_for_done wait_for_file /mnt/host/done "${wait_s:-300}"
dmesg | grep -iE 'isert|iscsi' | tail -5 | sed 's/^/  dmesg: /'
echo "target: $STEPS_PASSED passed, $STEPS_FAILED failed"
[ "$STEPS_FAILED" = 0 ]

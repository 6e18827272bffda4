#!/bin/bash
# softroce-target.sh — INSIDE guest A of softroce-vs-rxe.sh: kernel rxe0 and a LIO target with an iSER portal
# (lib.sh lio_configfs), announces /mnt/host/target.ready, serves until /mnt/host/done appears (bounded by
# rxevm.wait), then prints what the host needs to judge the kernel's side: rdma/isert kernel messages and
# rxe0's non-zero hardware counters (drops, retries, ICRC errors).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ip=$(my_ip)
wait_s=$(cmdline_arg rxevm.wait)
step rxe_up rxe_up
step lio_iser_portal lio_configfs "$ip" 1
echo "$ip" >/mnt/host/target.ready.tmp && mv /mnt/host/target.ready.tmp /mnt/host/target.ready
echo "target: serving $IQN on $ip:3260 (iSER), waiting up to ${wait_s:-300}s"
step wait_for_done wait_for_file /mnt/host/done "${wait_s:-300}"
dmesg | grep -iE 'rdma|isert|iscsi|rxe|ib_cm' | tail -40 | sed 's/^/  dmesg: /'
for c in /sys/class/infiniband/rxe0/ports/1/hw_counters/*; do
  v=$(cat "$c" 2>/dev/null) && [ "${v:-0}" != 0 ] && echo "  rxe0 counter $(basename "$c") $v"
done | tee /mnt/host/rxe-counters.txt
echo "target: $STEPS_PASSED passed, $STEPS_FAILED failed"
[ "$STEPS_FAILED" = 0 ]

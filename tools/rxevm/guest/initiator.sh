#!/bin/bash
# initiator.sh — INSIDE guest B: rxe0, wait for the target's announcement, then the kernel iSER initiator
# (open-iscsi, iface iser) logs in, writes and reads back 16 MiB O_DIRECT, logs out; touches
# /mnt/host/initiator.done. Every wait bounded.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
wait_s=$(cmdline_arg rxevm.wait)
step rxe_up rxe_up
step wait_for_target wait_for_file /mnt/host/target.ready "${wait_s:-300}"
target=$(cat /mnt/host/target.ready 2>/dev/null)
echo "initiator: $(my_ip) -> $target"
step ping ping -c 2 -W 2 "$target"
if step iser_login iscsi_login "$target" iser; then
  step dd_verify dd_verify
  step iser_logout iscsi_logout "$target" iser
fi
c=/sys/class/infiniband/rxe0/ports/1/hw_counters
echo "initiator: rxe0 sent_pkts=$(cat $c/sent_pkts 2>/dev/null) rcvd_pkts=$(cat $c/rcvd_pkts 2>/dev/null)"
touch /mnt/host/initiator.done
echo "initiator: $STEPS_PASSED passed, $STEPS_FAILED failed"
[ "$STEPS_FAILED" = 0 ]

#!/bin/bash
# softroce-initiator.sh — INSIDE guest B of softroce-vs-rxe.sh: NO kernel rxe (UDP 4791 must be ours). Unpacks
# /mnt/host/bundle.tar (repo subset + node_modules + the addon) to /tmp, waits for /mnt/host/target.ready, runs
# tools/rxevm/softroce-initiator.ts (our initiator over soft-RoCE on a UdpLink bound to eth0's address) against
# guest A, copies its output to /mnt/host/initiator.out and announces /mnt/host/initiator.done.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SHARE=/mnt/host
WORK=/tmp/repo
ip=$(my_ip)
wait_s=$(cmdline_arg rxevm.wait)
target=$(cmdline_arg rxevm.target)
mib=$(cmdline_arg rxevm.mib)
no_kernel_rxe() { ! lsmod | grep -q '^rdma_rxe' && ! ss -uln | grep -q ':4791 '; }
unpack() { mkdir -p "$WORK" && tar -xf "$SHARE/bundle.tar" -C "$WORK"; }
step no_kernel_rxe no_kernel_rxe
step unpack unpack
step wait_for_target wait_for_file "$SHARE/target.ready" "${wait_s:-300}"
cd "$WORK" || exit 1
rc=0
timeout --kill-after=5 "${SOFTROCE_TIMEOUT:-240}" node node_modules/tsx/dist/cli.mjs tools/rxevm/softroce-initiator.ts \
  --local "$ip" --target "${target:-10.99.0.2}" --mib "${mib:-16}" --step-timeout 90 \
  --pcap /tmp/ours.pcapng 2>&1 | tee /tmp/initiator.out
rc=${PIPESTATUS[0]}
cp /tmp/initiator.out "$SHARE/initiator.out"
cp /tmp/ours.pcapng "$SHARE/ours.pcapng" 2>/dev/null
echo "$rc" >"$SHARE/initiator.done"
echo "softroce-initiator: guest rc=$rc; $STEPS_PASSED passed, $STEPS_FAILED failed (guest steps)"
[ "$rc" = 0 ] && [ "$STEPS_FAILED" = 0 ]

#!/bin/bash
# softroce-initiator.sh — INSIDE guest B of softroce-vs-rxe.sh: NO kernel rxe (UDP 4791 must be ours). Waits for
# /mnt/host/target.ready, runs /mnt/host/softroce-initiator.mjs (tools/rxevm/softroce-initiator.ts bundled by the
# host: our initiator over soft-RoCE on a UdpLink bound to eth0's address) against guest A with the addon beside
# it, copies its output to /mnt/host/initiator.out and announces /mnt/host/initiator.done (its exit code).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SHARE=/mnt/host
ip=$(my_ip)
wait_s=$(cmdline_arg rxevm.wait)
target=$(cmdline_arg rxevm.target)
mib=$(cmdline_arg rxevm.mib)
no_kernel_rxe() { ! lsmod | grep -q '^rdma_rxe' && ! ss -uln | grep -q ':4791 '; }
stage() { mkdir -p /tmp/sr && cp "$SHARE/softroce-initiator.mjs" "$SHARE/iser_verbs.node" /tmp/sr/; }
# The target, or the host giving up on it (it touches done when guest A fails).
target_or_done() {
  local i
  for i in $(seq $((${wait_s:-300} * 10))); do
    [ -e "$SHARE/target.ready" ] && return 0
    [ -e "$SHARE/done" ] && return 1
    sleep 0.1
  done
  return 1
}
step no_kernel_rxe no_kernel_rxe
step stage stage
if ! step wait_for_target target_or_done; then
  echo 1 >"$SHARE/initiator.done"
  exit 1
fi
cd /tmp/sr || exit 1
ISER_NATIVE_ADDON=/tmp/sr/iser_verbs.node timeout --kill-after=5 "${SOFTROCE_TIMEOUT:-240}" node softroce-initiator.mjs \
  --local "$ip" --target "${target:-10.99.0.2}" --mib "${mib:-16}" --step-timeout 150 2>&1 | tee /tmp/initiator.out
rc=${PIPESTATUS[0]}
cp /tmp/initiator.out "$SHARE/initiator.out"
echo "$rc" >"$SHARE/initiator.done"
echo "softroce-initiator: guest rc=$rc; $STEPS_PASSED passed, $STEPS_FAILED failed (guest steps)"
[ "$rc" = 0 ] && [ "$STEPS_FAILED" = 0 ]

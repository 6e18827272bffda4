#!/bin/bash
# smoke.sh — INSIDE the guest: is the guest fit for our tests? rxe0 up, verbs loopback through rdma_cm (rping),
# node runs. Prints "smoke: N passed, N failed"; exit 0 only when all passed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
IP=$(my_ip)

rping_loopback() {
  timeout 60 rping -s -a "$IP" -C 10 >/tmp/rping-server.log 2>&1 &
  local server=$! rc=0
  sleep 1
  timeout 60 rping -c -a "$IP" -C 10 -v >/tmp/rping-client.log 2>&1 || rc=$?
  wait "$server" || rc=$?
  tail -1 /tmp/rping-client.log
  return $rc
}

step rxe_up rxe_up
step rping rping_loopback
step node timeout 30 node -e 'console.log(`node ${process.version} ${process.arch}`)'
echo "smoke: $STEPS_PASSED passed, $STEPS_FAILED failed"
[ "$STEPS_FAILED" = 0 ]

#!/usr/bin/env bash
# two-vm.sh — two guests on a private bridge (netns-tap.sh, in a namespace this script creates and removes):
# A (10.99.0.2) runs a LIO target with an iSER portal on its rxe0, B (10.99.0.3) logs in over iSER with the
# kernel initiator and checks 16 MiB of I/O, so RoCEv2 crosses a wire between two kernels. The namespace side
# (10.99.0.1) checks A over plain iSCSI/TCP when libiscsi-bin is installed. Needs root. Exit 0 when all passed.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export RXEVM_DIR=${RXEVM_DIR:-/var/tmp/rxevm}
NS=${RXEVM_NS:-rxevm-2vm}
SHARE=$RXEVM_DIR/two-vm
WAIT=${RXEVM_WAIT:-300}
IQN=iqn.2024-01.test.rxevm:tgt0
t0=$(date +%s)
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM -- "-$pid" 2>/dev/null; done
  sleep 1
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null; done
  bash "$HERE/netns-tap.sh" down "$NS"
}
trap cleanup EXIT

bash "$HERE/netns-tap.sh" down "$NS"
bash "$HERE/netns-tap.sh" up "$NS" rxtapA rxtapB
rm -rf "$SHARE"
mkdir -p "$SHARE"
cp "$HERE"/guest/lib.sh "$HERE"/guest/target.sh "$HERE"/guest/initiator.sh "$SHARE/"

# boot_guest NAME TAP IP MAC SCRIPT: a guest in its own process group (so cleanup can end QEMU with it).
boot_guest() {
  setsid env RXEVM_NET=tap RXEVM_NETNS="$NS" RXEVM_TAP="$2" RXEVM_IP="$3/24" RXEVM_MAC="$4" RXEVM_SHARE="$SHARE" \
    RXEVM_RUN="$5" RXEVM_SMP=1 RXEVM_MEM=1536 RXEVM_TIMEOUT=$((WAIT + 120)) RXEVM_APPEND="rxevm.wait=$WAIT" \
    RXEVM_LOG="$RXEVM_DIR/console-$1.log" bash "$HERE/boot.sh" >"$RXEVM_DIR/two-vm-$1.out" 2>&1 &
  pids+=($!)
}
boot_guest A rxtapA 10.99.0.2 52:54:00:99:00:02 target.sh
boot_guest B rxtapB 10.99.0.3 52:54:00:99:00:03 initiator.sh

passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >"$RXEVM_DIR/two-vm-check-$name.out" 2>&1; then passed=$((passed + 1)); r=PASS; else failed=$((failed + 1)); r=FAIL; fi
  echo "two-vm: $name $r"
}
for _ in $(seq "$WAIT"); do [ -e "$SHARE/target.ready" ] && break; sleep 1; done
echo "two-vm: target ready after $(($(date +%s) - t0)) s"
# Host-side checks run only where their tool is installed (iputils-ping, libiscsi-bin).
if command -v ping >/dev/null; then check netns-ping-A timeout 20 ip netns exec "$NS" ping -c 2 -W 2 10.99.0.2
else echo "two-vm: netns-ping-A skipped (no ping here)"; fi
if command -v iscsi-inq >/dev/null; then
  check netns-tcp-inquiry timeout 30 ip netns exec "$NS" iscsi-inq "iscsi://10.99.0.2:3260/$IQN/0"
else echo "two-vm: netns-tcp-inquiry skipped (no iscsi-inq here)"; fi
for _ in $(seq "$WAIT"); do
  [ -e "$SHARE/initiator.done" ] && break
  kill -0 "${pids[1]}" 2>/dev/null || break
  sleep 1
done
touch "$SHARE/done"
rc_b=124
rc_a=124
for _ in $(seq 60); do kill -0 "${pids[1]}" 2>/dev/null || break; sleep 1; done
wait "${pids[1]}" && rc_b=0 || rc_b=$?
for _ in $(seq 60); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 1; done
wait "${pids[0]}" && rc_a=0 || rc_a=$?
pids=()
grep -ahE '=== RESULT|^target:|LIO:' "$RXEVM_DIR/two-vm-A.out" | sed 's/^/  A: /'
grep -ahE '=== RESULT|^initiator:|dd_verify|Attached' "$RXEVM_DIR/two-vm-B.out" | sed 's/^/  B: /'
[ "$rc_a" = 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
[ "$rc_b" = 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
echo "two-vm: $passed passed, $failed failed (guest A rc=$rc_a, guest B rc=$rc_b) in $(($(date +%s) - t0)) s"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# softroce-vs-rxe.sh — OUR soft-RoCE (UDP) against the KERNEL's rxe, two QEMU guests on a bridge in a netns
# this script creates and removes (netns-tap.sh):
#   A 10.99.0.2: kernel rxe0 + LIO target with an iSER portal (guest/softroce-target.sh)
#   B 10.99.0.3: no kernel rxe; our initiator over SoftRoceProvider on a UdpLink bound to 10.99.0.3:4791
#                (guest/softroce-initiator.sh runs tools/rxevm/softroce-initiator.ts from a bundle)
# IB CM connect, iSER login (RDMAExtensions=Yes), verified I/O, logout, DREQ/DREP; the host captures br0 and
# checks every RoCEv2 packet's ICRC with scapy (roce-capture-check.py). One PASS/FAIL line per step, then
# "softroce-vs-rxe: N passed, N failed"; exit 1 on any failure. Needs root, QEMU, dumpcap, python3-scapy.
# Knobs: RXEVM_DIR (image cache), SOFTROCE_MIB (I/O verified, default 16), SOFTROCE_B=vm|netns (netns: run our
# initiator on the host inside the netns at 10.99.0.1 instead of guest B: quicker, for debugging),
# SOFTROCE_BUDGET (seconds for the whole run, default 360), SOFTROCE_KEEP=1 (keep $RXEVM_DIR/softroce/).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export RXEVM_DIR=${RXEVM_DIR:-/var/tmp/rxevm}
NS=${RXEVM_NS:-rxevm-softroce}
SHARE=$RXEVM_DIR/softroce
BUDGET=${SOFTROCE_BUDGET:-360}
MIB=${SOFTROCE_MIB:-16}
MODE=${SOFTROCE_B:-vm}
PY=/usr/bin/python3
t0=$(date +%s)
pids=()
passed=0
failed=0

result() { # result NAME PASS|FAIL [detail]
  if [ "$2" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "softroce-vs-rxe: $1 $2${3:+ $3} ($(($(date +%s) - t0)) s)"
}
left() { # seconds of the budget left, at least 1
  local n=$((BUDGET - ($(date +%s) - t0)))
  echo $((n > 0 ? n : 1))
}
finish() {
  echo "softroce-vs-rxe: $passed passed, $failed failed"
  [ "$failed" = 0 ] && exit 0
  exit 1
}

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM -- "-$pid" 2>/dev/null; done
  sleep 1
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null; done
  bash "$HERE/netns-tap.sh" down "$NS"
}
trap cleanup EXIT

for tool in qemu-system-x86_64 dumpcap node; do
  command -v "$tool" >/dev/null || { result "tool-$tool" FAIL "not installed"; finish; }
done
$PY -c 'import scapy.contrib.roce' 2>/dev/null || { result tool-scapy FAIL "$PY has no scapy (python3-scapy)"; finish; }
[ -f "$REPO/native/build/Release/iser_verbs.node" ] || timeout 300 bash "$REPO/native/build.sh" >/dev/null 2>&1
[ -f "$REPO/native/build/Release/iser_verbs.node" ] || { result native-addon FAIL "not built (native/build.sh)"; finish; }
timeout 600 bash "$HERE/build-image.sh" >"$RXEVM_DIR/softroce-build.out" 2>&1 || { result build-image FAIL; finish; }

bash "$HERE/netns-tap.sh" down "$NS"
bash "$HERE/netns-tap.sh" up "$NS" srtapA srtapB
rm -rf "$SHARE"
mkdir -p "$SHARE"
cp "$HERE"/guest/lib.sh "$HERE"/guest/softroce-target.sh "$HERE"/guest/softroce-initiator.sh "$SHARE/"
# The initiator as one ES module (esbuild, which tsx ships): under TCG, tsx transpiling ~150 modules in the
# guest took over 4 minutes; a bundle starts in seconds. The addon (for IP_PMTUDISC_DO) goes beside it.
bundle() {
  timeout 120 "$REPO/node_modules/.bin/esbuild" "$REPO/tools/rxevm/softroce-initiator.ts" --bundle --platform=node \
    --format=esm --target=node20 --log-level=warning --outfile="$SHARE/softroce-initiator.mjs" &&
    cp "$REPO/native/build/Release/iser_verbs.node" "$SHARE/"
}
bundle || { result bundle FAIL "esbuild"; finish; }

# boot_guest NAME TAP IP MAC SCRIPT [APPEND]: a guest in its own process group (cleanup ends QEMU with it).
boot_guest() {
  setsid env RXEVM_NET=tap RXEVM_NETNS="$NS" RXEVM_TAP="$2" RXEVM_IP="$3/24" RXEVM_MAC="$4" RXEVM_SHARE="$SHARE" \
    RXEVM_RUN="$5" RXEVM_SMP=1 RXEVM_MEM=1536 RXEVM_TIMEOUT="$BUDGET" \
    RXEVM_APPEND="rxevm.wait=$BUDGET ${6:-}" RXEVM_LOG="$RXEVM_DIR/softroce-console-$1.log" \
    bash "$HERE/boot.sh" >"$RXEVM_DIR/softroce-$1.out" 2>&1 &
  pids+=($!)
}
# The capture: every frame on the bridge, UDP 4791 only (ARP and the rest are not RoCE).
setsid ip netns exec "$NS" timeout "$BUDGET" dumpcap -q -i br0 -f 'udp port 4791' -w "$SHARE/wire.pcapng" \
  >"$RXEVM_DIR/softroce-dumpcap.out" 2>&1 &
cap_pid=$!
pids+=("$cap_pid")
boot_guest A srtapA 10.99.0.2 52:54:00:99:01:02 softroce-target.sh
if [ "$MODE" = vm ]; then
  boot_guest B srtapB 10.99.0.3 52:54:00:99:01:03 softroce-initiator.sh "rxevm.target=10.99.0.2 rxevm.mib=$MIB"
fi

for _ in $(seq "$(left)"); do [ -e "$SHARE/target.ready" ] && break; kill -0 "${pids[1]}" 2>/dev/null || break; sleep 1; done
if [ -e "$SHARE/target.ready" ]; then
  result target-ready PASS "A: rxe0 + LIO iSER portal"
else
  result target-ready FAIL "see $RXEVM_DIR/softroce-A.out"
  touch "$SHARE/done" # B stops waiting for it
fi

if [ "$MODE" = netns ]; then
  ISER_NATIVE_ADDON=$SHARE/iser_verbs.node timeout --kill-after=5 "$(left)" ip netns exec "$NS" node \
    "$SHARE/softroce-initiator.mjs" --local 10.99.0.1 --target 10.99.0.2 --mib "$MIB" --step-timeout 60 \
    --events "$SHARE/events.jsonl" >"$SHARE/initiator.out" 2>&1
  echo $? >"$SHARE/initiator.done"
else
  for _ in $(seq "$(left)"); do
    [ -e "$SHARE/initiator.done" ] && break
    kill -0 "${pids[2]}" 2>/dev/null || break
    sleep 1
  done
fi
touch "$SHARE/done"
# Our initiator's own steps, as it printed them.
if [ -e "$SHARE/initiator.out" ]; then
  while read -r _ name verdict rest; do
    case $verdict in PASS | FAIL) result "B:$name" "$verdict" "$rest" ;; esac
  done < <(grep -a '^softroce-initiator: [a-z-]* \(PASS\|FAIL\)' "$SHARE/initiator.out")
  grep -a '^softroce-initiator-stats' "$SHARE/initiator.out" | sed 's/^/  /'
else
  result B:initiator FAIL "no output (see $RXEVM_DIR/softroce-B.out)"
fi
[ "$(cat "$SHARE/initiator.done" 2>/dev/null)" = 0 ] && result initiator-exit PASS || result initiator-exit FAIL "rc=$(cat "$SHARE/initiator.done" 2>/dev/null)"

# Let A print its dmesg and counters and power off; then stop the capture (SIGTERM lets dumpcap flush).
for _ in $(seq 60); do kill -0 "${pids[1]}" 2>/dev/null || break; sleep 1; done
wait "${pids[1]}" && rc_a=0 || rc_a=$?
grep -ahE '=== RESULT|dmesg:|rxe0 counter|^target:' "$RXEVM_DIR/softroce-A.out" | sed 's/^/  A: /'
[ "$rc_a" = 0 ] && result target-guest PASS || result target-guest FAIL "rc=$rc_a"
if [ "$MODE" = vm ]; then
  for _ in $(seq 30); do kill -0 "${pids[2]}" 2>/dev/null || break; sleep 1; done
  wait "${pids[2]}" && rc_b=0 || rc_b=$?
  grep -ahE '=== RESULT' "$RXEVM_DIR/softroce-B.out" | sed 's/^/  B: /'
  [ "$rc_b" = 0 ] && result initiator-guest PASS || result initiator-guest FAIL "rc=$rc_b"
fi
sleep 1
kill -TERM -- "-$cap_pid" 2>/dev/null
for _ in $(seq 20); do kill -0 "$cap_pid" 2>/dev/null || break; sleep 0.5; done

if check=$(timeout 120 $PY "$HERE/roce-capture-check.py" "$SHARE/wire.pcapng" "$([ "$MODE" = vm ] && echo 10.99.0.3 || echo 10.99.0.1)" 2>&1); then
  v=PASS
else
  v=FAIL
fi
echo "$check" | sed 's/^/  wire: /'
result wire-icrc-scapy "$v" "$(echo "$check" | tail -1)"
echo "softroce-vs-rxe: capture $SHARE/wire.pcapng, logs $RXEVM_DIR/softroce-{A,B}.out, total $(($(date +%s) - t0)) s"
finish

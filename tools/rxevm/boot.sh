#!/usr/bin/env bash
# boot.sh — boot the guest built by build-image.sh under QEMU TCG, run one guest script, power off, and exit
# with that script's exit code (124 when the guest never reported one, e.g. on the hard timeout).
#
# Environment (all optional):
#   RXEVM_DIR       image directory (default /var/tmp/rxevm)
#   RXEVM_RUN       guest script: an absolute guest path, or a path relative to RXEVM_SHARE (/mnt/host)
#   RXEVM_SHARE     host directory shared read-write as 9p tag "host", mounted at /mnt/host
#   RXEVM_TIMEOUT   hard wall-clock limit in seconds (default 600): QEMU is killed after it
#   RXEVM_SMP / RXEVM_MEM   vCPUs (default 2) / MiB (default 2048)
#   RXEVM_NET       user (default; restrict=on: the guest reaches nothing) | tap | none
#   RXEVM_HOSTFWD   user net: hostfwd rules, e.g. "tcp:127.0.0.1:13260-:3260" (host side on 127.0.0.1 only)
#   RXEVM_NETNS, RXEVM_TAP   tap net: run QEMU inside netns NS on tap TAP (see netns-tap.sh)
#   RXEVM_IP, RXEVM_GW, RXEVM_MAC   guest eth0 address/route/MAC
#   RXEVM_APPEND    extra kernel command line (e.g. "rxevm.wait=300")
#   RXEVM_LOG       console log (default $RXEVM_DIR/console.log)
#   RXEVM_INTERACTIVE=1     a shell on the console instead of RXEVM_RUN
# KVM is not offered: on this kind of host /dev/kvm is nested PVM and cannot run a stock kernel (rxe-vm.md).
set -euo pipefail
RXEVM_DIR=${RXEVM_DIR:-/var/tmp/rxevm}
[ -e "$RXEVM_DIR/vm.env" ] && [ -e "$RXEVM_DIR/rootfs.img" ] || {
  echo "boot.sh: no image in $RXEVM_DIR; run tools/rxevm/build-image.sh first" >&2
  exit 2
}
# shellcheck source=/dev/null
. "$RXEVM_DIR/vm.env"
TIMEOUT=${RXEVM_TIMEOUT:-600}
LOG=${RXEVM_LOG:-$RXEVM_DIR/console.log}
IP=${RXEVM_IP:-10.0.2.15/24}
MAC=${RXEVM_MAC:-52:54:00:12:34:56}

net=()
in_netns=()
case ${RXEVM_NET:-user} in
  user)
    nd="user,id=n0,restrict=on,net=10.0.2.0/24,host=10.0.2.2"
    for rule in ${RXEVM_HOSTFWD:-}; do nd+=",hostfwd=$rule"; done
    net=(-netdev "$nd" -device "virtio-net-pci,netdev=n0,mac=$MAC")
    [ -z "${RXEVM_NETNS:-}" ] || in_netns=(ip netns exec "$RXEVM_NETNS")
    ;;
  tap)
    : "${RXEVM_NETNS:?tap needs RXEVM_NETNS}" "${RXEVM_TAP:?tap needs RXEVM_TAP}"
    net=(-netdev "tap,id=n0,ifname=$RXEVM_TAP,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$MAC")
    in_netns=(ip netns exec "$RXEVM_NETNS")
    ;;
  none) net=(-nic none) ;;
  *)
    echo "boot.sh: RXEVM_NET must be user, tap or none" >&2
    exit 2
    ;;
esac

share=()
[ -z "${RXEVM_SHARE:-}" ] || share=(-virtfs "local,path=$RXEVM_SHARE,mount_tag=host,security_model=none,id=host")

append="console=ttyS0 panic=-1 quiet loglevel=4 rxevm.ip=$IP"
[ -z "${RXEVM_GW:-}" ] || append+=" rxevm.gw=$RXEVM_GW"
[ -z "${RXEVM_RUN:-}" ] || append+=" rxevm.run=$RXEVM_RUN"
append+=" ${RXEVM_APPEND:-}"
stdin=/dev/null
if [ "${RXEVM_INTERACTIVE:-0}" = 1 ]; then
  append+=" rxevm.shell=1"
  stdin=/dev/stdin
fi

t0=$(date +%s.%N)
set +e
# QEMU runs in the foreground under `timeout` (SIGTERM, then SIGKILL 10 s later): it can never outlive us.
"${in_netns[@]}" timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max \
  -M pc -smp "${RXEVM_SMP:-2}" -m "${RXEVM_MEM:-2048}" -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$RXEVM_DIR/vmlinuz" -initrd "$RXEVM_DIR/initrd.cpio.gz" -append "$append" \
  -drive "file=$RXEVM_DIR/rootfs.img,if=virtio,format=raw,snapshot=on" \
  -device virtio-rng-pci "${net[@]}" "${share[@]}" <"$stdin" 2>&1 |
  sed -u -e 's/\r$//' -e 's/\x1b[c[][?0-9;]*[a-zA-Z]\{0,1\}//g' | tee "$LOG"
qemu_rc=${PIPESTATUS[0]}
set -e
wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
guest_rc=$(sed -n 's/.*RXEVM-EXIT rc=\([0-9]*\).*/\1/p' "$LOG" | tail -1)
echo "boot.sh: qemu rc=$qemu_rc, guest rc=${guest_rc:-none}, wall ${wall}s, log $LOG" >&2
[ "$qemu_rc" != 124 ] && [ "$qemu_rc" != 137 ] || echo "boot.sh: QEMU killed after ${TIMEOUT}s" >&2
[ -n "$guest_rc" ] || exit 124
exit "$guest_rc"

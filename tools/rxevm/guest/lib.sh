# lib.sh — sourced by the guest scripts; runs INSIDE the rxe guest. Every wait is bounded.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NETDEV=${NETDEV:-eth0}
IQN=${IQN:-iqn.2024-01.test.rxevm:tgt0}
STEPS_PASSED=0
STEPS_FAILED=0

# Value of NAME=... on the kernel command line.
cmdline_arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
now() { date +%s.%N; }
my_ip() { ip -4 -o addr show dev "$NETDEV" | awk '{print $4}' | cut -d/ -f1 | head -1; }

# step NAME CMD... — runs CMD, prints "=== RESULT NAME PASS|FAIL 1.2s", counts the outcome.
step() {
  local name=$1 t0 result
  shift
  t0=$(now)
  echo "=== STEP $name"
  if "$@"; then
    result=PASS
    STEPS_PASSED=$((STEPS_PASSED + 1))
  else
    result=FAIL
    STEPS_FAILED=$((STEPS_FAILED + 1))
  fi
  awk -v n="$name" -v r="$result" -v a="$t0" -v b="$(now)" 'BEGIN{printf "=== RESULT %s %s %.1fs\n", n, r, b-a}'
  [ $result = PASS ]
}

# wait_for_file PATH SECONDS
wait_for_file() {
  local i
  for i in $(seq $(($2 * 10))); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# rxe_up: soft-RoCE device rxe0 on $NETDEV, port ACTIVE; sets GID_INDEX to the RoCEv2 IPv4 GID.
rxe_up() {
  local i g
  modprobe rdma_rxe && modprobe ib_uverbs && modprobe rdma_ucm || return 1
  rdma link show rxe0 >/dev/null 2>&1 || rdma link add rxe0 type rxe netdev "$NETDEV" || return 1
  GID_INDEX=
  # The IPv4-mapped GID appears shortly after the link is added.
  for i in $(seq 50); do
    for g in /sys/class/infiniband/rxe0/ports/1/gids/*; do
      case $(cat "$g" 2>/dev/null) in 0000:0000:0000:0000:0000:ffff:*)
        GID_INDEX=$(basename "$g")
        break 2
        ;;
      esac
    done
    sleep 0.1
  done
  echo "rxe0: $(cat /sys/class/infiniband/rxe0/ports/1/state) gid[${GID_INDEX:-none}]" \
    "$(cat /sys/class/infiniband/rxe0/ports/1/gid_attrs/types/"${GID_INDEX:-0}" 2>/dev/null)"
  [ -n "$GID_INDEX" ] && [ -e /dev/infiniband/rdma_cm ]
}

lio_modules() {
  modprobe target_core_mod && modprobe iscsi_target_mod && modprobe target_core_file && modprobe ib_isert
}

# lio_configfs IP [ISER=1|0] — LIO target $IQN: 64 MiB sparse fileio LUN 0, portal IP:3260 with iSER on
# (iSCSI/TCP keeps working on the same portal), demo mode without authentication. Straight configfs:
# targetcli would need a D-Bus system bus and ~18 s of python start-up under TCG.
lio_configfs() {
  local ip=$1 iser=${2:-1}
  local cfg=/sys/kernel/config/target tpg=/sys/kernel/config/target/iscsi/$IQN/tpgt_1
  lio_modules || return 1
  truncate -s 64M /tmp/lun0.img
  mkdir -p "$cfg/core/fileio_0/lun0" &&
    echo "fd_dev_name=/tmp/lun0.img,fd_dev_size=67108864" >"$cfg/core/fileio_0/lun0/control" &&
    echo 1 >"$cfg/core/fileio_0/lun0/enable" &&
    mkdir -p "$tpg/lun/lun_0" &&
    ln -s "$cfg/core/fileio_0/lun0" "$tpg/lun/lun_0/lun0" &&
    mkdir "$tpg/np/$ip:3260" &&
    { [ "$iser" = 0 ] || echo 1 >"$tpg/np/$ip:3260/iser"; } &&
    echo 0 >"$tpg/attrib/authentication" &&
    echo 1 >"$tpg/attrib/generate_node_acls" &&
    echo 0 >"$tpg/attrib/demo_mode_write_protect" &&
    echo 1 >"$tpg/attrib/cache_dynamic_acls" &&
    echo 1 >"$tpg/enable" || return 1
  echo "LIO: $IQN on $ip:3260 iser=$(cat "$tpg/np/$ip:3260/iser")"
}

# iscsi_login IP IFACE — open-iscsi login (IFACE: iser | default); sets DEV to the attached disk (sdX).
iscsi_login() {
  local ip=$1 iface=$2 i
  modprobe sd_mod && modprobe sg # no udev: load the disk driver by hand or no /dev/sdX appears
  if ! pgrep -x iscsid >/dev/null; then
    iscsid || return 1
    sleep 0.5 # iscsid opens its control socket after forking
  fi
  timeout 30 iscsiadm -m discovery -t st -p "$ip:3260" || return 1
  timeout 10 iscsiadm -m node -T "$IQN" -p "$ip:3260" -I "$iface" >/dev/null 2>&1 ||
    timeout 30 iscsiadm -m node -T "$IQN" -p "$ip:3260" -I "$iface" -o new >/dev/null || return 1
  timeout 60 iscsiadm -m node -T "$IQN" -p "$ip:3260" -I "$iface" --login
  case $? in 0 | 15) ;; *) return 1 ;; esac # 15: already logged in
  DEV=
  for i in $(seq 100); do
    DEV=$(timeout 10 iscsiadm -m session -P 3 2>/dev/null | awk '/Attached scsi disk/{print $4; exit}')
    [ -n "$DEV" ] && [ -b "/dev/$DEV" ] && break
    sleep 0.1
  done
  timeout 10 iscsiadm -m session -P 3 | grep -E 'Iface Transport|Attached scsi disk|iSCSI Connection State'
  [ -n "$DEV" ] && [ -b "/dev/$DEV" ]
}

iscsi_logout() { timeout 30 iscsiadm -m node -T "$IQN" -p "$1:3260" -I "$2" --logout; }

# dd_verify — 16 MiB of random bytes written O_DIRECT to /dev/$DEV, read back O_DIRECT, compared.
dd_verify() {
  head -c 16M /dev/urandom >/tmp/pattern
  timeout 120 dd if=/tmp/pattern of="/dev/$DEV" bs=1M oflag=direct conv=fsync status=none || return 1
  echo 3 >/proc/sys/vm/drop_caches
  timeout 120 dd if="/dev/$DEV" of=/tmp/readback bs=1M count=16 iflag=direct status=none || return 1
  cmp /tmp/pattern /tmp/readback && echo "dd_verify: 16 MiB read back identical"
}

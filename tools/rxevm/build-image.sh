#!/usr/bin/env bash
# build-image.sh — build (once, then cached) a QEMU-bootable Debian bookworm guest with a stock
# Debian kernel, soft-RoCE (rdma_rxe), LIO + ib_isert, ib_iser + open-iscsi, rdma-core tools and the
# host's `node`. It is how real verbs reach our tests on machines without RDMA (see rxe-vm.md).
#
# Output in $RXEVM_DIR (default /var/tmp/rxevm; never inside the repo):
#   vmlinuz, initrd.cpio.gz, rootfs.img (raw ext4), vm.env (KV=...; sourced by boot.sh)
# Stages leave stamps in $RXEVM_DIR/stamps and are skipped when done; the ext4 image is rebuilt only
# when its inputs (guest scripts, node, module list) change. RXEVM_REBUILD=1 starts over.
# Knobs: KPKG=linux-image-6.1.0-NN-amd64 pins the kernel; MIRROR=...; RXEVM_WITH_NODE=0 leaves node out.
# Network: only Debian's package mirrors, through apt-get / debootstrap.
set -euo pipefail

RXEVM_DIR=${RXEVM_DIR:-/var/tmp/rxevm}
SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GUEST_PKGS=(rdma-core ibverbs-utils ibverbs-providers rdmacm-utils perftest infiniband-diags
  targetcli-fb open-iscsi libiscsi-bin sg3-utils kmod iproute2 procps iputils-ping util-linux
  e2fsprogs python3 dbus)

# Modules the guest may load, plus their dependency closure (computed with modprobe -D).
WANT_MODS=(rdma_rxe ib_uverbs rdma_ucm ib_umad ib_isert ib_iser iscsi_target_mod target_core_mod
  target_core_file target_core_iblock target_core_user tcm_loop iscsi_tcp sd_mod sg scsi_debug
  virtio_net virtio_blk virtio_pci virtio_rng ext4 9p 9pnet_virtio loop null_blk configfs veth tun
  bridge crc32c_generic crc32c_intel)
INITRD_MODS=(virtio_pci virtio_blk ext4 crc32c_generic crc32c_intel)

t_start=$(date +%s)
log() { printf '[build-image +%3ss] %s\n' $(($(date +%s) - t_start)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
stamped() { [ -e "$RXEVM_DIR/stamps/$1" ]; }
stamp() { touch "$RXEVM_DIR/stamps/$1"; }
# timed NAME CMD...: runs CMD and logs how long it took
timed() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s.%N)
  "$@" || rc=$?
  log "$(awk -v n="$name" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%s: %.1fs", n, b-a}')"
  return $rc
}

mkdir -p "$RXEVM_DIR/stamps"
# Two builds at once would trample each other's rootfs: serialise on a lock (bounded wait).
exec 9>"$RXEVM_DIR/.build.lock"
flock -w 900 9 || die "another build-image.sh holds $RXEVM_DIR/.build.lock"
if [ "${RXEVM_REBUILD:-0}" = 1 ]; then rm -f "$RXEVM_DIR"/stamps/*; fi

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

host_tools() {
  local need=()
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v cpio >/dev/null || need+=(cpio)
  command -v mke2fs >/dev/null || command -v /usr/sbin/mke2fs >/dev/null || need+=(e2fsprogs)
  command -v depmod >/dev/null || command -v /usr/sbin/depmod >/dev/null || need+=(kmod)
  command -v flock >/dev/null || need+=(util-linux)
  # The initramfs and the guest need a static busybox (the dynamic one would need its libc in the initramfs).
  [ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' || need+=(busybox-static)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "need root to install ${need[*]}"
    log "apt-get install ${need[*]}"
    apt_install "${need[@]}"
  fi
}

fetch_kernel() {
  local kpkg kv
  [ -n "$(apt-cache depends linux-image-amd64 2>/dev/null)" ] || timeout 300 apt-get update -qq
  kpkg=${KPKG:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')}
  [ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a versioned package"
  rm -rf "$RXEVM_DIR/debs" "$RXEVM_DIR/kernel"
  mkdir -p "$RXEVM_DIR/debs" "$RXEVM_DIR/kernel"
  chmod 777 "$RXEVM_DIR/debs" # apt-get download drops privileges to _apt
  (cd "$RXEVM_DIR/debs" && timeout 600 apt-get download -q "$kpkg" >/dev/null) || die "apt-get download $kpkg"
  # Extract only: nothing is installed into the host's /boot or /lib/modules.
  dpkg-deb -x "$RXEVM_DIR"/debs/"$kpkg"_*.deb "$RXEVM_DIR/kernel"
  kv=$(ls "$RXEVM_DIR/kernel/lib/modules")
  [ "$(echo "$kv" | wc -l)" = 1 ] || die "expected one kernel in $kpkg, found: $kv"
  for opt in RDMA_RXE INFINIBAND_USER_ACCESS INFINIBAND_ISER INFINIBAND_ISERT ISCSI_TARGET; do
    grep -qE "^CONFIG_$opt=[ym]" "$RXEVM_DIR/kernel/boot/config-$kv" || die "$kpkg lacks CONFIG_$opt"
  done
  timeout 300 depmod -b "$RXEVM_DIR/kernel" "$kv"
  cp "$RXEVM_DIR/kernel/boot/vmlinuz-$kv" "$RXEVM_DIR/vmlinuz"
  echo "KV=$kv" >"$RXEVM_DIR/vm.env"
}

debootstrap_rootfs() {
  local pkgs
  pkgs=$(IFS=,; echo "${GUEST_PKGS[*]}")
  rm -rf "$RXEVM_DIR/rootfs" "$RXEVM_DIR/rootfs.partial"
  if ! timeout 1200 debootstrap --variant=minbase --include="$pkgs" "$SUITE" "$RXEVM_DIR/rootfs.partial" "$MIRROR" \
    >"$RXEVM_DIR/debootstrap.log" 2>&1; then
    tail -20 "$RXEVM_DIR/debootstrap.log" >&2
    die "debootstrap failed (log: $RXEVM_DIR/debootstrap.log)"
  fi
  rm -rf "$RXEVM_DIR/rootfs.partial/var/cache/apt/archives"/*.deb
  mv "$RXEVM_DIR/rootfs.partial" "$RXEVM_DIR/rootfs"
}

# The .ko paths (relative to lib/modules/$KV) of the modules named in "$@" and everything they depend on.
module_closure() {
  local m
  for m in "$@"; do
    modprobe -d "$RXEVM_DIR/kernel" -S "$KV" --show-depends "$m" 2>/dev/null || log "warning: no module $m"
  done | awk '$1 == "insmod" {print $2}' | sed "s|^.*/lib/modules/$KV/||" | awk '!seen[$0]++'
}

install_modules() {
  local kmod=$RXEVM_DIR/kernel/lib/modules/$KV dst=$R/lib/modules/$KV f
  rm -rf "$R/lib/modules"
  mkdir -p "$dst"
  cp "$kmod"/modules.order "$kmod"/modules.builtin "$kmod"/modules.builtin.modinfo "$dst/"
  {
    module_closure "${WANT_MODS[@]}"
    # Helpers loaded on demand by alias (crypto for CRC32C digests, RDMA and target core pieces).
    (cd "$kmod" && find kernel/crypto kernel/lib kernel/arch/x86/crypto kernel/drivers/infiniband \
      kernel/drivers/target -name '*.ko*')
  } | sort -u | while read -r f; do
    mkdir -p "$dst/$(dirname "$f")"
    cp "$kmod/$f" "$dst/$f"
  done
  depmod -b "$R" "$KV"
}

customise_rootfs() {
  install_modules
  cp /bin/busybox "$R/usr/local/bin/busybox"
  rm -f "$R/usr/local/bin/node"
  if [ "${RXEVM_WITH_NODE:-1}" = 1 ]; then
    # bookworm's nodejs is v18; the host's (dynamically linked against the same glibc 2.36) runs as is.
    cp "$(readlink -f "$(command -v node)")" "$R/usr/local/bin/node"
  fi
  echo rxevm >"$R/etc/hostname"
  printf '127.0.0.1 localhost\n' >"$R/etc/hosts"
  echo "InitiatorName=iqn.2024-01.test.rxevm:initiator" >"$R/etc/iscsi/initiatorname.iscsi"
  # Short open-iscsi timeouts: a failed login must not outlast a test's bound.
  sed -i -e 's/^node.session.timeo.replacement_timeout = .*/node.session.timeo.replacement_timeout = 10/' \
    -e 's/^node.conn\[0\].timeo.login_timeout = .*/node.conn[0].timeo.login_timeout = 10/' \
    "$R/etc/iscsi/iscsid.conf"
  mkdir -p "$R/opt/rxevm" "$R/mnt/host" "$R/etc/target"
  install -m 0755 "$HERE/guest/init" "$R/sbin/rxevm-init"
  install -m 0755 "$HERE"/guest/*.sh "$R/opt/rxevm/"
}

inputs_digest() {
  {
    echo "$KV ${WANT_MODS[*]} ${RXEVM_WITH_NODE:-1}"
    cat "$HERE/guest/init" "$HERE"/guest/*.sh "$HERE/build-image.sh"
    if [ "${RXEVM_WITH_NODE:-1}" = 1 ]; then node --version; fi
  } | sha256sum | cut -c1-16
}

make_ext4() {
  local mb
  mb=$(du -sm "$R" | cut -f1)
  mb=$((mb + mb / 2 + 256))
  rm -f "$RXEVM_DIR/rootfs.img.partial"
  # mke2fs -d fills the filesystem from a directory: no loop mount needed.
  timeout 600 mke2fs -q -t ext4 -L rxevm-root -E root_owner=0:0 -d "$R" "$RXEVM_DIR/rootfs.img.partial" "${mb}M"
  mv "$RXEVM_DIR/rootfs.img.partial" "$RXEVM_DIR/rootfs.img"
}

make_initramfs() {
  local dir=$RXEVM_DIR/initrd ko
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,dev,proc,sys,newroot,lib/modules}
  cp /bin/busybox "$dir/bin/busybox"
  : >"$dir/lib/modules/order"
  for ko in $(module_closure "${INITRD_MODS[@]}"); do
    cp "$RXEVM_DIR/kernel/lib/modules/$KV/$ko" "$dir/lib/modules/"
    echo "/lib/modules/$(basename "$ko")" >>"$dir/lib/modules/order"
  done
  # Stage one: load the disk and filesystem drivers, mount /dev/vda, hand over to the real init.
  cat >"$dir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod "$m" 2>/dev/null; done
n=0; while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "rxevm: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys; mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/rxevm-init
EOF
  chmod +x "$dir/init"
  (cd "$dir" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$RXEVM_DIR/initrd.cpio.gz.partial"
  mv "$RXEVM_DIR/initrd.cpio.gz.partial" "$RXEVM_DIR/initrd.cpio.gz"
}

timed host_tools host_tools
if ! stamped kernel; then timed fetch_kernel fetch_kernel; stamp kernel; fi
# shellcheck source=/dev/null
. "$RXEVM_DIR/vm.env"
if ! stamped rootfs; then timed debootstrap debootstrap_rootfs; stamp rootfs; fi
R=$RXEVM_DIR/rootfs
digest=$(inputs_digest)
if [ "$(cat "$RXEVM_DIR/stamps/image" 2>/dev/null)" != "$digest" ] || [ ! -e "$RXEVM_DIR/rootfs.img" ] ||
  [ ! -e "$RXEVM_DIR/initrd.cpio.gz" ]; then
  rm -f "$RXEVM_DIR/stamps/image"
  timed customise customise_rootfs
  timed ext4-image make_ext4
  timed initramfs make_initramfs
  echo "$digest" >"$RXEVM_DIR/stamps/image"
else
  log "image up to date ($digest)"
fi
log "done: KV=$KV rootfs.img $(du -sh "$RXEVM_DIR/rootfs.img" | cut -f1) allocated"

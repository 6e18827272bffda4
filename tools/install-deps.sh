#!/usr/bin/env bash
# Installs the Debian packages the tests and tools use. Idempotent; run as root (CI is root).
#   tools/install-deps.sh            everything the host test suite needs
# Each package is there for a reason:
#   tshark         independent decoder of our iSCSI / RoCEv2 / iSER encoders (tests assert on its JSON)
#   tgt            a real iSCSI target our initiator is tested against
#   libiscsi-bin   a real iSCSI initiator + iscsi-test-cu, tested against our target
#   python3-scapy  independent RoCEv2 ICRC checker
#   libibverbs-dev librdmacm-dev   headers for the native verbs addon (built even where no RDMA device exists)
#   libnbd-bin qemu-utils   real NBD clients (nbdinfo, nbdcopy, qemu-img, qemu-io) for the LUN-as-block-device tests
set -euo pipefail
pkgs=(tshark tgt libiscsi-bin python3-scapy libibverbs-dev librdmacm-dev libnbd-bin qemu-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${pkgs[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
timeout 300 apt-get update -qq
timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"

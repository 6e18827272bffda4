#!/usr/bin/env bash
# netns-tap.sh up NS [TAP...] | down NS
# A private Ethernet segment for guests: network namespace NS (created here) with bridge br0 at 10.99.0.1/24
# and one tap device per guest enslaved to it. NS has no default route and no link to any other namespace, so
# the guests reach only br0's address and each other. Idempotent; needs root.
set -euo pipefail
cmd=${1:?usage: netns-tap.sh up NS [TAP...] | down NS}
ns=${2:?network namespace name}
shift 2
in_ns() { timeout 10 ip -n "$ns" "$@"; }
case $cmd in
  up)
    ip netns list | awk '{print $1}' | grep -qx "$ns" || timeout 10 ip netns add "$ns"
    in_ns link set lo up
    if ! in_ns link show br0 >/dev/null 2>&1; then
      in_ns link add br0 type bridge
      in_ns addr add 10.99.0.1/24 dev br0
    fi
    in_ns link set br0 up
    for tap in "${@:-rxtap0}"; do
      in_ns link show "$tap" >/dev/null 2>&1 || in_ns tuntap add dev "$tap" mode tap
      in_ns link set "$tap" master br0 up
    done
    ;;
  down)
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then timeout 10 ip netns del "$ns"; fi
    ;;
  *)
    echo "usage: netns-tap.sh up NS [TAP...] | down NS" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A private tgt iSCSI target on loopback, for people and CI (the tests use test/support/peers/tgt.ts instead).
#
#   tools/peers/tgt.sh start [DIR] [--port N] [--size BYTES] [--iqn IQN] [--chap USER:SECRET] [--mutual-chap USER:SECRET]
#   tools/peers/tgt.sh status DIR
#   tools/peers/tgt.sh stop DIR
#
# start creates DIR (default: a new /tmp/iser-tgt-sh.XXXXXX), runs `tgtd -f` in it with its own management socket
# (TGT_IPC_SOCKET=DIR/socket, so it never touches /var/run/tgtd or another tgtd), on 127.0.0.1:PORT (default: a
# free port), with one sparse file-backed LUN 1 (default 64 MiB), ACL 127.0.0.1 and optional CHAP accounts.
# It prints dir=, pid=, port=, iqn=, url= lines (also written to DIR/instance.env) and returns once tgtd serves.
# stop kills that tgtd by the pid in DIR/tgtd.pid (SIGINT, then SIGKILL; tgtd ignores SIGTERM) and removes DIR.
set -euo pipefail

MARKER=.iser-tgt-instance
die() {
  echo "tgt.sh: $*" >&2
  exit 1
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# tgtadm against this instance only.
adm() {
  TGT_IPC_SOCKET="$dir/socket" timeout -s KILL 10 tgtadm --lld iscsi "$@"
}

# True while $pid is a live tgtd (guards against a recycled pid).
alive() {
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == "tgtd "* ]]
}

cmd_start() {
  dir="" port="" size=$((64 * 1024 * 1024)) iqn="iqn.2024-01.org.iser-test:tgt-sh" chap="" mutual=""
  while [ $# -gt 0 ]; do
    case "$1" in
    --port) port="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --iqn) iqn="$2"; shift 2 ;;
    --chap) chap="$2"; shift 2 ;;
    --mutual-chap) mutual="$2"; shift 2 ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$dir" ] || die "one DIR only"; dir="$1"; shift ;;
    esac
  done
  [ -n "$mutual" ] && [ -z "$chap" ] && die "--mutual-chap needs --chap"
  if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/iser-tgt-sh.XXXXXX)
  else
    [ -e "$dir" ] && die "$dir exists: give a new directory (the script creates it)"
    mkdir -p "$dir"
  fi
  dir=$(cd "$dir" && pwd)
  touch "$dir/$MARKER"
  [ ${#dir} -le 90 ] || die "$dir is too long for an AF_UNIX socket path"
  [ -n "$port" ] || port=$(free_port)

  # Job control on, so the background tgtd does not inherit an ignored SIGINT (stop relies on SIGINT).
  set -m
  TGT_IPC_SOCKET="$dir/socket" tgtd -f --iscsi "portal=127.0.0.1:$port" >"$dir/tgtd.log" 2>&1 &
  pid=$!
  set +m
  echo "$pid" >"$dir/tgtd.pid"

  # Ready once tgtd lists our portal; 100 polls of 0.1 s.
  local ready=""
  for _ in $(seq 1 100); do
    alive || { cat "$dir/tgtd.log" >&2; die "tgtd exited"; }
    if grep -q 'failed to create/bind to portal' "$dir/tgtd.log"; then
      kill -KILL "$pid" 2>/dev/null || true
      die "tgtd could not bind 127.0.0.1:$port (in use?)"
    fi
    if adm --mode portal --op show 2>/dev/null | grep -q "Portal: 127.0.0.1:$port,"; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || { kill -KILL "$pid" 2>/dev/null || true; die "tgtd not ready after 10 s"; }

  truncate -s "$size" "$dir/lun1.img"
  adm --mode target --op new --tid 1 --targetname "$iqn"
  adm --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$dir/lun1.img"
  adm --mode target --op bind --tid 1 --initiator-address 127.0.0.1
  local userinfo="" query=""
  if [ -n "$chap" ]; then
    adm --mode account --op new --user "${chap%%:*}" --password "${chap#*:}"
    adm --mode account --op bind --tid 1 --user "${chap%%:*}"
    userinfo="${chap%%:*}%${chap#*:}@"
  fi
  if [ -n "$mutual" ]; then
    adm --mode account --op new --user "${mutual%%:*}" --password "${mutual#*:}"
    adm --mode account --op bind --tid 1 --user "${mutual%%:*}" --outgoing
    query="?target_user=${mutual%%:*}&target_password=${mutual#*:}"
  fi
  {
    echo "dir=$dir"
    echo "pid=$pid"
    echo "port=$port"
    echo "iqn=$iqn"
    echo "url=iscsi://${userinfo}127.0.0.1:$port/$iqn/1$query"
    echo "TGT_IPC_SOCKET=$dir/socket"
  } | tee "$dir/instance.env"
}

cmd_status() {
  dir="${1:?DIR}"
  [ -f "$dir/$MARKER" ] || die "$dir is not a tgt.sh instance"
  pid=$(cat "$dir/tgtd.pid")
  if alive; then
    echo "running pid=$pid"
    adm --mode target --op show
  else
    echo "not running (pid $pid)"
    return 1
  fi
}

cmd_stop() {
  dir="${1:?DIR}"
  [ -f "$dir/$MARKER" ] || die "$dir is not a tgt.sh instance"
  pid=$(cat "$dir/tgtd.pid")
  if alive; then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do alive || break; sleep 0.1; done
    if alive; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do alive || break; sleep 0.1; done
    fi
    alive && die "tgtd $pid did not exit"
  fi
  rm -rf "$dir"
  echo "stopped pid=$pid"
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
status) shift; cmd_status "$@" ;;
stop) shift; cmd_stop "$@" ;;
*) die "usage: tgt.sh start [DIR] [--port N] [--size BYTES] [--iqn IQN] [--chap U:S] [--mutual-chap U:S] | status DIR | stop DIR" ;;
esac

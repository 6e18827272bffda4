#!/usr/bin/env bash
# The session suite's long run: 1 GiB of random-size reads and writes (1 block to 1 MiB, queue depth 16) through
# our initiator against a private tgtd on loopback (256 MiB file-backed LUN), every read checked byte for byte
# against an in-memory model, then the whole LUN read back and checked; and 400 operations at queue depth 32 with
# the connection cut every 25 of them. Prints ops, MiB, seconds and MiB/s.
#
#   tools/interop/long-tgt.sh [--ours | --iser-sim]
#     --ours      the same run against our own target over TCP instead of tgt
#     --iser-sim  the same run against our own target over iSER on the simulated fabric (virtual time)
#
# ISER_SEED=... changes the workload's seed (the default run uses a fixed one).
set -euo pipefail
cd "$(dirname "$0")/../.."
file=test/session/tcp-tgt.test.ts
case "${1:-}" in
  "") ;;
  --ours) file=test/session/tcp-ours.test.ts ;;
  --iser-sim) file=test/session/iser-sim-ours.test.ts ;;
  *)
    echo "usage: $0 [--ours | --iser-sim]" >&2
    exit 2
    ;;
esac
export ISER_LONG_TESTS=1
# The whole run (tgtd start, 1 GiB, read-back, stop) is bounded; tgtd is stopped by the test harness by its pid.
exec timeout -s KILL 3900 npx vitest run "$file" -t 'long run'

#!/usr/bin/env bash
# The iscsi-test-cu baseline of tgt (see tools/peers/test-cu-baseline.ts):
#   tools/peers/test-cu-baseline.sh [--no-dataloss] [--junit PATH] [--tests PATTERN]
# Starts a private tgtd on loopback, runs iscsi-test-cu (about 20 s for ALL), prints the counts, stops tgtd.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec timeout -s KILL 900 npx tsx tools/peers/test-cu-baseline.ts "$@"

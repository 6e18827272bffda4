#!/usr/bin/env bash
# run-native-tests.sh — the native addon's tests on a real verbs device (`npm run test:rxe`):
# build the addon on the host, build (or reuse) the rxe guest image, boot it with a bundle of the repo and
# node_modules, run tools/rxevm/guest/native-test.sh inside, and exit with its code. Prints step times.
# Knobs: RXEVM_DIR (image cache, default /var/tmp/rxevm), RXEVM_TIMEOUT (guest hard limit, default 900 s),
# NATIVE_TEST_FILTER (vitest file filters passed through, e.g. "test/native/lio-isert"; default all of test/native),
# NATIVE_TEST_TIMEOUT (vitest's hard limit inside the guest, default 780 s).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export RXEVM_DIR=${RXEVM_DIR:-/var/tmp/rxevm}
# A stage per run: several engineers may run this at once, and each run's share must stay its own.
mkdir -p "$RXEVM_DIR"
STAGE=${RXEVM_STAGE:-$(mktemp -d "$RXEVM_DIR/native-test.XXXXXX")}
trap 'rm -f "$STAGE/bundle.tar"' EXIT # 95 MB; results.json and the console log stay
t_start=$(date +%s)
timed() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s.%N)
  "$@" || rc=$?
  awk -v n="$name" -v a="$t0" -v b="$(date +%s.%N)" -v r="$rc" \
    'BEGIN{printf "[run-native-tests] %-12s %6.1fs%s\n", n, b-a, (r == 0 ? "" : " (rc=" r ")")}' >&2
  return $rc
}

timed build-native bash "$REPO/native/build.sh"
[ -f "$REPO/native/build/Release/iser_verbs.node" ] || {
  echo "run-native-tests: the addon was not built (see above)" >&2
  exit 1
}
timed build-image bash "$REPO/tools/rxevm/build-image.sh"

stage() {
  mkdir -p "$STAGE"
  rm -f "$STAGE/results.json"
  cp "$REPO/tools/rxevm/guest/"*.sh "$STAGE/"
  # Knobs for the guest: the kernel command line cannot carry them, the share can.
  {
    printf 'NATIVE_TEST_FILTER=%q\n' "${NATIVE_TEST_FILTER:-test/native}"
    printf 'NATIVE_TEST_TIMEOUT=%q\n' "${NATIVE_TEST_TIMEOUT:-780}"
  } >"$STAGE/env.sh"
  # Every source folder a guest test may import (the guest runs .ts through vitest, no build), the built
  # addon, and node_modules minus the tools only the host's lint/docs/typecheck use.
  (cd "$REPO" && tar -cf "$STAGE/bundle.tar" \
    --exclude='node_modules/typescript' --exclude='node_modules/typedoc' --exclude='node_modules/@shikijs' \
    --exclude='node_modules/eslint*' --exclude='node_modules/@eslint' --exclude='node_modules/@typescript-eslint' \
    --exclude='node_modules/prettier' --exclude='node_modules/dependency-cruiser' --exclude='node_modules/.cache' \
    package.json tsconfig.json vitest.config.ts protocol transports sim backends server nbd config conformance cli \
    native/*.ts native/build/Release/iser_verbs.node test node_modules)
}
timed stage stage
echo "[run-native-tests] bundle $(du -h "$STAGE/bundle.tar" | cut -f1)" >&2

rc=0
log=${RXEVM_LOG:-$STAGE/console.log}
RXEVM_SHARE=$STAGE RXEVM_RUN=native-test.sh RXEVM_TIMEOUT=${RXEVM_TIMEOUT:-900} RXEVM_LOG=$log \
  timed guest bash "$REPO/tools/rxevm/boot.sh" || rc=$?
# The guest's own verdict: any failed test fails the run even if an exit code got lost on the way.
if ! grep -qE '^native-test: [0-9]+ passed, 0 failed' "$log"; then
  [ "$rc" != 0 ] || rc=1
fi
echo "[run-native-tests] total $(($(date +%s) - t_start))s, guest rc=$rc (console log $log, report $STAGE/results.json)" >&2
exit $rc

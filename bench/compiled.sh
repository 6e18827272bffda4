#!/usr/bin/env bash
# Runs a benchmark on JavaScript compiled ahead of time instead of under tsx, whose transform wraps every
# closure in __name() and costs our side 10-15% per command. esbuild transpiles every module one to one (no
# bundling, no name-keeping wrappers, as `npm run build` would emit them) into a temp dir that is removed after.
#
#   bench/compiled.sh tcp-target --seconds 2 --rounds 3
#   bench/compiled.sh run --seconds 2 --rounds 3        # all of them (run.ts starts the others compiled too)
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 BENCH [--seconds N] [--rounds N]   (BENCH: a file of bench/ without .ts)" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/iser-bench-js.XXXXXX")
trap 'rm -rf "$out"' EXIT
cd "$root"
mapfile -t files < <(find protocol transports sim native backends server nbd config conformance cli bench test/support \
  -name '*.ts' ! -name '*.test.ts' ! -name '*.d.ts' -type f)
npx --no-install esbuild "${files[@]}" --outdir="$out" --outbase=. --format=esm --platform=node --target=node20 \
  --log-level=warning
ln -s "$root/node_modules" "$out/node_modules"
echo '{"type":"module"}' >"$out/package.json"
name=$1
shift
node "$out/bench/$name.js" "$@"

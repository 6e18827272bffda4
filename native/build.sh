#!/usr/bin/env bash
# native/build.sh — builds native/build/Release/iser_verbs.node with node-gyp, offline (headers from the
# installed node, node-gyp bundled with npm). Where rdma-core's headers are missing it builds nothing, says why
# and exits 0: the TypeScript side then reports "addon not built" from probe().
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=$(date +%s)

if ! command -v pkg-config >/dev/null || ! pkg-config --exists libibverbs librdmacm; then
  echo "native: not built: libibverbs/librdmacm development files missing (apt-get install libibverbs-dev librdmacm-dev pkg-config)"
  exit 0
fi

node_gyp=${NODE_GYP:-}
if [ -z "$node_gyp" ]; then
  for candidate in "$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js" \
    "$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"; do
    if [ -f "$candidate" ]; then node_gyp=$candidate; break; fi
  done
fi
[ -n "$node_gyp" ] || { echo "native: node-gyp not found (it ships with npm; set NODE_GYP=/path/to/node-gyp.js)" >&2; exit 1; }

# Headers of the running node, so node-gyp never tries to download them.
nodedir=${NODEDIR:-$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)}
[ -f "$nodedir/include/node/node_api.h" ] || { echo "native: no node headers under $nodedir/include/node (set NODEDIR)" >&2; exit 1; }

cd "$HERE"
gyp=(node "$node_gyp" --nodedir="$nodedir" --loglevel=warn)
[ -f build/Makefile ] && [ build/Makefile -nt binding.gyp ] || timeout 300 "${gyp[@]}" configure
timeout 600 "${gyp[@]}" build --jobs "$(nproc)"
echo "native: built $HERE/build/Release/iser_verbs.node in $(($(date +%s) - t0)) s"

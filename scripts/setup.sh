#!/usr/bin/env bash
# Brings a fresh Debian 12 + Node 20 machine to a state where `npm test` / `npm start`
# can run: system packages (apt, when missing and root), npm packages (npm ci), the native
# addon (node-gyp) and the TypeScript build. Each step is skipped when already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  # --ignore-scripts: our own install script (node-gyp-build) runs below, once, with output.
  npm ci --ignore-scripts --no-audit --no-fund
fi

newest_native=$(find native binding.gyp -type f -newer build/Release/connect_rdma.node 2>/dev/null | head -n1 || true)
if [ ! -f build/Release/connect_rdma.node ] || [ -n "$newest_native" ]; then
  echo "[setup] building the native addon"
  npx --no-install node-gyp rebuild --nodedir="${NODEDIR:-/usr}" --jobs=2 >/tmp/connect-rdma-gyp.log 2>&1 \
    || { tail -n 40 /tmp/connect-rdma-gyp.log; echo "[setup] native build failed (full log: /tmp/connect-rdma-gyp.log)"; exit 1; }
fi

newest_ts=$(find src tsconfig.json -type f -newer dist/.built 2>/dev/null | head -n1 || true)
if [ ! -f dist/.built ] || [ -n "$newest_ts" ]; then
  echo "[setup] compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
  touch dist/.built
fi

#!/usr/bin/env bash
# Runs before `npm pack` / `npm publish` (package.json "prepack"): the tarball must carry
# compiled code that matches the sources. Compiles the TypeScript when a source is newer
# than dist/, and brings prebuilds/<platform>-<arch>/connect-rdma.node up to date:
#   - current already (newer than every file of native/ and binding.gyp): kept;
#   - build/Release/connect_rdma.node current and a plain release build (no sanitizer):
#     copied and stripped — prebuildify would compile the same sources with the same
#     node-gyp, headers and flags, and rebuilding would delete build/ under running tests;
#   - otherwise: npm run prebuild (prebuildify --napi --strip).
set -euo pipefail
cd "$(dirname "$0")/.."

newest_ts=$(find src tsconfig.json -type f -newer dist/.built 2>/dev/null | head -n1 || true)
if [ ! -f dist/.built ] || [ -n "$newest_ts" ]; then
  echo "[prepack] compiling TypeScript" >&2
  npx --no-install tsc -p tsconfig.json >&2
  touch dist/.built
fi

tuple=$(node -p 'process.platform + "-" + process.arch')
prebuild="prebuilds/$tuple/connect-rdma.node"
release=build/Release/connect_rdma.node
stale() { [ ! -f "$1" ] || [ -n "$(find native binding.gyp -type f -newer "$1" 2>/dev/null | head -n1)" ]; }

if ! stale "$prebuild"; then
  echo "[prepack] $prebuild is current" >&2
elif ! stale "$release" && ! ldd "$release" 2>/dev/null | grep -q 'libasan\|libubsan\|libtsan'; then
  echo "[prepack] $prebuild <- $release (current release build, stripped)" >&2
  mkdir -p "prebuilds/$tuple"
  cp "$release" "$prebuild.tmp"
  strip --strip-all "$prebuild.tmp" 2>/dev/null || true
  mv "$prebuild.tmp" "$prebuild"
else
  echo "[prepack] building $prebuild (npm run prebuild)" >&2
  npm run prebuild >&2
fi

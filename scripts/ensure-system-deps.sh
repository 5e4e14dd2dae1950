#!/usr/bin/env bash
# Installs the Debian packages the native addon builds against, when they are missing.
# As root it uses apt-get; otherwise it stops and names the exact packages to install.
# --check: only report (exit 1 naming the missing packages and the apt-get line, never
# install) — what the package's install script (scripts/install.js) runs before a
# source build. Without dpkg-query (not Debian/Ubuntu) --check cannot tell: exit 0.
set -euo pipefail
packages=(liburing-dev libibverbs-dev librdmacm-dev ibverbs-providers g++ make python3 pkg-config)
check_only=0
[ "${1:-}" = "--check" ] && check_only=1
if ! command -v dpkg-query >/dev/null 2>&1; then
  if [ "$check_only" -eq 1 ]; then
    echo "connect-rdma: cannot check system packages here (no dpkg-query); the source build needs (Debian names): ${packages[*]}" >&2
    exit 0
  fi
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$check_only" -eq 1 ] || [ "$(id -u)" -ne 0 ]; then
  echo "connect-rdma: missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "[setup] apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

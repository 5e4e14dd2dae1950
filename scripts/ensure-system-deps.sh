#!/usr/bin/env bash
# Installs the Debian packages the native addon builds against, when they are missing.
# As root it uses apt-get; otherwise it stops and names the exact packages to install.
set -euo pipefail
packages=(liburing-dev libibverbs-dev librdmacm-dev ibverbs-providers g++ make python3 pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "connect-rdma: missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "[setup] apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# The host packages the soft-RoCE guest needs: QEMU and the initramfs tools to boot it,
# and the RDMA userland the guest runs (its userland IS the host root, shared read-only).
# Installs the missing ones as root; otherwise names them and exits 77 ("cannot run here").
#   host-deps.sh          check, install when root
#   host-deps.sh --list   print the package list
#   host-deps.sh --missing  print the missing ones (one line), install nothing
set -euo pipefail

packages=(
  qemu-system-x86 busybox-static kmod cpio xz-utils zstd   # boot: qemu, initramfs, modules
  iproute2 ibverbs-providers ibverbs-utils rdmacm-utils perftest  # guest: ip/rdma, librxe, tools
)
[[ ${1:-} == --list ]] && { echo "${packages[*]}"; exit 0; }

# One dpkg-query for all of them (this runs before every guest boot).
installed=" $( { dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>/dev/null || true; } | awk '$1 == "installed" {printf "%s ", $2}') "
missing=()
for p in "${packages[@]}"; do
  [[ $installed == *" $p "* ]] || missing+=("$p")
done
[[ ${1:-} == --missing ]] && { echo "${missing[*]}"; exit 0; }
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "softroce: missing host packages: ${missing[*]}" >&2
  echo "softroce: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 77
fi
echo "softroce: apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt_install() {
  timeout 900 apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >"$log" 2>&1
}
# A stale package index is the usual reason an install fails: refresh once and retry.
if ! apt_install; then
  timeout 300 apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null || true
  apt_install || { tail -n 20 "$log" >&2; echo "softroce: apt-get install ${missing[*]} failed" >&2; exit 77; }
fi

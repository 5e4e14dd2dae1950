#!/usr/bin/env bash
# Builds the guest's boot files in the cache (outside the repository), once:
#   <cache>/<pkg>/root/            dpkg -x of Debian's kernel package (vmlinuz + all modules)
#   <cache>/<pkg>/vmlinux-<kver>   the uncompressed kernel, booted through its PVH entry point
#                                  (under TCG that skips real-mode setup + decompression: ~3 s)
#   <cache>/<pkg>/initramfs-<kver>.cpio.gz   busybox, the modules (9p, overlay, rdma_rxe...)
#                                  and guest-init.sh as /init
#   <cache>/<pkg>/boot.env         KERNEL= INITRD= KVER= MODDIR= for run-in-guest.sh
# Usage: prepare-kernel.sh CACHE_DIR   (SOFTROCE_KERNEL_PKG, default linux-image-amd64)
# Exit 77 when the kernel package cannot be fetched (no apt index, no network).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$1
pkg=${SOFTROCE_KERNEL_PKG:-linux-image-amd64}
kdir=$cache/$pkg
root=$kdir/root
mkdir -p "$kdir"
say() { [[ ${SOFTROCE_VERBOSE:-0} == 1 ]] && echo "softroce: $*" >&2 || true; }
unavailable() { echo "softroce: $*" >&2; exit 77; }

# Two harness runs may start at once (parallel test files, other shells): one builds.
exec 9>"$kdir.lock"
flock -w 900 9 || { echo "softroce: timed out waiting for $kdir.lock" >&2; exit 125; }

# ----------------------------------------------------------------- kernel package ---
fetch_kernel() {
  local image=$pkg dep tmp
  for _ in 1 2 3; do  # follow the meta-package down to the versioned image package
    dep=$(apt-cache depends "$image" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [[ -n $dep ]] && image=$dep || break
  done
  [[ $image =~ ^linux-image-[0-9] ]] || return 1
  say "downloading $image"
  tmp=$(mktemp -d "$kdir/deb.XXXXXX")
  if ! (cd "$tmp" && timeout 600 apt-get download -q "$image" >/dev/null 2>&1); then
    rm -rf "$tmp"; return 1
  fi
  rm -rf "$root" && mkdir -p "$root"
  dpkg -x "$tmp/${image}"_*.deb "$root"
  rm -rf "$tmp"
}
if ! compgen -G "$root/boot/vmlinuz-*" >/dev/null; then
  if ! fetch_kernel; then
    # A missing or stale package index is the usual cause; root can refresh it once.
    [[ $(id -u) -eq 0 ]] && timeout 300 apt-get update -q >/dev/null 2>&1 && fetch_kernel \
      || unavailable "cannot download Debian's kernel package $pkg (apt-get download failed; network or apt index?)"
  fi
fi
vmlinuz=$(ls "$root"/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
moddir=$root/lib/modules/$kver
# The .deb ships no modules.dep: modprobe (host side here, guest side later) needs it.
[[ -f $moddir/modules.dep.bin ]] || depmod -b "$root" "$kver"

# ------------------------------------------------- uncompressed vmlinux (PVH boot) ---
vmlinux=$kdir/vmlinux-$kver
if [[ ! -s $vmlinux ]]; then  # as linux/scripts/extract-vmlinux does
  say "extracting $vmlinux"
  for magic_cmd in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -qdc'; do
    magic=${magic_cmd%%:*} cmd=${magic_cmd#*:}
    off=$(set +o pipefail; LC_ALL=C grep -obUaP "$magic" "$vmlinuz" | head -n1 | cut -d: -f1)
    [[ -n $off ]] || continue
    (set +o pipefail; tail -c +$((off + 1)) "$vmlinuz" | $cmd >"$vmlinux.tmp" 2>/dev/null) || true
    if [[ $(head -c 4 "$vmlinux.tmp" | od -An -c | tr -d ' ') == 177ELF ]]; then
      mv "$vmlinux.tmp" "$vmlinux"; break
    fi
  done
  rm -f "$vmlinux.tmp"
fi
kernel=$vmlinuz
if [[ -s $vmlinux ]]; then kernel=$vmlinux; else say "could not extract vmlinux: booting the slower bzImage"; fi

# ---------------------------------------------------------------------- initramfs ---
initrd=$kdir/initramfs-$kver.cpio.gz
# 9p + overlay reach the host root; rdma_rxe (+ crc32 for its ICRC), the uverbs/rdma_cm
# user interfaces and veth are what stage 2 would otherwise modprobe over 9p.
early_modules=(virtio_pci 9pnet_virtio 9p overlay rdma_rxe crc32_generic ib_uverbs rdma_ucm veth)
stamp=$( { cat "$here/guest-init.sh"; sha256sum /bin/busybox; echo "$kver ${early_modules[*]}"; } | sha256sum | cut -c1-16)
if [[ ! -s $initrd || $(cat "$initrd.stamp" 2>/dev/null) != "$stamp" ]]; then
  say "building $initrd"
  ir=$(mktemp -d "$kdir/initramfs.XXXXXX")
  trap 'rm -rf "$ir"' EXIT
  mkdir -p "$ir"/{bin,dev,proc,sys,lower,rw,newroot,mods}
  cp /bin/busybox "$ir/bin/busybox"
  for applet in sh mount mkdir insmod cat poweroff sleep switch_root tr stty uname; do
    ln -s busybox "$ir/bin/$applet"
  done
  # Dependencies first, in modprobe's order; busybox insmod cannot read compressed modules.
  for m in "${early_modules[@]}"; do
    modprobe -d "$root" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    base=${ko##*/}
    case $base in
      *.ko.xz) xz -dc "$ko" >"$ir/mods/${base%.xz}"; base=${base%.xz} ;;
      *.ko.zst) zstd -qdc "$ko" >"$ir/mods/${base%.zst}"; base=${base%.zst} ;;
      *) cp "$ko" "$ir/mods/" ;;
    esac
    echo "$base" >>"$ir/mods/order"
  done
  install -m 0755 "$here/guest-init.sh" "$ir/init"
  (cd "$ir" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  echo "$stamp" >"$initrd.stamp"
fi

printf 'KERNEL=%q\nINITRD=%q\nKVER=%q\nMODDIR=%q\n' "$kernel" "$initrd" "$kver" "$(readlink -f "$moddir")" >"$kdir/boot.env.tmp"
mv "$kdir/boot.env.tmp" "$kdir/boot.env"

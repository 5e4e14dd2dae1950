#!/bin/sh
# Stage 1 of the soft-RoCE guest: /init of the initramfs (busybox). Loads the modules
# (9p, overlay, and rdma_rxe with its dependencies: from RAM, by a static binary, is the
# fast way under TCG), mounts the host root read-only over 9p under a tmpfs overlay,
# mounts the run directory (and --rw directories) read-write and the guest kernel's
# modules from the cache, and switch_roots into the host root to run stage 2
# ($RUN/stage2.sh, a copy of guest-setup.sh) on ttyS0. Kernel console: ttyS1.
# Kernel command line: sr.run=<run dir> sr.mods=<modules dir> [sr.rw=<dir>,<dir>...].
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() { echo "softroce-init: $*" >/dev/ttyS0; sleep 1; poweroff -f; }

RUN= RW= MODS=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    sr.run=*) RUN=${arg#sr.run=} ;;
    sr.rw=*) RW=${arg#sr.rw=} ;;
    sr.mods=*) MODS=${arg#sr.mods=} ;;
  esac
done
[ -n "$RUN" ] && [ -n "$MODS" ] || fail "sr.run= or sr.mods= missing on the kernel command line"

for m in $(cat /mods/order); do insmod "/mods/$m" || fail "insmod $m"; done
p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "ro,$p9,cache=loose" hostroot /lower || fail "mount host root"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "overlay"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
# The guest kernel's modules live in the cache, not in the host's /lib/modules.
kmods=/newroot/lib/modules/$(uname -r)
mkdir -p "$kmods" && mount -o bind "/newroot$MODS" "$kmods" || fail "bind $MODS"
echo softroce >/proc/sys/kernel/hostname
# cache=mmap: writes reach the host at once (exit code, stderr, kept logs).
mkdir -p "/newroot$RUN"
mount -t 9p -o "$p9,cache=mmap" srrun "/newroot$RUN" || fail "mount run dir $RUN"
i=0
for dir in $(echo "$RW" | tr ',' ' '); do
  mkdir -p "/newroot$dir"
  mount -t 9p -o "$p9,cache=mmap" "srrw$i" "/newroot$dir" || fail "mount rw dir $dir"
  i=$((i + 1))
done

# Command I/O goes over ttyS0 (QEMU's stdio). QEMU's host side already maps \n to
# \r\n when the host side is a terminal, so the guest must not add \r as well.
exec </dev/ttyS0 >/dev/ttyS0 2>&1
stty -onlcr 2>/dev/null
umount /proc /sys
# switch_root (not chroot) so that PID 1's root is the host root: module autoload
# (request_module -> /sbin/modprobe, e.g. rdma_rxe needs crypto "crc32") then works.
exec switch_root /newroot /bin/bash "$RUN/stage2.sh"

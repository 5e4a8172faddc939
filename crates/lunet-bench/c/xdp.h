/* The little of <linux/bpf.h> and <bpf/bpf_helpers.h> that the benchmark's XDP filters use,
 * defined here so that they build with nothing but `clang -O2 -target bpf -c` (no libbpf, no
 * kernel headers, no include path for the host's <asm/types.h>). */
#ifndef LUNET_BENCH_XDP_H
#define LUNET_BENCH_XDP_H

#include "common.h"

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };

/* `cond_break;` in a loop: leave the loop when the verifier's may_goto budget (8M jumps per
 * run, Linux 6.9) is spent. It lets the verifier accept a loop whose trip count it cannot
 * bound without walking every iteration, as `bpf_experimental.h`'s cond_break does; the
 * instruction is spelled in bytes because clang before 19 has no `may_goto` mnemonic.
 * lunet bounds its `while` loops with the same instruction. */
#define cond_break ({                                               \
	__label__ l_break, l_continue;                                  \
	/* code, regs, then off in the low half of a .long, imm 0 */    \
	asm volatile goto("1: .byte 0xe5; .byte 0;"                     \
			  ".long ((%l[l_break] - 1b - 8) / 8) & 0xffff;"        \
			  ".short 0" :::: l_break);                             \
	goto l_continue;                                                \
l_break:                                                            \
	break;                                                          \
l_continue:;                                                        \
})

/* Offsets above this are past the end of any XDP frame (one page at most): a read there is
 * out of bounds. Checking it first also tells the verifier the offset is bounded. */
#define MAX_OFF 0x7fff

/* Makes clang keep `x` in a register as computed (libbpf's barrier_var): without it clang may
 * check one pointer against the frame's end and load through another that it computed
 * differently, which the verifier cannot follow. */
#define barrier_var(x) asm volatile("" : "+r"(x))

/* Reads of the frame at a byte offset, as the Lua scripts' packet:getuint8/getuint16: a read
 * out of bounds ends the program with the hook's default verdict, XDP_PASS. They expect
 * `data` and `end` in scope. */
#define U8(at) ({                                                   \
	__u64 o_ = (at);                                                \
	if (o_ > MAX_OFF)                                               \
		return XDP_PASS;                                            \
	const __u8 *p_ = data + o_;                                     \
	barrier_var(p_);                                                \
	if (p_ + 1 > end)                                               \
		return XDP_PASS;                                            \
	(__u64)*p_;                                                     \
})
#define U16BE(at) ({                                                \
	__u64 o_ = (at);                                                \
	if (o_ > MAX_OFF)                                               \
		return XDP_PASS;                                            \
	const __u8 *p_ = data + o_;                                     \
	barrier_var(p_);                                                \
	if (p_ + 2 > end)                                               \
		return XDP_PASS;                                            \
	(__u64)__builtin_bswap16(*(const __u16 *)p_);                   \
})

#endif

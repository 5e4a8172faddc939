/* The little a netfilter eBPF program (BPF_PROG_TYPE_NETFILTER, Linux 6.4) needs, for the
 * benchmark's hand-written filters at netfilter. The context is `{state, skb}`; there is no
 * direct packet access, so bytes are read through a dynptr over the skb: the kfunc
 * bpf_dynptr_from_skb (resolved by the loader in the kernel's BTF), then the kfunc
 * bpf_dynptr_slice per field (bpf_dynptr_read for the name compares). At PRE_ROUTING the skb's data starts at the IP header.
 * Verdicts: 0 drops, 1 accepts. */
#ifndef LUNET_BENCH_NF_H
#define LUNET_BENCH_NF_H

#include "common.h"

struct bpf_nf_ctx {
	const void *state;
	void *skb;
};

struct bpf_dynptr {
	__u64 opaque[2];
} __attribute__((aligned(8)));

#define NF_DROP 0
#define NF_ACCEPT 1

/* A kfunc: an extern the loader points at the kernel's function by BTF id. */
extern int bpf_dynptr_from_skb(void *skb, __u64 flags, struct bpf_dynptr *ptr)
	__attribute__((section(".ksyms")));

/* A kfunc: `buffer__szk` bytes at `offset` of the dynptr, as a pointer into the packet
 * (or copied to `buffer` when they are not linear; NULL buffer: then NULL), NULL past the end. */
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer,
			      __u32 buffer__szk) __attribute__((section(".ksyms")));

/* Helper 201: copies `len` bytes at `offset` of the dynptr to `dst`; fails past the end. */
static long (*const bpf_dynptr_read)(void *dst, __u32 len, const struct bpf_dynptr *src,
				     __u32 offset, __u64 flags) = (void *)201;

/* The packet as a dynptr named `pkt`: the first statement of a filter. */
#define OPEN_PACKET(ctx)                                            \
	struct bpf_dynptr pkt;                                          \
	if (bpf_dynptr_from_skb((ctx)->skb, 0, &pkt))                   \
		return NF_ACCEPT

/* Offsets above this are past the end of any packet: the read fails. */
#define MAX_OFF 0xffff

/* Reads of the packet at a byte offset from the IP header, as the Lua scripts'
 * packet:getuint8/getuint16 (big-endian): a read out of bounds accepts the packet. Each is
 * one bpf_dynptr_slice (a pointer into a linear skb, no copy), as the kernel tier's compiled
 * netfilter hooks read, so the two are compared on the same footing. */
#define U8(at) ({                                                   \
	__u64 o_ = (at);                                                \
	__u8 *b_;                                                       \
	if (o_ > MAX_OFF || !(b_ = bpf_dynptr_slice(&pkt, o_, 0, 1)))   \
		return NF_ACCEPT;                                           \
	(__u64)*b_;                                                     \
})
#define U16BE(at) ({                                                \
	__u64 o_ = (at);                                                \
	__u8 *h_;                                                       \
	if (o_ > MAX_OFF || !(h_ = bpf_dynptr_slice(&pkt, o_, 0, 2)))   \
		return NF_ACCEPT;                                           \
	((__u64)h_[0] << 8) | h_[1];                                    \
})

/* Whether the `n` bytes at offset `at` of the packet equal the constant `s` (n = its length,
 * at most 32): one copy to the stack, then compares with immediates. */
#define SAME(at, s, n) ({                                           \
	__u8 buf_[32];                                              \
	__u64 a_ = (at);                                                \
	a_ <= MAX_OFF && bpf_dynptr_read(buf_, (n), &pkt, a_, 0) == 0 && equal(buf_, (s), (n)); \
})

#endif

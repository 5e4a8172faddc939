/* TLS SNI blocklist at XDP: the logic of examples/xdp-sni-blocklist.lua in C, for the
 * benchmark against lunet's compiler (scripts/bench-compiler.sh). Same checks in the same
 * order, same bounds, same blocklist, same verdict on every frame: XDP_DROP for an IPv4 TCP
 * segment to port 443 carrying a TLS ClientHello whose server name, or one of its parent
 * domains, is listed; XDP_PASS otherwise, including whenever a read would leave the frame
 * (the Lua hook's default verdict).
 *
 *   clang -O2 -target bpf -c sni.c -o sni.o
 */
#include "xdp.h"

/* Whether the `n` bytes at `p` are a listed name. */
#define NAME(s) (n == sizeof(s) - 1 && p + sizeof(s) - 1 <= end && equal(p, s, sizeof(s) - 1))

static __always_inline int blocked(const __u8 *p, const __u8 *end, __u64 n)
{
	return NAME("blocked.example") || NAME("ads.test") || NAME("tracker.invalid");
}

SEC("xdp")
int sni_blocklist(struct xdp_md *ctx)
{
	const __u8 *data = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;
	__s64 len = end - data;

	if (U16BE(12) != 0x0800)
		return XDP_PASS;
	if (U8(23) != 6)
		return XDP_PASS;
	__u64 tcp = 14 + (U8(14) & 0x0f) * 4;
	if (U16BE(tcp + 2) != 443)
		return XDP_PASS;
	__u64 tls = tcp + (U8(tcp + 12) >> 4) * 4;
	if (len < (__s64)(tls + 6))
		return XDP_PASS;
	if (U8(tls) != 22 || U8(tls + 5) != 1)
		return XDP_PASS;

	/* server_name(): the offset and length of the host name in the handshake at `hs`. */
	__u64 hs = tls + 5;
	__u64 stop = hs + U16BE(tls + 3);
	__u64 off = hs + 4 + 2 + 32;            /* type, length, version, random */
	off = off + 1 + U8(off);                /* session id */
	off = off + 2 + U16BE(off);             /* cipher suites */
	off = off + 1 + U8(off);                /* compression methods */
	__u64 ext_end = off + 2 + U16BE(off);
	if (ext_end > stop)
		ext_end = stop;
	off += 2;
	/* The walk ends within the frame: each extension costs a read at least 4 bytes past the
	 * previous one. cond_break only shows the verifier that it ends. */
	__u64 name = 0, name_len = 0;
	for (;;) {
		if (off + 4 > ext_end)
			return XDP_PASS;
		if (U16BE(off) == 0) {
			/* server_name_list: list length, name type (0 = host_name), name length */
			if (U8(off + 6) != 0)
				return XDP_PASS;
			name = off + 9;
			name_len = U16BE(off + 7);
			break;
		}
		off = off + 4 + U16BE(off + 2);
		cond_break;
	}
	if (!name)
		return XDP_PASS; /* the may_goto budget ran out: the default verdict, as in lunet */

	/* The name, then each of its parent domains: the suffix after each '.'. The Lua tests
	 * i == 0 inside the loop and checks every suffix against the end of the frame; here i = 0
	 * is peeled off and the whole name is checked once (every suffix ends where it does). Same
	 * verdicts; without it the verifier gives up (it walks all 256 laps of this loop for every
	 * state that reaches it, and the per-lap checks multiply those states). */
	if (name_len == 0)
		return XDP_PASS;
	if (name > MAX_OFF || name + name_len > (__u64)len)
		return XDP_PASS; /* packet:getstring out of bounds */
	if (blocked(data + name, end, name_len))
		return XDP_DROP;
	__u64 lim = name_len < 256 ? name_len : 256;
	for (__u64 i = 1; i < lim; i++) {
		const __u8 *before = data + name + i - 1;
		if (before + 1 > end)
			return XDP_PASS; /* never: the name is in the frame */
		if (*before != '.')
			continue;
		if (blocked(data + name + i, end, name_len - i))
			return XDP_DROP;
	}
	return XDP_PASS;
}

/* DNS query-name blocklist at XDP: the logic of examples/xdp-dns-blocklist.lua in C, for the
 * benchmark against lunet's compiler (scripts/bench-compiler.sh). Same checks in the same
 * order, same bounds, same blocklist, same verdict on every frame: XDP_DROP for an IPv4 DNS
 * query (UDP port 53) for a listed name or a subdomain of one; XDP_PASS otherwise, including
 * whenever a read would leave the frame (the Lua hook's default verdict).
 *
 *   clang -O2 -target bpf -c dns.c -o dns.o
 */
#include "xdp.h"

#define MAX_LABELS 16

/* Whether the `n` bytes at `p` are a listed name in wire format: each label prefixed by its
 * length, and the final zero byte (the string literal's terminator, counted by sizeof). */
#define WIRE(s) (n == sizeof(s) && p + sizeof(s) <= end && equal(p, s, sizeof(s)))

static __always_inline int blocked(const __u8 *p, const __u8 *end, __u64 n)
{
	return WIRE("\x07" "blocked" "\x07" "example") || WIRE("\x03" "ads" "\x04" "test") ||
	       WIRE("\x07" "tracker" "\x07" "invalid");
}

SEC("xdp")
int dns_blocklist(struct xdp_md *ctx)
{
	const __u8 *data = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;
	__u64 len = end - data;

	if (U16BE(12) != 0x0800)
		return XDP_PASS;
	if (U8(23) != 17)
		return XDP_PASS;
	__u64 udp = 14 + (U8(14) & 0x0f) * 4;
	if (U16BE(udp + 2) != 53)
		return XDP_PASS;
	__u64 dns = udp + 8;
	if (U8(dns + 2) & 0x80)
		return XDP_PASS; /* a response */
	__u64 qname = dns + 12;

	/* Find the end of the name first (labels of at most 63 bytes, a name of at most 255). */
	__u64 stop = qname;
	for (__u64 k = 0; k < MAX_LABELS; k++) {
		__u64 l = U8(stop);
		if (l == 0)
			break;
		if (l > 63)
			return XDP_PASS; /* compression or a reserved label type */
		stop = stop + 1 + l;
	}
	if (U8(stop) != 0 || stop - qname > 254)
		return XDP_PASS;

	/* Every suffix that starts at a label. */
	__u64 at = qname;
	for (__u64 k = 0; k < MAX_LABELS; k++) {
		if (at >= stop)
			break;
		__u64 n = stop + 1 - at;
		if (at + n > len || at > MAX_OFF)
			return XDP_PASS; /* packet:getstring out of bounds */
		if (blocked(data + at, end, n))
			return XDP_DROP;
		at = at + 1 + U8(at);
	}
	return XDP_PASS;
}

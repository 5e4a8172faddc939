/* The DNS query-name blocklist of dns.c at netfilter: NF_DROP for an IPv4 DNS query (UDP
 * port 53) for a listed name or a subdomain of one; NF_ACCEPT otherwise, including whenever
 * a read fails. The name is walked label by label as in dns.c; at each label start the rest
 * of the name is compared with the listed names of that length.
 *
 *   clang -O2 -target bpf -c nf_dns.c -o nf_dns.o
 */
#include "nf.h"

#define MAX_LABELS 16

/* Whether the `n` bytes at `at` are the listed name `s` in wire format (with its final zero). */
#define WIRE(s) (n == sizeof(s) && SAME(at, s, sizeof(s)))

SEC("netfilter")
int dns_blocklist(struct bpf_nf_ctx *ctx)
{
	OPEN_PACKET(ctx);
	__u64 ver_ihl = U8(0);
	if (ver_ihl >> 4 != 4 || U8(9) != 17)
		return NF_ACCEPT;
	__u64 udp = (ver_ihl & 0x0f) * 4;
	if (U16BE(udp + 2) != 53)
		return NF_ACCEPT;
	__u64 dns = udp + 8;
	if (U8(dns + 2) & 0x80)
		return NF_ACCEPT; /* a response */
	__u64 qname = dns + 12;

	__u64 stop = qname;
	for (__u64 k = 0; k < MAX_LABELS; k++) {
		__u64 l = U8(stop);
		if (l == 0)
			break;
		if (l > 63)
			return NF_ACCEPT; /* compression or a reserved label type */
		stop = stop + 1 + l;
	}
	if (U8(stop) != 0 || stop - qname > 254)
		return NF_ACCEPT;

	__u64 at = qname;
	for (__u64 k = 0; k < MAX_LABELS; k++) {
		if (at >= stop)
			break;
		__u64 n = stop + 1 - at;
		if (WIRE("\x07" "blocked" "\x07" "example") || WIRE("\x03" "ads" "\x04" "test") ||
		    WIRE("\x07" "tracker" "\x07" "invalid"))
			return NF_DROP;
		at = at + 1 + U8(at);
	}
	return NF_ACCEPT;
}

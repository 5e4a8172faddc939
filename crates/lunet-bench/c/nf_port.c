/* The port filter of port.c at netfilter: NF_DROP for the first fragment of an IPv4 TCP or
 * UDP packet to port 9 or 7777; NF_ACCEPT otherwise, including whenever a read fails.
 *
 *   clang -O2 -target bpf -c nf_port.c -o nf_port.o
 */
#include "nf.h"

SEC("netfilter")
int port_filter(struct bpf_nf_ctx *ctx)
{
	OPEN_PACKET(ctx);
	__u64 ver_ihl = U8(0);
	if (ver_ihl >> 4 != 4)
		return NF_ACCEPT;
	__u64 proto = U8(9);
	if (proto != 6 && proto != 17)
		return NF_ACCEPT;
	if (U16BE(6) & 0x1fff)
		return NF_ACCEPT; /* only the first fragment carries the ports */
	__u64 dport = U16BE((ver_ihl & 0x0f) * 4 + 2);
	if (dport == 9 || dport == 7777)
		return NF_DROP;
	return NF_ACCEPT;
}

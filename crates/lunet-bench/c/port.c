/* UDP/TCP port filter at XDP: the logic of examples/xdp-port-filter.lua in C. XDP_DROP for
 * the first fragment of an IPv4 TCP or UDP packet to port 9 or 7777; XDP_PASS otherwise,
 * including whenever a read would leave the frame.
 *
 *   clang -O2 -target bpf -c port.c -o port.o
 */
#include "xdp.h"

SEC("xdp")
int port_filter(struct xdp_md *ctx)
{
	const __u8 *data = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;

	if (U16BE(12) != 0x0800)
		return XDP_PASS;
	__u64 proto = U8(23);
	if (proto != 6 && proto != 17)
		return XDP_PASS;
	if (U16BE(20) & 0x1fff)
		return XDP_PASS; /* only the first fragment carries the ports */
	__u64 ihl = (U8(14) & 0x0f) * 4;
	__u64 dport = U16BE(14 + ihl + 2);
	if (dport == 9 || dport == 7777)
		return XDP_DROP;
	return XDP_PASS;
}

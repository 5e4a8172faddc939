/* The TLS SNI blocklist of sni.c at netfilter: NF_DROP for an IPv4 TCP segment to port 443
 * carrying a TLS ClientHello whose server name, or one of its parent domains, is listed;
 * NF_ACCEPT otherwise, including whenever a read fails. The record is walked as in sni.c; then
 * each listed name is compared with the end of the server name, and matches when it is the
 * whole name or follows a '.' (the same verdicts as comparing every suffix after a '.').
 *
 *   clang -O2 -target bpf -c nf_sni.c -o nf_sni.o
 */
#include "nf.h"

/* Whether the listed name `s` ends the server name at `name` (length `name_len`) after a '.'
 * or as the whole name. */
#define TAIL(s)                                                         \
	(name_len >= sizeof(s) - 1 &&                                       \
	 SAME(name + name_len - (sizeof(s) - 1), s, sizeof(s) - 1) &&        \
	 (name_len == sizeof(s) - 1 || U8(name + name_len - sizeof(s)) == '.'))

/* The extensions walked before giving up (each costs at least 4 bytes of the record). */
#define MAX_EXTENSIONS 64

SEC("netfilter")
int sni_blocklist(struct bpf_nf_ctx *ctx)
{
	OPEN_PACKET(ctx);
	__u64 ver_ihl = U8(0);
	if (ver_ihl >> 4 != 4 || U8(9) != 6)
		return NF_ACCEPT;
	__u64 tcp = (ver_ihl & 0x0f) * 4;
	if (U16BE(tcp + 2) != 443)
		return NF_ACCEPT;
	__u64 tls = tcp + (U8(tcp + 12) >> 4) * 4;
	if (U8(tls) != 22 || U8(tls + 5) != 1)
		return NF_ACCEPT;

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
	__u64 name = 0, name_len = 0;
	for (int k = 0; k < MAX_EXTENSIONS; k++) {
		if (off + 4 > ext_end || off > MAX_OFF)
			return NF_ACCEPT;
		if (U16BE(off) == 0) {
			/* server_name_list: list length, name type (0 = host_name), name length */
			if (U8(off + 6) != 0)
				return NF_ACCEPT;
			name = off + 9;
			name_len = U16BE(off + 7);
			break;
		}
		off = off + 4 + U16BE(off + 2);
	}
	if (!name || name_len == 0 || name_len > 255)
		return NF_ACCEPT;
	if (TAIL("blocked.example") || TAIL("ads.test") || TAIL("tracker.invalid"))
		return NF_DROP;
	return NF_ACCEPT;
}

/* Accepts every packet: the fixed cost of a netfilter eBPF program.
 *
 *   clang -O2 -target bpf -c nf_accept.c -o nf_accept.o
 */
#include "nf.h"

SEC("netfilter")
int accept_all(struct bpf_nf_ctx *ctx)
{
	return NF_ACCEPT;
}

/* Passes every frame: the fixed cost of an XDP program.
 *
 *   clang -O2 -target bpf -c accept.c -o accept.o
 */
#include "xdp.h"

SEC("xdp")
int accept_all(struct xdp_md *ctx)
{
	return XDP_PASS;
}

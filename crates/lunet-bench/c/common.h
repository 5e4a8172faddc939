/* What the benchmark's hand-written filters share, at XDP (xdp.h) and at netfilter (nf.h):
 * fixed-width types, section and inlining attributes, and comparing bytes in memory with a
 * string constant. Self-contained: the filters build with nothing but
 * `clang -O2 -target bpf -c` (no libbpf, no kernel headers). */
#ifndef LUNET_BENCH_COMMON_H
#define LUNET_BENCH_COMMON_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef long long __s64;

#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))

/* The first 1, 2, 4 or 8 bytes of a string constant as the little-endian integer that a load
 * of the same bytes from the frame gives (clang folds these to constants). */
#define C8(s, k) ((__u64)(__u8)(s)[k])
#define LE16(s, k) (C8(s, k) | C8(s, (k) + 1) << 8)
#define LE32(s, k) (LE16(s, k) | LE16(s, (k) + 2) << 16)
#define LE64(s, k) (LE32(s, k) | LE32(s, (k) + 4) << 32)

/* Whether the `n` bytes at `p` (known to be in the frame) equal the constant `s` of length `n`:
 * 8-byte words, then a 4-, 2- and 1-byte tail. With `s` and `n` constant, it unrolls to a few
 * loads and compares with immediates. */
static __always_inline int equal(const __u8 *p, const char *s, const int n)
{
	int k = 0;
#pragma unroll
	for (; k + 8 <= n; k += 8)
		if (*(const __u64 *)(p + k) != LE64(s, k))
			return 0;
	if (k + 4 <= n) {
		if (*(const __u32 *)(p + k) != LE32(s, k))
			return 0;
		k += 4;
	}
	if (k + 2 <= n) {
		if (*(const __u16 *)(p + k) != LE16(s, k))
			return 0;
		k += 2;
	}
	if (k + 1 <= n && p[k] != (__u8)s[k])
		return 0;
	return 1;
}

#endif

/*
 * upcase.c - the ASCII uppercase transform.
 *
 * The fast path works on eight bytes at a time in a plain 64-bit
 * register (SWAR), which every target has, so there is nothing to
 * dispatch at run time; compilers vectorize the loop further where they
 * can.  A byte becomes uppercase when it lies in 'a'..'z': bit 5 is
 * cleared.  The comparisons are done on the low seven bits of each byte
 * with additions that cannot carry into the next byte, and bytes with the
 * high bit set (UTF-8, binary) are masked out, so no byte outside 'a'..'z'
 * is ever changed.
 */
#include <string.h>

#include "upcase.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static inline uint64_t
upcase_word(uint64_t w)
{
	uint64_t low7 = w & ~HIGHS;
	uint64_t ge_a = low7 + (0x80 - 'a') * ONES;	/* bit 7: >= 'a' */
	uint64_t gt_z = low7 + (0x80 - 'z' - 1) * ONES;	/* bit 7: >  'z' */
	uint64_t lower = ge_a & ~gt_z & ~w & HIGHS;

	return w ^ (lower >> 2);			/* 0x80 >> 2 = 0x20 */
}

static inline uint8_t
upcase_byte(uint8_t c)
{
	return (uint8_t)((unsigned)c - 'a' < 26u ? c ^ 0x20 : c);
}

void
upcase_ascii(uint8_t *dst, const uint8_t *src, size_t n)
{
	uint64_t w;
	size_t i = 0;

	/* memcpy() of 8 bytes compiles to one unaligned load or store. */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		w = upcase_word(w);
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = upcase_byte(src[i]);
}

void
upcase_ascii_scalar(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 'a' && src[i] <= 'z') ?
		    (uint8_t)(src[i] - 'a' + 'A') : src[i];
}

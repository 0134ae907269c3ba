/*
 * upcase.h - the transforms.
 *
 * "ascii": a-z to A-Z, every other byte unchanged; the output has the
 * length of the input.  "unicode": Unicode's simple uppercase mapping
 * applied to every valid UTF-8 sequence, every other byte unchanged; the
 * output may be shorter or longer (at most 3/2 of the input, a 2-byte
 * character whose uppercase takes 3 bytes).  Pure functions on byte
 * buffers; the only state is the caller's carry of a character cut at
 * the end of a buffer.
 */
#ifndef UPCASED_UPCASE_H
#define UPCASED_UPCASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Uppercase n bytes from src into dst; dst == src is allowed. */
void	upcase_ascii(uint8_t *dst, const uint8_t *src, size_t n);

/* The same, one byte at a time: the reference the tests compare with. */
void	upcase_ascii_scalar(uint8_t *dst, const uint8_t *src, size_t n);

/*
 * For the tests: true makes every transform use its portable loops even
 * where the CPU has AVX2 (which they use otherwise); not thread-safe.
 */
void	upcase_portable(bool on);

/* A UTF-8 sequence cut at the end of a buffer, kept for the next one. */
struct upcase_carry {
	uint8_t		 len;
	uint8_t		 b[3];
};

/* Room the output of upcase_utf8() may need for n input bytes. */
#define UPCASE_UTF8_MAX(n)	((n) + (n) / 2 + 8)

/*
 * Uppercase n bytes of UTF-8 from src into dst (not overlapping; room for
 * UPCASE_UTF8_MAX(n) bytes); returns the bytes written.  A valid sequence
 * cut at the end of src is kept in *carry and completed by the next call;
 * invalid bytes are written unchanged.
 */
size_t	upcase_utf8(uint8_t *dst, const uint8_t *src, size_t n,
	    struct upcase_carry *carry);

/*
 * upcase_utf8() where the bytes lie when it can be: if nothing is carried
 * and buf[0..n) is all ASCII, buf is uppercased in place and returned.
 * Otherwise the output is what upcase_utf8() would write, in dst (room for
 * UPCASE_UTF8_MAX(n) bytes), and dst is returned; buf may then have its
 * leading ASCII uppercased.  *len: the bytes of output.
 */
const uint8_t *upcase_utf8_inplace(uint8_t *dst, uint8_t *buf, size_t n,
	    struct upcase_carry *carry, size_t *len);

/* End of the stream: write the carried bytes unchanged (at most 3). */
size_t	upcase_utf8_flush(uint8_t *dst, struct upcase_carry *carry);

/*
 * In place, never longer: a character whose uppercase needs more bytes
 * is left as it is (a UDP reply must not outgrow its request).  Returns
 * the new length; a sequence cut at the end is left unchanged.
 */
size_t	upcase_utf8_nogrow(uint8_t *buf, size_t n);

/* The simple uppercase of one code point, as the transform applies it. */
uint32_t upcase_codepoint(uint32_t c);

/* The Unicode version of the case tables (from libutf8proc). */
const char *upcase_unicode_version(void);

#endif

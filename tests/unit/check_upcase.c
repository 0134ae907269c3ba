/*
 * check_upcase.c - the transform against its one-byte-at-a-time
 * reference: every byte value, every alignment and tail length, random
 * buffers, in place and out of place.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upcase.h"
#include "unit.h"

START_TEST(test_every_byte)
{
	uint8_t in[256], out[256];
	int i;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	upcase_ascii(out, in, sizeof(in));
	for (i = 0; i < 256; i++) {
		if (i >= 'a' && i <= 'z')
			ck_assert_int_eq(out[i], i - 32);
		else
			ck_assert_int_eq(out[i], i);
	}
}
END_TEST

START_TEST(test_known_strings)
{
	uint8_t buf[64];

	memcpy(buf, "hello, World! {|}~`@[\\]^_ az AZ 09", 35);
	upcase_ascii(buf, buf, 35);
	ck_assert_mem_eq(buf, "HELLO, WORLD! {|}~`@[\\]^_ AZ AZ 09", 35);
	/* UTF-8 bytes are left alone: 0xc3 0xa9 is e-acute. */
	memcpy(buf, "caf\xc3\xa9 \xe2\x82\xac", 9);
	upcase_ascii(buf, buf, 9);
	ck_assert_mem_eq(buf, "CAF\xc3\xa9 \xe2\x82\xac", 9);
}
END_TEST

/* Bytes near the edges of 'a'..'z' and with the high bit set, which a
 * wrong vector or word mask would get wrong. */
START_TEST(test_edges_in_words)
{
	static const uint8_t edge[] = { '`', 'a', 'z', '{', '@', 'A', 'Z',
	    '[', 0x80, 0xe1, 0xfa, 0xfb, 0xc1, 0xda, 0x7f, 0x00, 0xff, 0x60 };
	uint8_t in[8], out[8], ref[8];
	unsigned i, j, n = sizeof(edge);
	uint32_t r = 1;

	for (i = 0; i < 20000; i++) {
		for (j = 0; j < 8; j++) {
			r = r * 1103515245u + 12345u;
			in[j] = edge[(r >> 16) % n];
		}
		upcase_ascii(out, in, 8);
		upcase_ascii_scalar(ref, in, 8);
		ck_assert_mem_eq(out, ref, 8);
	}
}
END_TEST

START_TEST(test_alignments_and_tails)
{
	uint8_t src[300], dst[300], ref[300], inplace[300];
	size_t off, len, i;
	uint32_t r = 7;

	for (i = 0; i < sizeof(src); i++) {
		r = r * 1103515245u + 12345u;
		src[i] = (uint8_t)(r >> 16);
	}
	for (off = 0; off < 16; off++) {
		for (len = 0; len + off <= 200; len++) {
			memset(dst, 0xaa, sizeof(dst));
			memset(ref, 0xaa, sizeof(ref));
			upcase_ascii(dst + off, src + off, len);
			upcase_ascii_scalar(ref + off, src + off, len);
			ck_assert_mem_eq(dst, ref, sizeof(dst));
			memcpy(inplace, src, sizeof(src));
			upcase_ascii(inplace + off, inplace + off, len);
			ck_assert_mem_eq(inplace + off, ref + off, len);
		}
	}
}
END_TEST

START_TEST(test_random_large)
{
	size_t n = 1 << 20, i;
	uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
	uint32_t r = 42;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < n; i++) {
		r = r * 1103515245u + 12345u;
		a[i] = (uint8_t)(r >> 16);
	}
	upcase_ascii(b, a, n);
	upcase_ascii_scalar(c, a, n);
	ck_assert_mem_eq(b, c, n);
	free(a);
	free(b);
	free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("upcase");
	TCase *tc = tcase_create("upcase");

	tcase_add_test(tc, test_every_byte);
	tcase_add_test(tc, test_known_strings);
	tcase_add_test(tc, test_edges_in_words);
	tcase_add_test(tc, test_alignments_and_tails);
	tcase_add_test(tc, test_random_large);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

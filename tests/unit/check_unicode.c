/*
 * check_unicode.c - the Unicode transform against the reference cases in
 * tests/data/unicode (Go's strings.ToUpper, Unicode 13): every code point,
 * 400 mixed strings, every split point of each, invalid and truncated
 * sequences, overlongs and surrogates, and the no-growth variant for UDP.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upcase.h"
#include "unit.h"

#define MAXCP	0x110000

static uint32_t	*table;		/* expected uppercase of every code point */
static uint32_t	*newer;		/* alternative from newer Unicode, or 0 */

struct sample {
	uint8_t		*in;
	size_t		 inlen;
	uint8_t		*out;
	size_t		 outlen;
};

static struct sample samples[512];
static size_t nsamples;

static FILE *
data_open(const char *name)
{
	const char *dir = getenv("UPCASED_SRCDIR");
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/tests/data/unicode/%s",
	    dir != NULL ? dir : ".", name);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	return fp;
}

static size_t
hex_decode(const char *hex, uint8_t *out)
{
	size_t n = 0;
	unsigned v;

	while (sscanf(hex, "%2x", &v) == 1) {
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static void
load(void)
{
	char line[8192], a[4096], b[4096];
	unsigned lo, up;
	uint32_t c;
	FILE *fp;

	table = malloc(MAXCP * sizeof(*table));
	newer = calloc(MAXCP, sizeof(*newer));
	ck_assert(table != NULL && newer != NULL);
	for (c = 0; c < MAXCP; c++)
		table[c] = c;
	fp = data_open("upper-table-u13.tsv");
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%x\t%x", &lo, &up) == 2)
			table[lo] = up;
	fclose(fp);
	fp = data_open("newer-unicode.tsv");
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%x\t%x", &lo, &up) == 2)
			newer[lo] = up;
	fclose(fp);
	fp = data_open("strings-go-toupper.tsv");
	while (fgets(line, sizeof(line), fp) != NULL &&
	    nsamples < sizeof(samples) / sizeof(samples[0])) {
		struct sample *s = &samples[nsamples];

		if (line[0] == '#' || sscanf(line, "%4095s\t%4095s", a, b) != 2)
			continue;
		s->in = malloc(strlen(a) / 2 + 1);
		s->out = malloc(strlen(b) / 2 + 1);
		s->inlen = hex_decode(a, s->in);
		s->outlen = hex_decode(b, s->out);
		nsamples++;
	}
	fclose(fp);
}

static void
unload(void)
{
	size_t i;

	for (i = 0; i < nsamples; i++) {
		free(samples[i].in);
		free(samples[i].out);
	}
	nsamples = 0;
	free(table);
	free(newer);
}

static size_t
encode(uint32_t c, uint8_t *out)
{
	if (c < 0x80) {
		out[0] = (uint8_t)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (uint8_t)(0xc0 | c >> 6);
		out[1] = (uint8_t)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (uint8_t)(0xe0 | c >> 12);
		out[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | c >> 18);
	out[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (c & 0x3f));
	return 4;
}

/* The whole stream in one piece, then flushed. */
static size_t
whole(const uint8_t *in, size_t n, uint8_t *out)
{
	struct upcase_carry cy = { 0, { 0 } };
	size_t o = upcase_utf8(out, in, n, &cy);

	return o + upcase_utf8_flush(out + o, &cy);
}

/* Is got an acceptable uppercase of the reference want?  They may differ
 * only where newer Unicode gave a code point an uppercase. */
static bool
same_or_newer(const uint8_t *got, size_t glen, const uint8_t *in, size_t ilen,
    const uint8_t *want, size_t wlen)
{
	uint8_t alt[8192];
	size_t i = 0, o = 0, k;

	if (glen == wlen && memcmp(got, want, wlen) == 0)
		return true;
	/* Build the alternative with newer mappings and compare again. */
	while (i < ilen) {
		uint32_t c;
		size_t len = in[i] < 0x80 ? 1 : in[i] < 0xe0 ? 2 :
		    in[i] < 0xf0 ? 3 : 4;

		c = len == 1 ? in[i] : len == 2 ? (in[i] & 0x1fu) :
		    len == 3 ? (in[i] & 0x0fu) : (in[i] & 0x07u);
		for (k = 1; k < len; k++)
			c = c << 6 | (in[i + k] & 0x3fu);
		o += encode(newer[c] != 0 ? newer[c] : table[c], alt + o);
		i += len;
	}
	return glen == o && memcmp(got, alt, o) == 0;
}

START_TEST(test_every_code_point)
{
	uint8_t in[4], out[16], want[4], alt[4];
	size_t n, o, wn, an;
	uint32_t c;

	for (c = 0; c < MAXCP; c++) {
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		n = encode(c, in);
		o = whole(in, n, out);
		wn = encode(table[c], want);
		an = newer[c] != 0 ? encode(newer[c], alt) : 0;
		ck_assert_msg((o == wn && memcmp(out, want, wn) == 0) ||
		    (an > 0 && o == an && memcmp(out, alt, an) == 0),
		    "U+%04X: got %zu bytes, want U+%04X", c, o, table[c]);
		ck_assert_uint_le(o, UPCASE_UTF8_MAX(n));
		ck_assert_uint_le(2 * o, 3 * n);
	}
}
END_TEST

START_TEST(test_sharp_s_stays)
{
	uint8_t out[8];

	ck_assert_uint_eq(whole((const uint8_t *)"\xc3\x9f", 2, out), 2);
	ck_assert_mem_eq(out, "\xc3\x9f", 2);
	ck_assert_uint_eq(upcase_codepoint(0xdf), 0xdf);
	ck_assert_uint_eq(upcase_codepoint(0xe9), 0xc9);
	ck_assert_uint_eq(upcase_codepoint('q'), 'Q');
}
END_TEST

START_TEST(test_go_strings)
{
	uint8_t out[8192];
	size_t i, o;

	ck_assert_uint_ge(nsamples, 400);
	for (i = 0; i < nsamples; i++) {
		o = whole(samples[i].in, samples[i].inlen, out);
		ck_assert_msg(same_or_newer(out, o, samples[i].in,
		    samples[i].inlen, samples[i].out, samples[i].outlen),
		    "string %zu differs", i);
	}
}
END_TEST

START_TEST(test_go_strings_every_split)
{
	struct upcase_carry cy;
	uint8_t ref[8192], out[8192];
	size_t i, cut, o, rn;

	for (i = 0; i < nsamples; i++) {
		const struct sample *s = &samples[i];

		rn = whole(s->in, s->inlen, ref);
		for (cut = 0; cut <= s->inlen; cut++) {
			memset(&cy, 0, sizeof(cy));
			o = upcase_utf8(out, s->in, cut, &cy);
			o += upcase_utf8(out + o, s->in + cut, s->inlen - cut,
			    &cy);
			o += upcase_utf8_flush(out + o, &cy);
			ck_assert_msg(o == rn && memcmp(out, ref, rn) == 0,
			    "string %zu cut at %zu", i, cut);
		}
	}
}
END_TEST

/* Byte-at-a-time feeding: every split at once. */
START_TEST(test_byte_at_a_time)
{
	struct upcase_carry cy;
	uint8_t ref[8192], out[8192];
	size_t i, k, o, rn;

	for (i = 0; i < nsamples; i++) {
		const struct sample *s = &samples[i];

		rn = whole(s->in, s->inlen, ref);
		memset(&cy, 0, sizeof(cy));
		for (o = 0, k = 0; k < s->inlen; k++)
			o += upcase_utf8(out + o, s->in + k, 1, &cy);
		o += upcase_utf8_flush(out + o, &cy);
		ck_assert_msg(o == rn && memcmp(out, ref, rn) == 0,
		    "string %zu byte by byte", i);
	}
}
END_TEST

/* Invalid input comes back byte for byte; valid neighbours still change. */
static void
check_raw(const char *in, size_t n, const char *want, size_t wn)
{
	uint8_t out[64];
	size_t o = whole((const uint8_t *)in, n, out), cut;
	struct upcase_carry cy;

	ck_assert_uint_eq(o, wn);
	ck_assert_mem_eq(out, want, wn);
	for (cut = 0; cut <= n; cut++) {
		memset(&cy, 0, sizeof(cy));
		o = upcase_utf8(out, (const uint8_t *)in, cut, &cy);
		o += upcase_utf8(out + o, (const uint8_t *)in + cut, n - cut,
		    &cy);
		o += upcase_utf8_flush(out + o, &cy);
		ck_assert_uint_eq(o, wn);
		ck_assert_mem_eq(out, want, wn);
	}
}

START_TEST(test_invalid_passes_through)
{
	/* lone continuation bytes, bytes never valid */
	check_raw("a\x80" "b\xbf", 4, "A\x80" "B\xbf", 4);
	check_raw("\xc0\xc1\xf5\xf8\xfe\xff", 6, "\xc0\xc1\xf5\xf8\xfe\xff", 6);
	/* overlong encodings of '/' and of NUL */
	check_raw("\xc0\xaf", 2, "\xc0\xaf", 2);
	check_raw("\xe0\x80\xaf", 3, "\xe0\x80\xaf", 3);
	check_raw("\xf0\x80\x80\xaf", 4, "\xf0\x80\x80\xaf", 4);
	check_raw("\xc0\x80", 2, "\xc0\x80", 2);
	/* UTF-16 surrogates, and past U+10FFFF */
	check_raw("\xed\xa0\x80" "x", 4, "\xed\xa0\x80" "X", 4);
	check_raw("\xed\xbf\xbf", 3, "\xed\xbf\xbf", 3);
	check_raw("\xf4\x90\x80\x80", 4, "\xf4\x90\x80\x80", 4);
	/* truncated sequences followed by something else */
	check_raw("\xc3" "e", 2, "\xc3" "E", 2);
	check_raw("\xe2\x82" "a\xc3\xa9", 5, "\xe2\x82" "A\xc3\x89", 5);
	check_raw("\xf0\x9f\x98" "z", 4, "\xf0\x9f\x98" "Z", 4);
	/* truncated at the very end: flushed unchanged */
	check_raw("\xc3\xa9\xc3", 3, "\xc3\x89\xc3", 3);
	check_raw("ab\xf0\x9f\x98", 5, "AB\xf0\x9f\x98", 5);
	/* a valid 4-byte sequence unchanged (emoji) next to changes */
	check_raw("\xf0\x9f\x98\x80\xc3\xa0", 6, "\xf0\x9f\x98\x80\xc3\x80", 6);
}
END_TEST

START_TEST(test_random_bytes_every_split)
{
	uint8_t in[300], ref[600], out[600];
	size_t n = sizeof(in), i, cut, o, rn;
	struct upcase_carry cy;
	uint32_t r = 5;
	int round;

	for (round = 0; round < 50; round++) {
		for (i = 0; i < n; i++) {
			r = r * 1103515245u + 12345u;
			/* bias towards lead and continuation bytes */
			in[i] = (uint8_t)((r >> 16) % 3 == 0 ?
			    0x80 | ((r >> 20) & 0x7f) : (r >> 16));
		}
		rn = whole(in, n, ref);
		for (cut = 0; cut <= n; cut++) {
			memset(&cy, 0, sizeof(cy));
			o = upcase_utf8(out, in, cut, &cy);
			o += upcase_utf8(out + o, in + cut, n - cut, &cy);
			o += upcase_utf8_flush(out + o, &cy);
			ck_assert_uint_eq(o, rn);
			ck_assert_mem_eq(out, ref, rn);
		}
	}
}
END_TEST

START_TEST(test_ascii_same_as_ascii_transform)
{
	uint8_t in[1000], a[1000], u[1600];
	size_t i, len;
	uint32_t r = 11;

	for (i = 0; i < sizeof(in); i++) {
		r = r * 1103515245u + 12345u;
		in[i] = (uint8_t)((r >> 16) & 0x7f);
	}
	for (len = 0; len <= sizeof(in); len += 37) {
		upcase_ascii(a, in, len);
		ck_assert_uint_eq(whole(in, len, u), len);
		ck_assert_mem_eq(a, u, len);
	}
}
END_TEST

START_TEST(test_nogrow)
{
	uint8_t buf[64];
	size_t n;

	/* U+0250 -> U+2C6F would grow from 2 to 3 bytes: left as is. */
	memcpy(buf, "a\xc9\x90z", 4);
	n = upcase_utf8_nogrow(buf, 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(buf, "A\xc9\x90Z", 4);
	/* U+0131 dotless i -> 'I' shrinks: fine. */
	memcpy(buf, "\xc4\xb1x\xc3\xa9", 5);
	n = upcase_utf8_nogrow(buf, 5);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(buf, "IX\xc3\x89", 4);
	/* Invalid and cut sequences unchanged. */
	memcpy(buf, "\xff" "b\xe2\x82", 4);
	n = upcase_utf8_nogrow(buf, 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(buf, "\xff" "B\xe2\x82", 4);
}
END_TEST

START_TEST(test_nogrow_every_code_point)
{
	uint8_t buf[8], want[8];
	size_t n, o, wn;
	uint32_t c;

	for (c = 0; c < MAXCP; c++) {
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		n = encode(c, buf);
		o = upcase_utf8_nogrow(buf, n);
		ck_assert_uint_le(o, n);
		wn = encode(upcase_codepoint(c), want);
		if (wn > n) {
			ck_assert_uint_eq(o, n);	/* left as it was */
			n = encode(c, want);
			ck_assert_mem_eq(buf, want, n);
		} else {
			ck_assert_uint_eq(o, wn);
			ck_assert_mem_eq(buf, want, wn);
		}
	}
}
END_TEST

START_TEST(test_nogrow_strings_never_longer)
{
	uint8_t buf[8192];
	size_t i, o;

	for (i = 0; i < nsamples; i++) {
		memcpy(buf, samples[i].in, samples[i].inlen);
		o = upcase_utf8_nogrow(buf, samples[i].inlen);
		ck_assert_uint_le(o, samples[i].inlen);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("unicode");
	TCase *tc = tcase_create("unicode");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, load, unload);
	tcase_add_test(tc, test_every_code_point);
	tcase_add_test(tc, test_sharp_s_stays);
	tcase_add_test(tc, test_go_strings);
	tcase_add_test(tc, test_go_strings_every_split);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_invalid_passes_through);
	tcase_add_test(tc, test_random_bytes_every_split);
	tcase_add_test(tc, test_ascii_same_as_ascii_transform);
	tcase_add_test(tc, test_nogrow);
	tcase_add_test(tc, test_nogrow_every_code_point);
	tcase_add_test(tc, test_nogrow_strings_never_longer);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

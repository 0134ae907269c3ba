/*
 * check_fastpath.c - the transforms' fast paths against their sources of
 * truth: upcase_utf8_inplace() (a TCP worker's "unicode" transform, done
 * in place on ASCII) against libutf8proc itself and against
 * upcase_utf8(), and the AVX2 loops against the portable ones, on all
 * ASCII, on mixed UTF-8, and on streams cut anywhere (inside a character
 * too), at every alignment around the 32- and 64-byte blocks.  Each test
 * runs twice: with the vector code the CPU allows, and with
 * upcase_portable(true).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "upcase.h"
#include "unit.h"

#define BUF	1024

/*
 * The reference, from libutf8proc alone: every valid sequence (as
 * utf8proc_iterate() decodes it) becomes the UTF-8 of utf8proc_toupper(),
 * but U+00DF which stays (upcase.c's one documented difference); every
 * other byte is copied.  The input must not end inside a valid sequence.
 */
static size_t
ref_utf8proc(const uint8_t *in, size_t n, uint8_t *out)
{
	utf8proc_int32_t cp, up;
	utf8proc_ssize_t r;
	size_t i = 0, o = 0;

	while (i < n) {
		r = utf8proc_iterate(in + i, (utf8proc_ssize_t)(n - i), &cp);
		if (r <= 0) {
			out[o++] = in[i++];
			continue;
		}
		up = cp == 0xdf ? cp : utf8proc_toupper(cp);
		o += (size_t)utf8proc_encode_char(up, out + o);
		i += (size_t)r;
	}
	return o;
}

/* upcase_utf8() over the whole input, then flushed. */
static size_t
ref_whole(const uint8_t *in, size_t n, uint8_t *out)
{
	struct upcase_carry cy = { 0, { 0 } };
	size_t o = upcase_utf8(out, in, n, &cy);

	return o + upcase_utf8_flush(out + o, &cy);
}

/*
 * What a TCP connection sends for in[0..n) read in pieces that end at
 * cuts[0..ncuts): each piece copied into a buffer of its own (the worker's
 * scratch), transformed by upcase_utf8_inplace(), the carry flushed at
 * the end.
 */
static size_t
stream_inplace(const uint8_t *in, size_t n, const size_t *cuts,
    size_t ncuts, uint8_t *out)
{
	struct upcase_carry cy = { 0, { 0 } };
	uint8_t *piece, *dst;
	const uint8_t *got;
	size_t at = 0, end, len, o = 0, k;

	piece = malloc(BUF);
	dst = malloc(UPCASE_UTF8_MAX(BUF));
	ck_assert(piece != NULL && dst != NULL);
	for (k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : n;
		memcpy(piece, in + at, end - at);
		got = upcase_utf8_inplace(dst, piece, end - at, &cy, &len);
		ck_assert(got == piece || got == dst);
		memcpy(out + o, got, len);
		o += len;
		at = end;
	}
	o += upcase_utf8_flush(out + o, &cy);
	free(piece);
	free(dst);
	return o;
}

static uint32_t
rnd(uint32_t *r)
{
	*r = *r * 1103515245u + 12345u;
	return *r >> 8;
}

/* Characters of one to four bytes, cased and not, and invalid bytes. */
static const char *const pieces[] = {
	"\xc3\xa9", "\xc3\x9f", "\xce\xa3", "\xcf\x83", "\xd0\xb4",
	"\xc4\xb1", "\xc5\xbf", "\xc9\x90", "\xe2\x82\xac", "\xe6\x97\xa5",
	"\xe1\xba\x9e", "\xf0\x9f\x98\x80", "\xf0\x90\x90\xa8",
	"\xc0\xaf", "\xed\xa0\x80", "\xff", "\x80", "\xe2\x82", "\xf4\x90\x80",
};
#define NPIECES	(sizeof(pieces) / sizeof(pieces[0]))

/* ASCII (every value 0..7f) with a character of pieces[] at 'at'. */
static size_t
fill_mixed(uint8_t *buf, size_t n, size_t at, uint32_t *r)
{
	const char *p;
	size_t i, len;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(rnd(r) & 0x7f);
	if (at >= n)
		return n;
	p = pieces[rnd(r) % NPIECES];
	len = strlen(p);
	if (at + len > n)
		len = n - at;
	memcpy(buf + at, p, len);
	return n;
}

static void
both_paths(void (*fn)(void))
{
	upcase_portable(false);
	fn();
	upcase_portable(true);
	fn();
	upcase_portable(false);
}

/* Every ASCII byte, every length and alignment: in place, same as
 * libutf8proc's mapping, and buf itself returned. */
static void
ascii_all(void)
{
	uint8_t *mem = malloc(BUF + 64), *buf, want[BUF], dst[UPCASE_UTF8_MAX(
	    BUF)], orig[BUF];
	struct upcase_carry cy = { 0, { 0 } };
	const uint8_t *got;
	size_t off, n, i, len;
	uint32_t r = 3;

	ck_assert_ptr_nonnull(mem);
	for (off = 0; off < 64; off++) {
		for (n = 0; n <= 300; n++) {
			buf = mem + off;
			for (i = 0; i < n; i++)		/* 0..7f, each */
				buf[i] = (uint8_t)((i + off + rnd(&r)) & 0x7f);
			memcpy(orig, buf, n);
			ck_assert_uint_eq(ref_utf8proc(orig, n, want), n);
			got = upcase_utf8_inplace(dst, buf, n, &cy, &len);
			ck_assert_ptr_eq(got, buf);
			ck_assert_uint_eq(len, n);
			ck_assert_uint_eq(cy.len, 0);
			ck_assert_mem_eq(buf, want, n);
		}
	}
	for (i = 0; i < 128; i++)		/* and every value alone */
		buf[i] = (uint8_t)i;
	memcpy(orig, buf, 128);
	ref_utf8proc(orig, 128, want);
	got = upcase_utf8_inplace(dst, buf, 128, &cy, &len);
	ck_assert_ptr_eq(got, buf);
	ck_assert_mem_eq(buf, want, 128);
	free(mem);
}

START_TEST(test_inplace_every_ascii)
{
	both_paths(ascii_all);
}
END_TEST

/*
 * ASCII with one character of pieces[] at every position across the
 * blocks: the output is upcase_utf8()'s, libutf8proc's too where the
 * input is valid UTF-8, and the bytes from that character on are left as
 * they were in buf.
 */
static void
mixed_one(void)
{
	uint8_t in[300], buf[300], dst[UPCASE_UTF8_MAX(300)], want[600],
	    u8p[600];
	struct upcase_carry cy;
	const uint8_t *got;
	size_t n, at, len, wn, k;
	uint32_t r = 17;

	for (n = 1; n <= 200; n += 13) {
		for (at = 0; at < n; at++) {
			fill_mixed(in, n, at, &r);
			memcpy(buf, in, n);
			memset(&cy, 0, sizeof(cy));
			got = upcase_utf8_inplace(dst, buf, n, &cy, &len);
			len += upcase_utf8_flush((uint8_t *)(uintptr_t)got +
			    len, &cy);
			ck_assert_ptr_eq(got, dst);
			wn = ref_whole(in, n, want);
			ck_assert_uint_eq(len, wn);
			ck_assert_mem_eq(got, want, wn);
			ck_assert_mem_eq(buf + at, in + at, n - at);
			for (k = 0; k < at; k++)
				ck_assert_uint_lt(in[k], 0x80);
			if (utf8proc_iterate(in + at, (utf8proc_ssize_t)(n -
			    at), &(utf8proc_int32_t){ 0 }) > 0) {
				ck_assert_uint_eq(ref_utf8proc(in, n, u8p),
				    wn);
				ck_assert_mem_eq(u8p, want, wn);
			}
		}
	}
}

START_TEST(test_inplace_mixed)
{
	both_paths(mixed_one);
}
END_TEST

/* Dense mixed text, valid UTF-8: libutf8proc's output exactly. */
static void
mixed_text(void)
{
	static const char *const words[] = { "Stra\xc3\x9f" "e ",
	    "caf\xc3\xa9 ", "\xce\xa3\xce\xaf\xcf\x83\xcf\x85\xcf\x86"
	    "\xce\xbf\xcf\x82 ", "\xd0\xbc\xd0\xb8\xd1\x80 ",
	    "\xe6\x97\xa5\xe6\x9c\xac ", "\xf0\x9f\x98\x80 ",
	    "hello, world ", "the quick brown fox jumps over the lazy dog " };
	uint8_t in[BUF], buf[BUF], dst[UPCASE_UTF8_MAX(BUF)], want[2 * BUF];
	struct upcase_carry cy = { 0, { 0 } };
	const uint8_t *got;
	size_t n = 0, len, wn, w;
	uint32_t r = 23;
	int round;

	for (round = 0; round < 200; round++) {
		for (n = 0;;) {
			w = rnd(&r) % (sizeof(words) / sizeof(words[0]));
			if (n + strlen(words[w]) > BUF)
				break;
			memcpy(in + n, words[w], strlen(words[w]));
			n += strlen(words[w]);
		}
		memcpy(buf, in, n);
		got = upcase_utf8_inplace(dst, buf, n, &cy, &len);
		ck_assert_uint_eq(cy.len, 0);
		wn = ref_utf8proc(in, n, want);
		ck_assert_uint_eq(len, wn);
		ck_assert_mem_eq(got, want, wn);
	}
}

START_TEST(test_inplace_mixed_text)
{
	both_paths(mixed_text);
}
END_TEST

/*
 * A stream cut once at every point, inside characters too, and into
 * random pieces: the carry goes from one call to the next, a piece of
 * ASCII after a carried cut goes the slow way, and the result is the
 * whole stream's.
 */
static void
cut_streams(void)
{
	uint8_t in[400], out[1000], want[1000];
	size_t cuts[64], n, i, k, nc, o, wn, at;
	uint32_t r = 29;
	int round;

	for (round = 0; round < 30; round++) {
		n = 100 + rnd(&r) % 300;
		fill_mixed(in, n, n, &r);
		for (i = 0; i < 12; i++) {	/* a dozen characters */
			const char *p = pieces[rnd(&r) % NPIECES];

			at = rnd(&r) % n;
			if (at + strlen(p) <= n)
				memcpy(in + at, p, strlen(p));
		}
		wn = ref_whole(in, n, want);
		for (k = 0; k <= n; k++) {
			cuts[0] = k;
			o = stream_inplace(in, n, cuts, 1, out);
			ck_assert_uint_eq(o, wn);
			ck_assert_mem_eq(out, want, wn);
		}
		for (i = 0; i < 20; i++) {
			nc = rnd(&r) % 64;
			for (k = 0; k < nc; k++)
				cuts[k] = rnd(&r) % (n + 1);
			for (k = 1; k < nc; k++) {	/* sort */
				size_t v = cuts[k], j = k;

				while (j > 0 && cuts[j - 1] > v) {
					cuts[j] = cuts[j - 1];
					j--;
				}
				cuts[j] = v;
			}
			o = stream_inplace(in, n, cuts, nc, out);
			ck_assert_uint_eq(o, wn);
			ck_assert_mem_eq(out, want, wn);
		}
	}
}

START_TEST(test_inplace_cut_streams)
{
	both_paths(cut_streams);
}
END_TEST

/*
 * The decoder's strictness byte by byte: every first byte from 0x80, with
 * second and third bytes on either side of each limit of RFC 3629's
 * table (overlongs, surrogates, past U+10FFFF), between ASCII, as a
 * whole buffer and cut after each byte: libutf8proc's output exactly.
 */
static void
strict_bytes(void)
{
	static const uint8_t third[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
	    0x9f, 0xa0, 0xa9, 0xbf, 0xc0, 0xe0, 0xff };
	static const uint8_t second[] = { 0x00, 0x7f, 0x80, 0x81, 0x8f,
	    0x90, 0x9f, 0xa0, 0xa1, 0xa9, 0xbe, 0xbf, 0xc0, 0xf5, 0xff };
	uint8_t in[16], out[64], want[64];
	size_t cuts[1], n, o, wn, t, k;
	size_t b1;
	unsigned b0;

	for (b0 = 0x80; b0 <= 0xff; b0++)
		for (b1 = 0; b1 < sizeof(second); b1++)
			for (t = 0; t < sizeof(third); t++) {
				n = 0;
				in[n++] = 'a';
				in[n++] = (uint8_t)b0;
				in[n++] = second[b1];
				in[n++] = third[t];
				in[n++] = 0x81;		/* a 4th byte */
				in[n++] = 'z';
				wn = ref_utf8proc(in, n, want);
				o = ref_whole(in, n, out);
				ck_assert_uint_eq(o, wn);
				ck_assert_mem_eq(out, want, wn);
				if (third[t] != 0x80 && third[t] != 0xbf)
					continue;	/* cut: fewer */
				for (k = 1; k < n; k++) {
					cuts[0] = k;
					o = stream_inplace(in, n, cuts, 1,
					    out);
					ck_assert_uint_eq(o, wn);
					ck_assert_mem_eq(out, want, wn);
				}
			}
}

START_TEST(test_strict_bytes)
{
	both_paths(strict_bytes);
}
END_TEST

/*
 * Every code point of planes 0 and 1 (no surrogates), and the first and
 * last 300 of every plane above, between ASCII and beside a character of
 * each length, so the case table is read across every page and block
 * boundary and past its end: libutf8proc's output exactly.
 */
static void
every_code_point(void)
{
	uint8_t in[32], out[64], want[64];
	size_t n, o, wn;
	uint32_t c;

	for (c = 0x80; c < 0x110000; c++) {
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		if (c >= 0x20000 && (c & 0xffff) == 300)
			c += 0x10000 - 600;	/* to the plane's end */
		n = 0;
		in[n++] = 'x';
		n += (size_t)utf8proc_encode_char((utf8proc_int32_t)c, in + n);
		memcpy(in + n, "\xc3\xa9\xe6\x97\xa5\xf0\x90\x90\xa8q", 10);
		n += 10;
		wn = ref_utf8proc(in, n, want);
		o = ref_whole(in, n, out);
		ck_assert_uint_eq(o, wn);
		ck_assert_mem_eq(out, want, wn);
		ck_assert_uint_eq(upcase_codepoint(c), (uint32_t)(c == 0xdf ?
		    0xdf : utf8proc_toupper((utf8proc_int32_t)c)));
	}
}

START_TEST(test_every_code_point_in_text)
{
	every_code_point();	/* no ASCII run: one path */
}
END_TEST

/* upcase_ascii(), AVX2 and portable, against the one-byte loop at every
 * alignment and length around the 32-byte vectors. */
static void
ascii_transform(void)
{
	uint8_t src[400], dst[400], ref[400];
	size_t off, n, i;
	uint32_t r = 31;

	for (i = 0; i < sizeof(src); i++)	/* every value, then noise */
		src[i] = (uint8_t)(i < 256 ? i * 97 : rnd(&r));
	for (off = 0; off < 64; off++)
		for (n = 0; off + n <= 330; n++) {
			memset(dst, 0x5a, sizeof(dst));
			memset(ref, 0x5a, sizeof(ref));
			upcase_ascii(dst + off, src + off, n);
			upcase_ascii_scalar(ref + off, src + off, n);
			ck_assert_mem_eq(dst, ref, sizeof(dst));
		}
}

START_TEST(test_ascii_both_paths)
{
	both_paths(ascii_transform);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fastpath");
	TCase *tc = tcase_create("fastpath");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_inplace_every_ascii);
	tcase_add_test(tc, test_inplace_mixed);
	tcase_add_test(tc, test_inplace_mixed_text);
	tcase_add_test(tc, test_inplace_cut_streams);
	tcase_add_test(tc, test_ascii_both_paths);
	tcase_add_test(tc, test_strict_bytes);
	tcase_add_test(tc, test_every_code_point_in_text);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

/*
 * fuzz_transform.c - the transforms of upcase.c against simple models.
 *
 * The first byte of an input steers the cuts, the rest is the text.
 *
 *  (a) upcase_ascii() (eight bytes at a time) equals upcase_ascii_scalar()
 *      at every alignment 0..7, out of place and in place.
 *  (b) upcase_utf8() equals a byte-at-a-time reference built here from
 *      the Unicode table of well-formed UTF-8 (Table 3-7) and
 *      upcase_codepoint(): every well-formed sequence becomes the UTF-8 of
 *      its uppercase, every other byte stays.  The stream may be cut
 *      anywhere: cut once at a chosen point, byte by byte (short inputs),
 *      and into random pieces (empty ones too), with the carry and a final
 *      flush, the output must be the same.  No call writes more than
 *      UPCASE_UTF8_MAX(n) bytes (the output buffers are exactly that big,
 *      so ASan sees any overrun) and the whole output is at most 3/2 of
 *      the input.
 *  (c) upcase_utf8_nogrow() equals the same reference in which a
 *      character whose uppercase needs more bytes is kept as it was; so it
 *      never grows, and equals upcase_utf8() when no character grows.
 *  (d) Bytes that can never be part of well-formed UTF-8 (80..BF alone,
 *      C0, C1, F5..FF) come back unchanged, by both forms.
 *  (e) upcase_utf8_inplace() (a TCP worker's "unicode", in place on
 *      ASCII) equals the reference of (b), whole and cut as in (b), each
 *      piece in a buffer of its own size.
 * The low bit of the first byte picks the portable loops
 * (upcase_portable()) or the vector code the CPU allows, for every part.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upcase.h"
#include "fuzz.h"

/* --- reference ---------------------------------------------------------- */

/*
 * Length of the well-formed sequence at p (avail bytes), or 0 if p[0]
 * does not start one that is complete here.  Written from the table of
 * the standard, independently of upcase.c's decoder.
 */
static size_t
ref_seq(const uint8_t *p, size_t avail, uint32_t *cp)
{
	static const struct {
		uint8_t lo0, hi0, lo1, hi1;
		size_t len;
	} table[] = {
		{ 0x00, 0x7f, 0, 0, 1 },
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	size_t t, k;

	for (t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
		if (p[0] < table[t].lo0 || p[0] > table[t].hi0)
			continue;
		if (table[t].len > avail)
			return 0;
		if (table[t].len == 1) {
			*cp = p[0];
			return 1;
		}
		if (p[1] < table[t].lo1 || p[1] > table[t].hi1)
			return 0;
		for (k = 2; k < table[t].len; k++)
			if (p[k] < 0x80 || p[k] > 0xbf)
				return 0;
		switch (table[t].len) {
		case 2:
			*cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
			break;
		case 3:
			*cp = (uint32_t)(p[0] & 0x0f) << 12 |
			    (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			break;
		default:
			*cp = (uint32_t)(p[0] & 0x07) << 18 |
			    (uint32_t)(p[1] & 0x3f) << 12 |
			    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
			break;
		}
		return table[t].len;
	}
	return 0;
}

static size_t
ref_encode(uint32_t c, uint8_t *out)
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

/*
 * The reference transform of in[0..n) into out (room 2n + 4); nogrow:
 * keep a character whose uppercase is longer.  *grew: some character's
 * uppercase is longer than it.
 */
static size_t
ref_upcase(const uint8_t *in, size_t n, uint8_t *out, bool nogrow,
    bool *grew)
{
	uint8_t enc[4];
	size_t i = 0, o = 0, len, el;
	uint32_t cp, up;

	*grew = false;
	while (i < n) {
		len = ref_seq(in + i, n - i, &cp);
		if (len == 0) {
			out[o++] = in[i++];
			continue;
		}
		up = upcase_codepoint(cp);
		CHECK(up <= 0x10ffff && (up < 0xd800 || up > 0xdfff),
		    "U+%04X maps to 0x%X, not a scalar value", cp, up);
		CHECK(cp >= 0x80 || up == (cp >= 'a' && cp <= 'z' ?
		    cp - 0x20 : cp), "ASCII 0x%02X maps to 0x%X", cp, up);
		el = ref_encode(up, enc);
		/* What UPCASE_UTF8_MAX() counts on: at most 3/2. */
		CHECK(2 * el <= 3 * len, "U+%04X (%zu bytes) -> U+%04X "
		    "(%zu bytes)", cp, len, up, el);
		if (el > len)
			*grew = true;
		if (nogrow && el > len) {
			memcpy(out + o, in + i, len);
			o += len;
		} else {
			memcpy(out + o, enc, el);
			o += el;
		}
		i += len;
	}
	return o;
}

/* --- helpers ------------------------------------------------------------ */

static void
check_same(const char *what, const uint8_t *got, size_t gotlen,
    const uint8_t *want, size_t wantlen, size_t n)
{
	size_t i;

	if (gotlen == wantlen && memcmp(got, want, gotlen) == 0)
		return;
	for (i = 0; i < gotlen && i < wantlen && got[i] == want[i]; i++)
		;
	CHECK(false, "%s: %zu bytes, want %zu (input %zu bytes), first "
	    "difference at %zu", what, gotlen, wantlen, n, i);
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * upcase_utf8() over in cut at cuts[0..ncuts) (ascending), then flush,
 * into out (room UPCASE_UTF8_MAX(n) + 4).  Each call writes into a heap
 * buffer of exactly UPCASE_UTF8_MAX(piece) bytes.
 */
static size_t
utf8_cut(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts,
    uint8_t *out)
{
	struct upcase_carry carry = { 0, { 0, 0, 0 } };
	size_t k, from = 0, to, o = 0, len;
	uint8_t *dst, tail[3];

	for (k = 0; k <= ncuts; k++) {
		to = k < ncuts ? cuts[k] : n;
		dst = malloc(UPCASE_UTF8_MAX(to - from));
		CHECK(dst != NULL, "malloc");
		len = upcase_utf8(dst, in + from, to - from, &carry);
		CHECK(len <= UPCASE_UTF8_MAX(to - from), "piece of %zu bytes "
		    "gave %zu", to - from, len);
		CHECK(carry.len <= 3, "carry of %u", carry.len);
		memcpy(out + o, dst, len);
		o += len;
		free(dst);
		from = to;
	}
	/* The flush writes the carried bytes, at most 3. */
	len = upcase_utf8_flush(tail, &carry);
	CHECK(len <= 3 && carry.len == 0, "flush of %zu", len);
	memcpy(out + o, tail, len);
	return o + len;
}

/* utf8_cut() with upcase_utf8_inplace(), each piece copied first. */
static size_t
inplace_cut(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts,
    uint8_t *out)
{
	struct upcase_carry carry = { 0, { 0, 0, 0 } };
	size_t k, from = 0, to, o = 0, len;
	uint8_t *piece, *dst, tail[3];
	const uint8_t *res;

	for (k = 0; k <= ncuts; k++) {
		to = k < ncuts ? cuts[k] : n;
		piece = malloc(to - from + 1);
		dst = malloc(UPCASE_UTF8_MAX(to - from));
		CHECK(piece != NULL && dst != NULL, "malloc");
		memcpy(piece, in + from, to - from);
		res = upcase_utf8_inplace(dst, piece, to - from, &carry, &len);
		CHECK(res == piece || res == dst, "returned neither buffer");
		CHECK(res == dst || len == to - from, "in place but %zu bytes "
		    "for %zu", len, to - from);
		CHECK(len <= UPCASE_UTF8_MAX(to - from), "piece of %zu bytes "
		    "gave %zu", to - from, len);
		memcpy(out + o, res, len);
		o += len;
		free(piece);
		free(dst);
		from = to;
	}
	len = upcase_utf8_flush(tail, &carry);
	memcpy(out + o, tail, len);
	return o + len;
}

/* --- the target --------------------------------------------------------- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in, *a, *b, *want, *got, *inv;
	size_t n, i, off, cap, wantlen, nglen, len, ncuts, *cuts;
	uint32_t seed;
	bool grew, grew2;

	if (size < 1)
		return 0;
	seed = 0x9e3779b9u ^ (uint32_t)data[0] * 0x01000193u;
	upcase_portable((data[0] & 1) != 0);
	n = size - 1;
	/* An exact-size copy: ASan sees any read past the end. */
	in = malloc(n);
	CHECK(in != NULL, "malloc");
	memcpy(in, data + 1, n);
	cap = UPCASE_UTF8_MAX(n) + 2 * n + 16;
	a = malloc(n + 8);
	b = malloc(n + 8);
	want = malloc(cap);
	got = malloc(cap);
	inv = malloc(n + 1);
	cuts = malloc((n + 1) * sizeof(*cuts));
	CHECK(a && b && want && got && inv && cuts, "malloc");

	/* (a) ASCII: fast against scalar, at each alignment, in place. */
	for (off = 0; off < 8 && off <= n; off++) {
		upcase_ascii(a + off, in + off, n - off);
		upcase_ascii_scalar(b + off, in + off, n - off);
		check_same("upcase_ascii", a + off, n - off, b + off, n - off,
		    n);
		memcpy(a + off, in + off, n - off);
		upcase_ascii(a + off, a + off, n - off);
		check_same("upcase_ascii in place", a + off, n - off, b + off,
		    n - off, n);
	}

	/* (b) Unicode: the reference, then the same whatever the cuts. */
	wantlen = ref_upcase(in, n, want, false, &grew);
	CHECK(wantlen <= n + n / 2, "output %zu for %zu bytes", wantlen, n);
	len = utf8_cut(in, n, NULL, 0, got);
	check_same("upcase_utf8 whole", got, len, want, wantlen, n);
	cuts[0] = n > 0 ? (size_t)data[0] * 257 % (n + 1) : 0;
	len = utf8_cut(in, n, cuts, 1, got);
	check_same("upcase_utf8 cut once", got, len, want, wantlen, n);
	if (n <= 256) {
		for (i = 0; i < n; i++)
			cuts[i] = i + 1;
		len = utf8_cut(in, n, cuts, n > 0 ? n - 1 : 0, got);
		check_same("upcase_utf8 byte by byte", got, len, want,
		    wantlen, n);
	}
	for (ncuts = 0, i = 0; i < n && ncuts < n; ncuts++) {
		i += rnd(&seed) % 9;	/* 0: an empty piece */
		cuts[ncuts] = i < n ? i : n;
	}
	len = utf8_cut(in, n, cuts, ncuts, got);
	check_same("upcase_utf8 random cuts", got, len, want, wantlen, n);

	/* (e) In place where it can be: the same output. */
	len = inplace_cut(in, n, NULL, 0, got);
	check_same("upcase_utf8_inplace whole", got, len, want, wantlen, n);
	len = inplace_cut(in, n, cuts, ncuts, got);
	check_same("upcase_utf8_inplace random cuts", got, len, want, wantlen,
	    n);

	/* (c) Never growing, in place. */
	memcpy(a, in, n);
	nglen = upcase_utf8_nogrow(a, n);
	CHECK(nglen <= n, "nogrow gave %zu for %zu", nglen, n);
	len = ref_upcase(in, n, want, true, &grew2);
	check_same("upcase_utf8_nogrow", a, nglen, want, len, n);
	if (!grew) {
		len = utf8_cut(in, n, NULL, 0, got);
		check_same("nogrow = upcase_utf8 when nothing grows", a, nglen,
		    got, len, n);
	}

	/* (d) Never-valid bytes: unchanged by both forms. */
	for (i = 0; i < n; i++) {
		static const uint8_t never[] = { 0xc0, 0xc1, 0xf5, 0xf6, 0xf7,
		    0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff };

		inv[i] = in[i] & 0x80 ? 0x80 | (in[i] & 0x3f) :
		    never[in[i] % sizeof(never)];
	}
	len = utf8_cut(inv, n, NULL, 0, got);
	check_same("invalid bytes (upcase_utf8)", got, len, inv, n, n);
	memcpy(a, inv, n);
	nglen = upcase_utf8_nogrow(a, n);
	check_same("invalid bytes (nogrow)", a, nglen, inv, n, n);

	free(in);
	free(a);
	free(b);
	free(want);
	free(got);
	free(inv);
	free(cuts);
	return 0;
}

/*
 * upcase.c - the uppercase transforms, ASCII and Unicode.
 *
 * The ASCII transform is a plain byte loop with no branch in its body, a
 * shape compilers turn into vector code (SSE2 on any x86-64, wider where
 * the target allows): configure builds the library with -ftree-vectorize,
 * and the result is several times faster than the eight-bytes-at-a-time
 * register trick it replaced (bench/upcase-speed).  A byte changes only
 * when it lies in 'a'..'z': bit 5 is cleared.  On an x86-64 with AVX2
 * (asked of the CPU once, at the first call) the same is done 32 bytes
 * at a time with AVX2 instructions: in bulk, where a worker reads 512 KiB
 * at a time, the transform is most of upcased's own CPU beyond the
 * kernel's, and AVX2 halves it (bench/README.md).  upcase_portable()
 * makes the tests run the portable loops as well.
 *
 * The Unicode transform finds runs of ASCII with the same kind of loop
 * (an OR over a block shows whether any byte has its high bit set),
 * hands them to the ASCII transform, and decodes only the bytes with the
 * high bit set.  upcase_utf8_inplace() is its fast path for the common
 * case, a buffer of ASCII with nothing carried: checked and uppercased
 * block by block where it lies, in one pass, with no copy; only from the
 * first byte with the high bit set does the output go elsewhere.  On ASCII
 * the Unicode mapping is exactly a-z to A-Z (libutf8proc agrees for every
 * code point below 0x80, and check_fastpath.c compares the two).  Past
 * ASCII, two- and three-byte sequences are checked and decoded inline,
 * the uppercase of planes 0 and 1 comes from one two-level table built
 * once per process (case_init()), and a character without case is
 * copied as it came.  Dense mixed text still runs some 100 times slower
 * than memcpy: a branch is mispredicted about once a character, and
 * without it the loop waits on each character's length before the next
 * (bench/README.md).  Decoding is strict (RFC 3629): overlong forms,
 * surrogates and code points past U+10FFFF are not valid sequences, so
 * their bytes pass through unchanged like any other invalid byte, and no
 * client byte is ever lost.  The case tables are libutf8proc's; see
 * upcase_codepoint() for the one place we differ.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <utf8proc.h>

#include "upcase.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UPCASE_AVX2	1
#include <immintrin.h>
#endif

#define ASCII_BLOCK	32
#define FAST_BLOCK	64	/* ascii_prefix_inplace(): a cache line */

static inline uint8_t
upcase_byte(uint8_t c)
{
	return (uint8_t)(c ^ ((uint8_t)(c - 'a') < 26 ? 0x20 : 0));
}

/* --- vector code: AVX2 where the CPU has it --------------------------- */

static bool	use_portable;	/* upcase_portable(): tests only */

#ifdef UPCASE_AVX2
static pthread_once_t	avx2_once = PTHREAD_ONCE_INIT;
static bool		avx2_ok;

static void
avx2_init(void)
{
	__builtin_cpu_init();
	avx2_ok = __builtin_cpu_supports("avx2") != 0;
}

static inline bool
use_avx2(void)
{
	(void)pthread_once(&avx2_once, avx2_init);
	return avx2_ok && !use_portable;
}

/*
 * 32 bytes: those in 'a'..'z' lose bit 5.  x + (0x80 - 'a') puts 'a'..'z'
 * at -128..-103 as signed bytes, so one signed compare finds them.
 */
__attribute__((target("avx2"))) static inline __m256i
upcase32(__m256i x)
{
	__m256i v, lower;

	v = _mm256_add_epi8(x, _mm256_set1_epi8((char)(0x80 - 'a')));
	lower = _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(-128 + 26)), v);
	return _mm256_xor_si256(x, _mm256_and_si256(lower,
	    _mm256_set1_epi8(0x20)));
}

/* upcase_ascii() up to the last whole 32 bytes; returns how far. */
__attribute__((target("avx2"))) static size_t
upcase_ascii_avx2(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i + 32 <= n; i += 32)
		_mm256_storeu_si256((__m256i *)(void *)(dst + i),
		    upcase32(_mm256_loadu_si256(
		    (const __m256i *)(const void *)(src + i))));
	return i;
}

/* ascii_prefix_inplace() by whole blocks; returns how far. */
__attribute__((target("avx2"))) static size_t
ascii_prefix_avx2(uint8_t *buf, size_t n)
{
	__m256i a, b;
	size_t i;

	for (i = 0; i + FAST_BLOCK <= n; i += FAST_BLOCK) {
		a = _mm256_loadu_si256((const __m256i *)(void *)(buf + i));
		b = _mm256_loadu_si256((const __m256i *)(void *)(buf + i +
		    32));
		if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) != 0)
			break;		/* a byte with the high bit set */
		_mm256_storeu_si256((__m256i *)(void *)(buf + i),
		    upcase32(a));
		_mm256_storeu_si256((__m256i *)(void *)(buf + i + 32),
		    upcase32(b));
	}
	return i;
}
#endif

void
upcase_portable(bool on)
{
	use_portable = on;
}

void
upcase_ascii(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;

#ifdef UPCASE_AVX2
	if (use_avx2())
		i = upcase_ascii_avx2(dst, src, n);
#endif
	/* Keep this loop branch-free: it is what gets vectorized. */
	for (; i < n; i++)
		dst[i] = upcase_byte(src[i]);
}

/* Length of the run of ASCII bytes at the start of p[0..n). */
static size_t
ascii_run(const uint8_t *p, size_t n)
{
	size_t i, k;
	uint8_t acc;

	/* Runs between non-ASCII characters are short: bytes first. */
	for (i = 0; i < 16; i++)
		if (i == n || p[i] >= 0x80)
			return i;
	for (; i + ASCII_BLOCK <= n; i += ASCII_BLOCK) {
		acc = 0;
		for (k = 0; k < ASCII_BLOCK; k++)	/* vectorized OR */
			acc |= p[i + k];
		if (acc & 0x80)
			break;
	}
	while (i < n && p[i] < 0x80)
		i++;
	return i;
}

/*
 * Uppercase in place the run of ASCII at the start of buf[0..n); returns
 * its length.  Bytes past the run are not touched.  A block is first
 * checked, then uppercased while it is still in L1: one pass over
 * memory, where ascii_run() and upcase_ascii() take two.
 */
static size_t
ascii_prefix_inplace(uint8_t *buf, size_t n)
{
	size_t i = 0, k;
	uint8_t acc;

#ifdef UPCASE_AVX2
	if (use_avx2())
		i = ascii_prefix_avx2(buf, n);
	else
#endif
	for (; i + FAST_BLOCK <= n; i += FAST_BLOCK) {
		acc = 0;
		for (k = 0; k < FAST_BLOCK; k++)	/* vectorized OR */
			acc |= buf[i + k];
		if (acc & 0x80)
			break;
		for (k = 0; k < FAST_BLOCK; k++)	/* vectorized */
			buf[i + k] = upcase_byte(buf[i + k]);
	}
	for (; i < n && buf[i] < 0x80; i++)
		buf[i] = upcase_byte(buf[i]);
	return i;
}

void
upcase_ascii_scalar(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 'a' && src[i] <= 'z') ?
		    (uint8_t)(src[i] - 'a' + 'A') : src[i];
}

/* --- Unicode ------------------------------------------------------------ */

/*
 * Decode the sequence at p (avail > 0 bytes).  Returns its length, 0 if
 * the bytes are a valid but unfinished beginning of one, or -1 if p[0]
 * does not start a valid sequence.
 */
static int
utf8_decode(const uint8_t *p, size_t avail, uint32_t *cp)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	uint32_t v;
	size_t need, k;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0fu;
		if (c == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (c == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07u;
		if (c == 0xf0)
			lo = 0x90;		/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;		/* past U+10FFFF */
	} else
		return -1;
	for (k = 1; k <= need; k++) {
		if (k >= avail)
			return 0;
		if (p[k] < lo || p[k] > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
		v = v << 6 | (p[k] & 0x3fu);
	}
	*cp = v;
	return (int)need + 1;
}

/*
 * utf8_decode() for the hot loops: a whole two- or three-byte sequence
 * (Latin, Greek, Cyrillic... and the rest of the BMP, CJK included) is
 * checked and decoded inline; anything else, and a sequence cut at the
 * end, goes to utf8_decode().  The checks are RFC 3629's: a three-byte
 * form below U+0800 is overlong, U+D800..U+DFFF are surrogates.
 */
static inline int
utf8_decode_fast(const uint8_t *p, size_t avail, uint32_t *cp)
{
	uint32_t v;

	if (avail >= 2 && (uint8_t)(p[0] - 0xc2) <= 0xdf - 0xc2 &&
	    (p[1] & 0xc0) == 0x80) {
		*cp = (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu);
		return 2;
	}
	if (avail >= 3 && (p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80) {
		v = (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 |
		    (p[2] & 0x3fu);
		if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) {
			*cp = v;
			return 3;
		}
		return -1;
	}
	return utf8_decode(p, avail, cp);
}

static size_t
utf8_len(uint32_t c)
{
	return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

static size_t
utf8_encode(uint32_t c, uint8_t *out)
{
	switch (utf8_len(c)) {
	case 1:
		out[0] = (uint8_t)c;
		return 1;
	case 2:
		out[0] = (uint8_t)(0xc0 | c >> 6);
		out[1] = (uint8_t)(0x80 | (c & 0x3f));
		return 2;
	case 3:
		out[0] = (uint8_t)(0xe0 | c >> 12);
		out[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (c & 0x3f));
		return 3;
	default:
		out[0] = (uint8_t)(0xf0 | c >> 18);
		out[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
		out[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		out[3] = (uint8_t)(0x80 | (c & 0x3f));
		return 4;
	}
}

/*
 * The simple (one code point to one code point) uppercase mapping, as
 * Go's strings.ToUpper applies it.  utf8proc 2.8 maps U+00DF (sharp s) to
 * U+1E9E, which Unicode's simple mapping does not: sharp s has no simple
 * uppercase and stays as it is.
 */
static uint32_t
upcase_lookup(uint32_t c)
{
	utf8proc_int32_t u;

	if (c < 0x80)
		return (uint32_t)upcase_byte((uint8_t)c);
	if (c == 0xdf)
		return c;
	u = utf8proc_toupper((utf8proc_int32_t)c);
	return u > 0 ? (uint32_t)u : c;
}

/*
 * The case table: the uppercase of every code point of planes 0 and 1
 * (all living scripts, symbols, emoji), built once per process from
 * upcase_lookup(), so from libutf8proc with its one exception.  Two
 * levels: case_page[c >> 8] names a page of 256 entries, each the
 * difference (mod 2^16) from c to its uppercase within c's plane.  Most
 * blocks have no case (CJK, symbols, emoji...) and share page 0, all
 * zeros: 27 pages of 512 bytes and a 512-byte index with Unicode 15,
 * where a flat table would take 256 KiB, per process.  Building it asks
 * libutf8proc about 128 Ki code points, about 1 ms, once.  Above plane 1
 * (CJK extensions, tags, private use; nothing cased in Unicode 15), in a
 * block whose mapping leaves its plane or past CASE_PAGES distinct pages
 * (neither happens), libutf8proc is asked each time, as before the
 * table.
 */
#define CASE_LIMIT	0x20000
#define CASE_BLOCKS	(CASE_LIMIT >> 8)
#define CASE_PAGES	64
#define CASE_SLOW	0xff
static uint8_t		 case_page[CASE_BLOCKS];
static uint16_t		 case_delta[CASE_PAGES][256];
static pthread_once_t	 case_once = PTHREAD_ONCE_INIT;

static void
case_init(void)
{
	uint16_t page[256];
	uint32_t b, c, u;
	unsigned k, npages = 1, j;
	bool slow, zero;

	for (b = 0; b < CASE_BLOCKS; b++) {
		slow = false;
		zero = true;
		for (k = 0; k < 256; k++) {
			c = b << 8 | k;
			u = (c >= 0xd800 && c <= 0xdfff) ? c : upcase_lookup(c);
			if ((u & 0x1f0000) != (c & 0x1f0000))
				slow = true;
			page[k] = (uint16_t)(u - c);
			zero = zero && page[k] == 0;
		}
		if (slow) {
			case_page[b] = CASE_SLOW;
			continue;
		}
		for (j = 0; j < npages; j++)	/* page 0: all zeros */
			if (memcmp(case_delta[j], page, sizeof(page)) == 0)
				break;
		if (j == npages && !zero) {
			if (npages == CASE_PAGES) {
				case_page[b] = CASE_SLOW;
				continue;
			}
			memcpy(case_delta[npages++], page, sizeof(page));
		}
		case_page[b] = (uint8_t)j;
	}
}

/* For the hot loops, which call pthread_once() once per buffer. */
static inline uint32_t
upcase_cp_fast(uint32_t c)
{
	unsigned p = c < CASE_LIMIT ? case_page[c >> 8] : CASE_SLOW;

	if (p == CASE_SLOW)
		return upcase_lookup(c);
	return (c & 0x1f0000) | ((c + case_delta[p][c & 0xff]) & 0xffff);
}

uint32_t
upcase_codepoint(uint32_t c)
{
	(void)pthread_once(&case_once, case_init);
	return c < 0x110000 ? upcase_cp_fast(c) : c;
}

const char *
upcase_unicode_version(void)
{
	return utf8proc_unicode_version();
}

/*
 * Finish a sequence carried from the last buffer with the first bytes of
 * this one.  Returns bytes written to dst; *used says how many of src were
 * taken.  The carry is a valid unfinished beginning, so either the joined
 * bytes complete it, or its first byte is invalid after all and the rest
 * of it (continuation bytes) is invalid too.
 */
static size_t
carry_join(uint8_t *dst, const uint8_t *src, size_t n,
    struct upcase_carry *cy, size_t *used)
{
	uint8_t tmp[8];
	size_t clen = cy->len, take = n < 3 ? n : 3, tl, i = 0, o = 0;
	uint32_t cp;
	int r;

	memcpy(tmp, cy->b, clen);
	memcpy(tmp + clen, src, take);
	tl = clen + take;
	cy->len = 0;
	while (i < clen) {
		r = utf8_decode(tmp + i, tl - i, &cp);
		if (r == 0) {			/* still unfinished */
			memcpy(cy->b, tmp + i, tl - i);
			cy->len = (uint8_t)(tl - i);
			*used = n;
			return o;
		}
		if (r > 0) {
			o += utf8_encode(upcase_codepoint(cp), dst + o);
			i += (size_t)r;
		} else
			dst[o++] = tmp[i++];
	}
	*used = i - clen;
	return o;
}

/* Whether p[0..16) is all ASCII. */
static inline bool
ascii16(const uint8_t *p)
{
	uint64_t a, b;

	memcpy(&a, p, sizeof(a));
	memcpy(&b, p + 8, sizeof(b));
	return ((a | b) & 0x8080808080808080ull) == 0;
}

size_t
upcase_utf8(uint8_t *dst, const uint8_t *src, size_t n,
    struct upcase_carry *carry)
{
	size_t i = 0, o = 0, run;
	uint32_t cp, up;
	int r;

	(void)pthread_once(&case_once, case_init);
	if (carry->len > 0)
		o = carry_join(dst, src, n, carry, &i);
	while (i < n) {
		if (src[i] < 0x80) {
			/* Short runs of ASCII between letters: a byte at a
			 * time, inline; from 16 bytes on, by blocks. */
			if (n - i < 16 || !ascii16(src + i)) {
				dst[o++] = upcase_byte(src[i++]);
				continue;
			}
			run = ascii_run(src + i, n - i);
			upcase_ascii(dst + o, src + i, run);
			i += run;
			o += run;
			continue;
		}
		r = utf8_decode_fast(src + i, n - i, &cp);
		if (r > 0) {
			up = upcase_cp_fast(cp);
			if (up == cp) {		/* no case: copy it */
				dst[o] = src[i];
				dst[o + 1] = src[i + 1];
				if (r > 2)
					dst[o + 2] = src[i + 2];
				if (r > 3)
					dst[o + 3] = src[i + 3];
				o += (size_t)r;
			} else
				o += utf8_encode(up, dst + o);
			i += (size_t)r;
		} else if (r == 0) {		/* cut at the end: carry it */
			carry->len = (uint8_t)(n - i);
			memcpy(carry->b, src + i, n - i);
			break;
		} else
			dst[o++] = src[i++];
	}
	return o;
}

const uint8_t *
upcase_utf8_inplace(uint8_t *dst, uint8_t *buf, size_t n,
    struct upcase_carry *carry, size_t *len)
{
	size_t k = 0;

	if (carry->len == 0) {
		k = ascii_prefix_inplace(buf, n);
		if (k == n) {		/* all ASCII: done where it lies */
			*len = n;
			return buf;
		}
		memcpy(dst, buf, k);
	}
	*len = k + upcase_utf8(dst + k, buf + k, n - k, carry);
	return dst;
}

size_t
upcase_utf8_flush(uint8_t *dst, struct upcase_carry *carry)
{
	size_t n = carry->len;

	memcpy(dst, carry->b, n);
	carry->len = 0;
	return n;
}

size_t
upcase_utf8_nogrow(uint8_t *buf, size_t n)
{
	uint8_t enc[4];
	size_t i = 0, o = 0, len, run;
	uint32_t cp;
	int r;

	(void)pthread_once(&case_once, case_init);
	/* o <= i throughout, so writing never overtakes reading. */
	while (i < n) {
		run = ascii_run(buf + i, n - i);
		if (o == i)
			upcase_ascii(buf + o, buf + i, run);
		else {
			memmove(buf + o, buf + i, run);
			upcase_ascii(buf + o, buf + o, run);
		}
		i += run;
		o += run;
		if (i >= n)
			break;
		r = utf8_decode_fast(buf + i, n - i, &cp);
		if (r <= 0) {			/* invalid or cut: as is */
			buf[o++] = buf[i++];
			continue;
		}
		len = utf8_encode(upcase_cp_fast(cp), enc);
		if (len > (size_t)r) {		/* would grow: as is */
			memmove(buf + o, buf + i, (size_t)r);
			o += (size_t)r;
		} else {
			memcpy(buf + o, enc, len);
			o += len;
		}
		i += (size_t)r;
	}
	return o;
}

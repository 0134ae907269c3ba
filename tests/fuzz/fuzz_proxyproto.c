/*
 * fuzz_proxyproto.c - the PROXY protocol header parser on any bytes, fed
 * as a stream that grows one byte at a time, against a model.
 *
 * The input is the start of a stream.  proxyproto_parse() is called on
 * each prefix (every one for inputs up to 600 bytes, else the first 600,
 * every 61st and the last 8; and when a sampled prefix is the first
 * DONE, the two around the header's end too).  The answers must be a run of MORE and then
 * either DONE from h->len on, always with the same header, or BAD for
 * good, with a short printable reason; *h is written only on DONE, *why
 * only on BAD.  A DONE header is at most PROXYPROTO_MAX bytes (107 for
 * v1), and its addresses are AF_INET or AF_INET6 pairs, or none (local).
 *
 * The model is a whole-header parser written here from the
 * specification, not incremental and not sharing code with proxyproto.c
 * (its CRC32C is table-driven, the parser's bitwise): when the input
 * holds a whole v1 line (up to its CRLF) or a whole v2 header, it says
 * valid (with the addresses, ports and length) or invalid, and the parser
 * must agree.  A valid header is never refused early (every prefix is
 * MORE), and an invalid one is never accepted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "fuzz.h"

enum verdict { UNDECIDED, VALID, INVALID };

struct model {
	enum verdict	 v;
	size_t		 len;
	int		 version;
	bool		 local;
	int		 family;
	uint8_t		 src[16], dst[16];
	uint16_t	 sport, dport;
};

/* ---- the v1 model ------------------------------------------------------- */

static bool
model_port(const uint8_t *t, size_t n, uint16_t *port)
{
	unsigned long v;
	char buf[8];
	char *end;
	size_t i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return false;
	if (n > 1 && t[0] == '0')
		return false;
	memcpy(buf, t, n);
	buf[n] = '\0';
	v = strtoul(buf, &end, 10);
	if (*end != '\0' || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool
model_addr(const uint8_t *t, size_t n, int family, uint8_t *out)
{
	char buf[64];

	if (n == 0 || n >= sizeof(buf) || memchr(t, '\0', n) != NULL)
		return false;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return inet_pton(family, buf, out) == 1;
}

/* The verdict on a whole line: "PROXY ..." of e bytes, then CRLF. */
static void
model_v1_line(const uint8_t *l, size_t e, struct model *m)
{
	const uint8_t *tok[8];
	size_t tlen[8], nt = 0, i, start;

	m->v = INVALID;
	if (e < 6 || memcmp(l, "PROXY ", 6) != 0)
		return;
	/* Split after "PROXY " at every space; empty pieces count. */
	for (start = 6, i = 6; i <= e; i++) {
		if (i < e && l[i] != ' ')
			continue;
		if (nt == 8)
			break;
		tok[nt] = l + start;
		tlen[nt++] = i - start;
		start = i + 1;
	}
	if (nt >= 1 && tlen[0] == 7 && memcmp(tok[0], "UNKNOWN", 7) == 0) {
		m->v = VALID;
		m->local = true;
		m->version = 1;
		m->len = e + 2;
		return;
	}
	if (nt != 5 || tlen[0] != 4 || memcmp(tok[0], "TCP", 3) != 0 ||
	    (tok[0][3] != '4' && tok[0][3] != '6'))
		return;
	m->family = tok[0][3] == '4' ? AF_INET : AF_INET6;
	if (!model_addr(tok[1], tlen[1], m->family, m->src) ||
	    !model_addr(tok[2], tlen[2], m->family, m->dst) ||
	    !model_port(tok[3], tlen[3], &m->sport) ||
	    !model_port(tok[4], tlen[4], &m->dport))
		return;
	m->v = VALID;
	m->version = 1;
	m->len = e + 2;
}

static void
model_v1(const uint8_t *d, size_t n, struct model *m)
{
	size_t e, lim = n < PROXYPROTO_V1_MAX ? n : PROXYPROTO_V1_MAX;

	m->v = UNDECIDED;
	if (memcmp(d, "PROXY ", n < 6 ? n : 6) != 0) {
		m->v = INVALID;
		return;
	}
	for (e = 0; e < lim; e++)
		if (d[e] == '\r' || d[e] == '\n')
			break;
	if (e == lim) {
		/* No end of line: past 107 bytes there can be none. */
		if (n >= PROXYPROTO_V1_MAX)
			m->v = INVALID;
		return;
	}
	if (d[e] == '\n' || e + 2 > PROXYPROTO_V1_MAX ||
	    (e + 1 < n && d[e + 1] != '\n')) {
		m->v = INVALID;
		return;
	}
	if (e + 1 == n) {
		/* A CR, the LF yet to come: only an invalid line is known. */
		model_v1_line(d, e, m);
		if (m->v == VALID)
			m->v = UNDECIDED;
		return;
	}
	model_v1_line(d, e, m);
}

/* ---- the v2 model ------------------------------------------------------- */

static uint32_t crc_table[256];

static void
crc_init(void)
{
	uint32_t c, i;
	int k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static void
model_v2(const uint8_t *d, size_t n, struct model *m)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	size_t len, alen, off, crc_at = 0, tl, i;
	uint32_t crc;

	m->v = UNDECIDED;
	if (memcmp(d, sig, n < 12 ? n : 12) != 0 ||
	    (n > 12 && d[12] != 0x20 && d[12] != 0x21) ||
	    (n > 13 && d[12] == 0x21 && d[13] != 0x11 && d[13] != 0x21)) {
		m->v = INVALID;
		return;
	}
	if (n < 16)
		return;
	len = (size_t)d[14] << 8 | d[15];
	alen = d[12] == 0x20 ? 0 : d[13] == 0x11 ? 12 : 36;
	if (16 + len > PROXYPROTO_MAX || len < alen) {
		m->v = INVALID;
		return;
	}
	if (n < 16 + len)
		return;		/* (the parser may see a bad TLV sooner) */
	m->v = INVALID;
	if (d[12] == 0x21) {
		for (off = 16 + alen; off < 16 + len; off += 3 + tl) {
			if (16 + len - off < 3)
				return;
			tl = (size_t)d[off + 1] << 8 | d[off + 2];
			if (off + 3 + tl > 16 + len)
				return;
			if (d[off] == 0x03) {
				if (tl != 4 || crc_at != 0)
					return;
				crc_at = off + 3;
			}
		}
		if (crc_at != 0) {
			crc = 0xffffffffu;
			for (i = 0; i < 16 + len; i++) {
				uint8_t b = i >= crc_at && i < crc_at + 4 ?
				    0 : d[i];

				crc = crc_table[(crc ^ b) & 0xff] ^ crc >> 8;
			}
			crc = ~crc;
			if (crc != ((uint32_t)d[crc_at] << 24 |
			    (uint32_t)d[crc_at + 1] << 16 |
			    (uint32_t)d[crc_at + 2] << 8 | d[crc_at + 3]))
				return;
		}
		m->family = d[13] == 0x11 ? AF_INET : AF_INET6;
		alen = m->family == AF_INET ? 4 : 16;
		memcpy(m->src, d + 16, alen);
		memcpy(m->dst, d + 16 + alen, alen);
		m->sport = (uint16_t)(d[16 + 2 * alen] << 8 | d[17 + 2 * alen]);
		m->dport = (uint16_t)(d[18 + 2 * alen] << 8 | d[19 + 2 * alen]);
	} else {
		m->local = true;
	}
	m->v = VALID;
	m->version = 2;
	m->len = 16 + len;
}

/* ---- checks ------------------------------------------------------------- */

static void
check_end(const struct sockaddr_storage *ss, socklen_t sl, int family,
    const uint8_t *addr, uint16_t port)
{
	CHECK(ss->ss_family == family, "family %d, want %d", ss->ss_family,
	    family);
	if (family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		CHECK(sl == sizeof(*s) && memcmp(&s->sin_addr, addr, 4) == 0 &&
		    ntohs(s->sin_port) == port, "IPv4 end");
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		CHECK(sl == sizeof(*s) && memcmp(&s->sin6_addr, addr, 16) == 0 &&
		    ntohs(s->sin6_port) == port && s->sin6_scope_id == 0 &&
		    s->sin6_flowinfo == 0, "IPv6 end");
	}
}

static void
check_sane(const struct proxyproto_header *h, size_t n)
{
	CHECK(h->len > 0 && h->len <= n && h->len <= PROXYPROTO_MAX,
	    "len %zu of %zu", h->len, n);
	CHECK(h->version == 1 || h->version == 2, "version %d", h->version);
	CHECK(h->version == 2 || h->len <= PROXYPROTO_V1_MAX, "v1 len %zu",
	    h->len);
	if (h->local) {
		CHECK(h->srclen == 0 && h->dstlen == 0 &&
		    h->src.ss_family == AF_UNSPEC &&
		    h->dst.ss_family == AF_UNSPEC, "local with addresses");
		return;
	}
	CHECK(h->src.ss_family == h->dst.ss_family &&
	    (h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6),
	    "families %d %d", h->src.ss_family, h->dst.ss_family);
}

static void
check_why(const char *why)
{
	size_t i;

	CHECK(why != NULL && why[0] != '\0', "no reason");
	for (i = 0; why[i] != '\0'; i++)
		CHECK(why[i] >= 0x20 && why[i] < 0x7f && i < 80,
		    "reason \"%s\"", why);
}

/* Which prefixes to try: all of short inputs, a sample of long ones. */
static bool
tried(size_t k, size_t n)
{
	return n <= 600 || k <= 600 || k % 61 == 0 || k + 8 >= n;
}

/* The parser on the first k bytes, in a buffer of exactly k bytes (so
 * ASan sees a read past the bytes received); *h is preset to sentinel. */
static enum proxyproto_result
parse_prefix(const uint8_t *data, size_t k, struct proxyproto_header *h,
    const struct proxyproto_header *sentinel, const char **why)
{
	enum proxyproto_result r;
	uint8_t *buf;

	buf = malloc(k > 0 ? k : 1);
	CHECK(buf != NULL, "malloc");
	memcpy(buf, data, k);
	*h = *sentinel;
	*why = NULL;
	r = proxyproto_parse(buf, k, h, why);
	free(buf);
	return r;
}

/*
 * The first DONE seen is at k, the prefix tried before it at last: the
 * header ends in (last, k].  When sampling skipped its end, the prefixes
 * just before and at the end must say MORE and DONE (the same header).
 */
static void
check_first_done(const uint8_t *data, size_t k, size_t last,
    const struct proxyproto_header *h,
    const struct proxyproto_header *sentinel)
{
	struct proxyproto_header at;
	const char *why;

	CHECK(h->len > last && h->len <= k, "DONE at %zu with len %zu "
	    "(MORE at %zu)", k, h->len, last);
	if (h->len == k)
		return;
	CHECK(parse_prefix(data, h->len - 1, &at, sentinel, &why) ==
	    PROXYPROTO_MORE, "not MORE just before the end (%zu)", h->len);
	CHECK(parse_prefix(data, h->len, &at, sentinel, &why) ==
	    PROXYPROTO_DONE && memcmp(&at, h, sizeof(at)) == 0,
	    "not the same DONE at the end (%zu)", h->len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct proxyproto_header h, done, sentinel;
	enum proxyproto_result r, prev = PROXYPROTO_MORE;
	struct model m;
	const char *why;
	size_t k, last = 0;

	if (!init) {
		crc_init();
		init = true;
	}
	memset(&sentinel, 0x5a, sizeof(sentinel));
	memset(&done, 0, sizeof(done));
	for (k = 0; k <= size; k++) {
		if (!tried(k, size))
			continue;
		r = parse_prefix(data, k, &h, &sentinel, &why);
		CHECK(r == PROXYPROTO_MORE || r == PROXYPROTO_DONE ||
		    r == PROXYPROTO_BAD, "result %d", r);
		if (r != PROXYPROTO_DONE)
			CHECK(memcmp(&h, &sentinel, sizeof(h)) == 0,
			    "*h written at %zu", k);
		if (r != PROXYPROTO_BAD)
			CHECK(why == NULL, "why written at %zu: %s", k, why);
		else
			check_why(why);
		/* MORE..., then DONE... or BAD... */
		CHECK(prev == PROXYPROTO_MORE || r == prev,
		    "%zu bytes: %d after %d", k, r, prev);
		if (r == PROXYPROTO_DONE) {
			check_sane(&h, k);
			if (prev != PROXYPROTO_DONE) {
				done = h;
				check_first_done(data, k, last, &h,
				    &sentinel);
			} else {
				CHECK(memcmp(&h, &done, sizeof(h)) == 0,
				    "another header at %zu", k);
			}
		}
		prev = r;
		last = k;
		/* The model, on what it can judge. */
		if (k == 0)
			continue;
		memset(&m, 0, sizeof(m));
		if (data[0] == '\r')
			model_v2(data, k, &m);
		else
			model_v1(data, k, &m);
		if (m.v == INVALID)
			CHECK(r == PROXYPROTO_BAD, "%zu bytes: model says "
			    "invalid, parser %d", k, r);
		if (m.v == UNDECIDED)
			CHECK(r != PROXYPROTO_DONE, "%zu bytes: DONE early", k);
		if (m.v != VALID)
			continue;
		CHECK(r == PROXYPROTO_DONE, "%zu bytes: model says valid "
		    "(%zu bytes), parser %d (%s)", k, m.len, r,
		    why != NULL ? why : "");
		CHECK(h.len == m.len && h.version == m.version &&
		    h.local == m.local, "len %zu/%zu version %d/%d local %d/%d",
		    h.len, m.len, h.version, m.version, h.local, m.local);
		if (!m.local) {
			check_end(&h.src, h.srclen, m.family, m.src, m.sport);
			check_end(&h.dst, h.dstlen, m.family, m.dst, m.dport);
		}
	}
	return 0;
}

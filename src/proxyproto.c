/*
 * proxyproto.c - the PROXY protocol header parser (v1 text, v2 binary).
 *
 * Owns nothing and keeps no state: proxyproto_parse() looks at the bytes
 * of a stream received so far and says MORE, DONE or BAD.  Called by the
 * TCP engine in a worker thread each time bytes arrive from a trusted
 * balancer; the unit tests and the fuzz target call it directly.
 *
 * Specification: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
 *
 * MORE means the bytes so far can still be completed into a valid header,
 * so a wrong header is refused at the first byte that makes it wrong.  For
 * v1 that takes some care: a field still being received is checked by
 * trying the few shortest endings that could make it valid (an address by
 * inet_pton(), which is also the judge of a whole address), and the
 * shortest ending of the whole line must still fit in 107 bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyproto.h"

#define STR(x)	#x
#define XSTR(x)	STR(x)

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V1_MAGIC	"PROXY "
#define V1_MAGIC_LEN	6
#define V2_HDR_LEN	16
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_TCP4		0x11
#define V2_TCP6		0x21
#define V2_TLV_CRC32C	0x03

static const char *const why_not_proxy = "not a PROXY header";
static const char *const why_v1_long =
    "v1 line longer than " XSTR(PROXYPROTO_V1_MAX) " bytes";
static const char *const why_v1_proto =
    "v1 protocol not TCP4, TCP6 or UNKNOWN";
static const char *const why_v1_space =
    "v1 fields not separated by single spaces";
static const char *const why_v1_few = "v1 line has too few fields";
static const char *const why_v1_many = "v1 line has too many fields";
static const char *const why_v1_src =
    "v1 source address not valid for its family";
static const char *const why_v1_dst =
    "v1 destination address not valid for its family";
static const char *const why_v1_port =
    "v1 port not decimal 0-65535 without leading zeros";

/* ---- v1 ----------------------------------------------------------------- */

enum v1_field { V1_SRC, V1_DST, V1_SPORT, V1_DPORT, V1_NFIELDS };

/* The fewest bytes of a whole field: "0.0.0.0", "::", "0". */
static size_t
v1_field_min(enum v1_field f, int family)
{
	if (f >= V1_SPORT)
		return 1;
	return family == AF_INET ? 7 : 2;
}

/* The fewest bytes of fields from..3, each with the space before it. */
static size_t
v1_fields_min(enum v1_field from, int family)
{
	size_t need = 0;
	int f;

	for (f = from; f < V1_NFIELDS; f++)
		need += 1 + v1_field_min((enum v1_field)f, family);
	return need;
}

/* Only bytes that can be in an address of this family (no NUL!). */
static bool
v1_addr_chars(const uint8_t *s, size_t len, int family)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = s[i];
		bool ok = (c >= '0' && c <= '9') || c == '.';

		if (family == AF_INET6)
			ok = ok || c == ':' || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F');
		if (!ok)
			return false;
	}
	return true;
}

/* Is s[0..len) a whole address of this family?  *out gets it. */
static bool
v1_addr(const uint8_t *s, size_t len, int family, void *out)
{
	char text[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(text) ||
	    !v1_addr_chars(s, len, family))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	return inet_pton(family, text, out) == 1;
}

/*
 * Can s[0..len), an address still being received, be completed?  If so,
 * *need is the fewest bytes that complete it.  The endings tried are the
 * shortest for each way an address can go on: nothing, a digit, a colon
 * (to make "::" or end a group), a new group, "::", and the missing parts
 * of a dotted quad (alone or as the end of an IPv6 address).
 */
static bool
v1_addr_prefix(const uint8_t *s, size_t len, int family, size_t *need)
{
	static const char *const endings[] = { "", "0", ":", ":0", "::",
	    ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0" };
	uint8_t text[INET6_ADDRSTRLEN + 8];
	struct in6_addr scratch;
	size_t i, el;

	if (len >= INET6_ADDRSTRLEN || !v1_addr_chars(s, len, family))
		return false;
	memcpy(text, s, len);
	for (i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
		el = strlen(endings[i]);
		memcpy(text + len, endings[i], el);
		if (v1_addr(text, len + el, family, &scratch)) {
			*need = el;
			return true;
		}
	}
	return false;
}

/*
 * A port: 1-5 digits, no leading zero but "0" itself, at most 65535.  If
 * !whole, s may be the beginning of one (even empty).
 */
static bool
v1_port(const uint8_t *s, size_t len, bool whole, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	if (len == 0)
		return !whole;
	if (len > 5 || (s[0] == '0' && len > 1))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static const char *
v1_field_why(enum v1_field f)
{
	switch (f) {
	case V1_SRC:
		return why_v1_src;
	case V1_DST:
		return why_v1_dst;
	default:
		return why_v1_port;
	}
}

/* Fill one end of *h from a whole address and port. */
static void
v1_fill(struct sockaddr_storage *ss, socklen_t *sl, int family,
    const void *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		sin->sin_port = htons(port);
		*sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		sin6->sin6_port = htons(port);
		*sl = sizeof(*sin6);
	}
}

/*
 * The protocol word at b[0..len), followed by a space (spaced) or not
 * (still being received, or the end of a whole line).  Returns AF_INET,
 * AF_INET6, 0 for a valid beginning of a word (*need: the fewest bytes
 * that complete the line, CRLF aside), or -1.
 */
static int
v1_proto(const uint8_t *b, size_t len, bool spaced, bool whole,
    size_t *need)
{
	static const struct {
		const char	*word;
		int		 family;
	} protos[] = { { "TCP4", AF_INET }, { "TCP6", AF_INET6 } };
	size_t i, wl, best = SIZE_MAX, n;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		wl = strlen(protos[i].word);
		if (spaced || whole) {
			if (len == wl && memcmp(b, protos[i].word, wl) == 0)
				return protos[i].family;
			continue;
		}
		if (len <= wl && memcmp(b, protos[i].word, len) == 0) {
			n = wl - len + v1_fields_min(V1_SRC,
			    protos[i].family);
			if (n < best)
				best = n;
		}
	}
	/* "UNKNOWN" itself is handled by the caller: here only its start. */
	if (!spaced && !whole && len < 7 && memcmp(b, "UNKNOWN", len) == 0 &&
	    7 - len < best)
		best = 7 - len;
	if (best == SIZE_MAX)
		return -1;
	*need = best;
	return 0;
}

/*
 * Check a v1 line without its CRLF, b[0..len), which starts with "PROXY ".
 * whole: the CR came right after it.  Returns NULL if it is valid (whole)
 * or can still be completed (!whole; *need is then the fewest bytes that
 * complete it, CRLF aside), else why not.  Fills *h when whole and valid.
 */
static const char *
v1_body(const uint8_t *b, size_t len, bool whole, size_t *need,
    struct proxyproto_header *h)
{
	struct in6_addr addr[2];
	uint16_t port[2] = { 0, 0 };
	size_t pos = V1_MAGIC_LEN, end, fl;
	int family, f;

	*need = 0;
	if (len >= V1_MAGIC_LEN + 7 && memcmp(b + pos, "UNKNOWN", 7) == 0) {
		/* Anything may follow, after a space. */
		if (len > V1_MAGIC_LEN + 7 && b[V1_MAGIC_LEN + 7] != ' ')
			return why_v1_proto;
		if (whole) {
			memset(h, 0, sizeof(*h));
			h->version = 1;
			h->local = true;
		}
		return NULL;
	}
	for (end = pos; end < len && b[end] != ' '; end++)
		continue;
	family = v1_proto(b + pos, end - pos, end < len, whole, need);
	if (family < 0)
		return why_v1_proto;
	if (family == 0)
		return NULL;
	for (f = V1_SRC; f < V1_NFIELDS; f++) {
		if (end == len)
			return whole ? why_v1_few : NULL;
		pos = end + 1;	/* past the space */
		for (end = pos; end < len && b[end] != ' '; end++)
			continue;
		fl = end - pos;
		if (fl == 0 && end < len)
			return why_v1_space;
		if (end == len && !whole) {
			/* The field being received: can it still end well? */
			bool ok;

			if (f <= V1_DST)
				ok = v1_addr_prefix(b + pos, fl, family, need);
			else if ((ok = v1_port(b + pos, fl, false,
			    &port[0])))
				*need = fl == 0 ? 1 : 0;
			if (!ok)
				return v1_field_why((enum v1_field)f);
			*need += v1_fields_min((enum v1_field)(f + 1), family);
			return NULL;
		}
		if (fl == 0)
			return f == V1_DPORT ? why_v1_space : why_v1_few;
		if (f <= V1_DST ? !v1_addr(b + pos, fl, family, &addr[f]) :
		    !v1_port(b + pos, fl, true, &port[f - V1_SPORT]))
			return v1_field_why((enum v1_field)f);
	}
	if (end < len)
		return why_v1_many;
	/* whole: the loop returned otherwise */
	memset(h, 0, sizeof(*h));
	h->version = 1;
	v1_fill(&h->src, &h->srclen, family, &addr[0], port[0]);
	v1_fill(&h->dst, &h->dstlen, family, &addr[1], port[1]);
	return NULL;
}

static enum proxyproto_result
v1_parse(const uint8_t *buf, size_t n, struct proxyproto_header *h,
    const char **why)
{
	struct proxyproto_header line;
	size_t lim = n < PROXYPROTO_V1_MAX ? n : PROXYPROTO_V1_MAX;
	size_t i, need;
	const char *bad;

	if (memcmp(buf, V1_MAGIC, n < V1_MAGIC_LEN ? n : V1_MAGIC_LEN) != 0) {
		*why = why_not_proxy;
		return PROXYPROTO_BAD;
	}
	if (n < V1_MAGIC_LEN)
		return PROXYPROTO_MORE;
	for (i = V1_MAGIC_LEN; i < lim; i++)
		if (buf[i] == '\r' || buf[i] == '\n')
			break;
	if (i < lim && buf[i] == '\n') {
		*why = "v1 line ends in LF without CR";
		return PROXYPROTO_BAD;
	}
	if (i < lim && i + 2 <= PROXYPROTO_V1_MAX) {
		/* A CR: the line is whole, and the next byte must be LF. */
		if (i + 1 < n && buf[i + 1] != '\n') {
			*why = "v1 line has a CR without LF";
			return PROXYPROTO_BAD;
		}
		if ((bad = v1_body(buf, i, true, &need, &line)) != NULL) {
			*why = bad;
			return PROXYPROTO_BAD;
		}
		if (i + 1 == n)
			return PROXYPROTO_MORE;
		*h = line;
		h->len = i + 2;
		return PROXYPROTO_DONE;
	}
	/* No CR yet (or too late): can the line still end in time? */
	if ((bad = v1_body(buf, i, false, &need, &line)) != NULL) {
		*why = bad;
		return PROXYPROTO_BAD;
	}
	if (i < lim || i + need + 2 > PROXYPROTO_V1_MAX) {
		*why = why_v1_long;
		return PROXYPROTO_BAD;
	}
	return PROXYPROTO_MORE;
}

/* ---- v2 ----------------------------------------------------------------- */

/* CRC32C (Castagnoli, reflected), as RFC 4960 appendix B describes it;
 * the 4 bytes at skip are taken as zeros. */
static uint32_t
crc32c(const uint8_t *p, size_t n, size_t skip)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		crc ^= i >= skip && i < skip + 4 ? 0u : (uint32_t)p[i];
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Walk the TLVs in buf[from..end), using the first n bytes of buf: each
 * must fit exactly.  Returns NULL (*crc_at: where a CRC32C value is, or
 * 0) or why not.
 */
static const char *
v2_tlvs(const uint8_t *buf, size_t n, size_t from, size_t end,
    size_t *crc_at)
{
	size_t off = from, tl;

	*crc_at = 0;
	while (off < end) {
		if (end - off < 3)
			return "v2 TLV overruns the header";
		if (off + 3 > n)
			break;
		tl = be16(buf + off + 1);
		if (tl > end - off - 3)
			return "v2 TLV overruns the header";
		if (buf[off] == V2_TLV_CRC32C) {
			if (tl != 4)
				return "v2 CRC32C TLV not 4 bytes";
			if (*crc_at != 0)
				return "v2 CRC32C TLV twice";
			*crc_at = off + 3;
		}
		off += 3 + tl;
	}
	return NULL;
}

static enum proxyproto_result
v2_parse(const uint8_t *buf, size_t n, struct proxyproto_header *h,
    const char **why)
{
	size_t len, alen, crc_at;
	uint8_t cmd, fam;
	const uint8_t *a;
	const char *bad;

	if (memcmp(buf, v2_sig, n < sizeof(v2_sig) ? n : sizeof(v2_sig)) != 0) {
		*why = why_not_proxy;
		return PROXYPROTO_BAD;
	}
	if (n <= 12)
		return PROXYPROTO_MORE;
	if (buf[12] >> 4 != 2) {
		*why = "v2 version not 2";
		return PROXYPROTO_BAD;
	}
	cmd = buf[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY) {
		*why = "v2 command not LOCAL or PROXY";
		return PROXYPROTO_BAD;
	}
	if (n <= 13)
		return PROXYPROTO_MORE;
	fam = buf[13];
	if (cmd == V2_CMD_PROXY && fam != V2_TCP4 && fam != V2_TCP6) {
		*why = "v2 family not TCP over IPv4/IPv6";
		return PROXYPROTO_BAD;
	}
	if (n < V2_HDR_LEN)
		return PROXYPROTO_MORE;
	len = be16(buf + 14);
	if (V2_HDR_LEN + len > PROXYPROTO_MAX) {
		*why = "v2 header longer than " XSTR(PROXYPROTO_MAX) " bytes";
		return PROXYPROTO_BAD;
	}
	if (cmd == V2_CMD_LOCAL) {
		/* The spec: use the real endpoints, ignore the block. */
		if (n < V2_HDR_LEN + len)
			return PROXYPROTO_MORE;
		memset(h, 0, sizeof(*h));
		h->version = 2;
		h->local = true;
		h->len = V2_HDR_LEN + len;
		return PROXYPROTO_DONE;
	}
	alen = fam == V2_TCP4 ? 12 : 36;
	if (len < alen) {
		*why = "v2 length shorter than its address block";
		return PROXYPROTO_BAD;
	}
	bad = v2_tlvs(buf, n, V2_HDR_LEN + alen, V2_HDR_LEN + len, &crc_at);
	if (bad != NULL) {
		*why = bad;
		return PROXYPROTO_BAD;
	}
	if (n < V2_HDR_LEN + len)
		return PROXYPROTO_MORE;
	if (crc_at != 0 && crc32c(buf, V2_HDR_LEN + len, crc_at) !=
	    ((uint32_t)buf[crc_at] << 24 | (uint32_t)buf[crc_at + 1] << 16 |
	    (uint32_t)buf[crc_at + 2] << 8 | buf[crc_at + 3])) {
		*why = "v2 CRC32C does not match";
		return PROXYPROTO_BAD;
	}

	memset(h, 0, sizeof(*h));
	h->version = 2;
	h->len = V2_HDR_LEN + len;
	a = buf + V2_HDR_LEN;
	if (fam == V2_TCP4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		h->srclen = h->dstlen = sizeof(struct sockaddr_in);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		h->srclen = h->dstlen = sizeof(struct sockaddr_in6);
	}
	return PROXYPROTO_DONE;
}

/* ---- both --------------------------------------------------------------- */

enum proxyproto_result
proxyproto_parse(const uint8_t *buf, size_t n, struct proxyproto_header *h,
    const char **why)
{
	const char *scratch;

	if (why == NULL)
		why = &scratch;
	if (n == 0)
		return PROXYPROTO_MORE;
	/* The two signatures differ in their first byte. */
	if (buf[0] == v2_sig[0])
		return v2_parse(buf, n, h, why);
	return v1_parse(buf, n, h, why);
}

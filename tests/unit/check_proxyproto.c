/*
 * check_proxyproto.c - the PROXY protocol v1/v2 header parser: every
 * split point of valid headers (MORE up to the last byte, then DONE with
 * the payload left alone), every malformed field refused at the first
 * byte that makes it wrong, the length bounds, TLVs, and headers captured
 * from the real HAProxy 2.6 and nginx 1.22.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ck_assert_msg() records every passing check (a write() each, which
 * made the exhaustive loops slow, under valgrind above all): in loops,
 * only a failure goes to Check. */
#define REQUIRE(cond, ...)						\
	do {								\
		if (!(cond))						\
			ck_abort_msg(__VA_ARGS__);			\
	} while (0)

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static const char payload[] = "hello\n";

/*
 * Captured on 127.0.0.1 from the Debian 12 packages: HAProxy 2.6.12 with
 * backends "server s1 127.0.0.1:PORT send-proxy-v2 check check-send-proxy"
 * (and send-proxy for v1), nginx 1.22.1 with a stream server doing
 * "proxy_protocol on;", each relaying "hello\n" to a Python listener that
 * wrote down what it received.  The same bytes are fuzz seeds
 * (tests/fuzz/corpus/proxyproto/haproxy-* and nginx-*).
 */
/* HAProxy send-proxy-v2, client 127.0.0.1:40572 to frontend :47101. */
static const uint8_t haproxy_v2_tcp4[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x0c, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
	0x9e, 0x7c, 0xb7, 0xfd
};
/* HAProxy check-send-proxy health check with send-proxy-v2: LOCAL. */
static const uint8_t haproxy_v2_local[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x20, 0x00, 0x00, 0x00
};
/* HAProxy send-proxy-v2, client [::1]:57396 to frontend [::1]:47103. */
static const uint8_t haproxy_v2_tcp6[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x21, 0x00, 0x24,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0xe0, 0x34, 0xb7, 0xff
};
/*
 * HAProxy send-proxy-v2 with "proxy-v2-options unique-id,crc32c" and
 * "unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid": a CRC32C TLV
 * (type 3) and a UNIQUE_ID TLV (type 5, 46 bytes); client
 * 127.0.0.1:49988 to frontend :47107.
 */
static const uint8_t haproxy_v2_tlv[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x44, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
	0xc3, 0x44, 0xb8, 0x03, 0x03, 0x00, 0x04, 0x57, 0x98, 0x4a, 0xb6, 0x05,
	0x00, 0x2e, '7', 'F', '0', '0', '0', '0', '0', '1', ':', 'C', '3', '4',
	'4', '_', '7', 'F', '0', '0', '0', '0', '0', '1', ':', 'B', '8', '0',
	'3', '_', '6', 'B', '1', '5', '3', 'A', 'A', 'B', '_', '0', '0', '0',
	'0', ':', '3', '7', '8', '0'
};
/* HAProxy send-proxy (v1), client 127.0.0.1:54414 to frontend :47102. */
static const char haproxy_v1_tcp4[] =
    "PROXY TCP4 127.0.0.1 127.0.0.1 54414 47102\r\n";
/* HAProxy check-send-proxy with send-proxy (v1): no UNKNOWN, its own
 * addresses (the check's source port, the server's port). */
static const char haproxy_v1_check[] =
    "PROXY TCP4 127.0.0.1 127.0.0.1 52956 47202\r\n";
/* HAProxy send-proxy, client [::1]:34092 to frontend [::1]:47104. */
static const char haproxy_v1_tcp6[] = "PROXY TCP6 ::1 ::1 34092 47104\r\n";
/* nginx stream proxy_protocol on, client 127.0.0.1:49624 to :47105. */
static const char nginx_v1_tcp4[] =
    "PROXY TCP4 127.0.0.1 127.0.0.1 49624 47105\r\n";
/* nginx stream proxy_protocol on, client [::1]:33754 to [::1]:47106. */
static const char nginx_v1_tcp6[] = "PROXY TCP6 ::1 ::1 33754 47106\r\n";

/* ---- helpers ------------------------------------------------------------ */

static enum proxyproto_result
parse(const uint8_t *buf, size_t n, struct proxyproto_header *h,
    const char **why)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);	/* exact size: ASan, valgrind */
	enum proxyproto_result r;

	REQUIRE(copy != NULL, "malloc");
	if (n > 0)
		memcpy(copy, buf, n);
	r = proxyproto_parse(copy, n, h, why);
	free(copy);
	return r;
}

static void
show(char *out, size_t outlen, const uint8_t *b, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < outlen; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
			out[o++] = (char)b[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    b[i]);
	}
	out[o] = '\0';
}

/*
 * hdr[0..len) is a whole valid header: each shorter prefix is MORE (and
 * leaves *h and *why alone), and the header alone and followed by each
 * prefix of a payload is DONE with h->len == len and the same result.
 */
static struct proxyproto_header
splits_done(const uint8_t *hdr, size_t len)
{
	struct proxyproto_header h, first, sentinel;
	const char *why;
	uint8_t buf[PROXYPROTO_MAX + sizeof(payload)];
	char text[512];
	size_t k, p;

	ck_assert_uint_le(len, PROXYPROTO_MAX);
	show(text, sizeof(text), hdr, len);
	memcpy(buf, hdr, len);
	memcpy(buf + len, payload, sizeof(payload) - 1);
	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (k = 0; k < len; k++) {
		h = sentinel;
		why = "untouched";
		REQUIRE(parse(buf, k, &h, &why) == PROXYPROTO_MORE,
		    "%s: %zu of %zu bytes: not MORE (%s)", text, k, len, why);
		REQUIRE(memcmp(&h, &sentinel, sizeof(h)) == 0 &&
		    strcmp(why, "untouched") == 0, "%s: %zu: wrote", text, k);
	}
	for (p = 0; p < sizeof(payload); p++) {
		why = "untouched";
		memset(&h, 0xa5, sizeof(h));
		REQUIRE(parse(buf, len + p, &h, &why) ==
		    PROXYPROTO_DONE, "%s + %zu payload bytes: not DONE (%s)",
		    text, p, why);
		REQUIRE(strcmp(why, "untouched") == 0, "%s: why written", text);
		REQUIRE(h.len == len, "%s: len %zu, want %zu", text, h.len,
		    len);
		if (p == 0)
			first = h;
		else
			REQUIRE(memcmp(&h, &first, sizeof(h)) == 0,
			    "%s: + %zu payload bytes: another result", text, p);
	}
	/* NULL why is allowed. */
	REQUIRE(proxyproto_parse(buf, len, &h, NULL) == PROXYPROTO_DONE,
	    "%s: why NULL", text);
	return first;
}

static struct proxyproto_header
splits_done_str(const char *line)
{
	return splits_done((const uint8_t *)line, strlen(line));
}

/*
 * buf[0..n) is bad, and its first ok bytes are the longest valid
 * beginning: those prefixes are MORE, every longer one is BAD with a
 * reason containing "reason" (and *h untouched).
 */
static void
bad_at(const uint8_t *buf, size_t n, size_t ok, const char *reason)
{
	struct proxyproto_header h, sentinel;
	const char *why;
	char text[512];
	size_t k;

	ck_assert_uint_lt(ok, n);
	show(text, sizeof(text), buf, n);
	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (k = 0; k <= n; k++) {
		enum proxyproto_result r;

		h = sentinel;
		why = NULL;
		r = parse(buf, k, &h, &why);
		REQUIRE(memcmp(&h, &sentinel, sizeof(h)) == 0,
		    "%s: %zu: *h written", text, k);
		if (k <= ok) {
			REQUIRE(r == PROXYPROTO_MORE,
			    "%s: %zu bytes: %d, want MORE (%s)", text, k, r,
			    why != NULL ? why : "");
			REQUIRE(why == NULL, "%s: %zu: why set", text, k);
			continue;
		}
		REQUIRE(r == PROXYPROTO_BAD,
		    "%s: %zu bytes: %d, want BAD at %zu", text, k, r, ok + 1);
		REQUIRE(why != NULL, "%s: %zu: no why", text, k);
		REQUIRE(strstr(why, reason) != NULL,
		    "%s: %zu: \"%s\", want \"%s\"", text, k, why, reason);
	}
}

static void
bad_at_str(const char *line, size_t ok, const char *reason)
{
	bad_at((const uint8_t *)line, strlen(line), ok, reason);
}

/* ok is where the first occurrence of "mark" starts in line. */
static size_t
at(const char *line, const char *mark)
{
	const char *p = strstr(line, mark);

	ck_assert_ptr_nonnull(p);
	return (size_t)(p - line);
}

static void
check_end(const struct sockaddr_storage *ss, socklen_t len, int family,
    const char *text, uint16_t port)
{
	uint8_t want[16];

	ck_assert_int_eq(ss->ss_family, family);
	ck_assert_int_eq(inet_pton(family, text, want), 1);
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		ck_assert_uint_eq(len, sizeof(*sin));
		ck_assert(memcmp(&sin->sin_addr, want, 4) == 0);
		ck_assert_uint_eq(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)ss;

		ck_assert_uint_eq(len, sizeof(*sin6));
		ck_assert_msg(memcmp(&sin6->sin6_addr, want, 16) == 0, "%s",
		    text);
		ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
		ck_assert_uint_eq(sin6->sin6_scope_id, 0);
		ck_assert_uint_eq(sin6->sin6_flowinfo, 0);
	}
}

static void
check_proxied(const struct proxyproto_header *h, int version, int family,
    const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	ck_assert_int_eq(h->version, version);
	ck_assert(!h->local);
	check_end(&h->src, h->srclen, family, src, sport);
	check_end(&h->dst, h->dstlen, family, dst, dport);
}

static void
check_local(const struct proxyproto_header *h, int version)
{
	ck_assert_int_eq(h->version, version);
	ck_assert(h->local);
	ck_assert_uint_eq(h->srclen, 0);
	ck_assert_uint_eq(h->dstlen, 0);
	ck_assert_int_eq(h->src.ss_family, AF_UNSPEC);
}

/* A v2 header: signature, ver_cmd, fam, len, then nbody bytes of body. */
static size_t
v2(uint8_t *out, uint8_t vc, uint8_t fam, uint16_t len, const uint8_t *body,
    size_t nbody)
{
	memcpy(out, sig, 12);
	out[12] = vc;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (nbody > 0)
		memcpy(out + 16, body, nbody);
	return 16 + nbody;
}

static const uint8_t addr4[12] = { 192, 0, 2, 1, 198, 51, 100, 7,
    0xd4, 0x31, 0x1f, 0x48 };		/* ports 54321, 8008 */
static const uint8_t addr6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3,
	0x00, 0x00, 0xff, 0xff };	/* ports 0, 65535 */

/* A v2 PROXY TCP4 header: addr4, then the ntlv bytes of tlv. */
static size_t
v2_tcp4_tlv(uint8_t *out, const uint8_t *tlv, size_t ntlv)
{
	uint8_t body[64];

	ck_assert_uint_le(12 + ntlv, sizeof(body));
	memcpy(body, addr4, 12);
	memcpy(body + 12, tlv, ntlv);
	return v2(out, 0x21, 0x11, (uint16_t)(12 + ntlv), body, 12 + ntlv);
}

/* ---- v1 ----------------------------------------------------------------- */

START_TEST(test_v1_real)
{
	struct proxyproto_header h;

	h = splits_done_str(haproxy_v1_tcp4);
	check_proxied(&h, 1, AF_INET, "127.0.0.1", 54414, "127.0.0.1", 47102);
	h = splits_done_str(haproxy_v1_check);
	check_proxied(&h, 1, AF_INET, "127.0.0.1", 52956, "127.0.0.1", 47202);
	h = splits_done_str(haproxy_v1_tcp6);
	check_proxied(&h, 1, AF_INET6, "::1", 34092, "::1", 47104);
	h = splits_done_str(nginx_v1_tcp4);
	check_proxied(&h, 1, AF_INET, "127.0.0.1", 49624, "127.0.0.1", 47105);
	h = splits_done_str(nginx_v1_tcp6);
	check_proxied(&h, 1, AF_INET6, "::1", 33754, "::1", 47106);
}
END_TEST

START_TEST(test_v1_tcp4)
{
	static const struct {
		const char	*line, *src, *dst;
		uint16_t	 sport, dport;
	} ok[] = {
		{ "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		  "192.168.0.1", "192.168.0.11", 56324, 443 },
		{ "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
		  "255.255.255.255", "255.255.255.255", 65535, 65535 },
		{ "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n",
		  "0.0.0.0", "0.0.0.0", 0, 0 },
		{ "PROXY TCP4 10.0.0.10 100.1.20.0 10 100\r\n",
		  "10.0.0.10", "100.1.20.0", 10, 100 },
	};
	struct proxyproto_header h;
	size_t i;

	/* The spec's longest TCP4 line is 56 bytes. */
	ck_assert_uint_eq(strlen(ok[1].line), 56);
	for (i = 0; i < NELEM(ok); i++) {
		h = splits_done_str(ok[i].line);
		check_proxied(&h, 1, AF_INET, ok[i].src, ok[i].sport,
		    ok[i].dst, ok[i].dport);
	}
}
END_TEST

START_TEST(test_v1_tcp6)
{
	static const struct {
		const char	*line, *src, *dst;
		uint16_t	 sport, dport;
	} ok[] = {
		{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535 },
		{ "PROXY TCP6 2001:DB8::1 2001:db8:0:0:0:0:0:2 1 2\r\n",
		  "2001:db8::1", "2001:db8::2", 1, 2 },
		{ "PROXY TCP6 :: ::1 0 8008\r\n", "::", "::1", 0, 8008 },
		/* IPv4-mapped stays IPv6; the caller judges it. */
		{ "PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c000:202 4000 8008\r\n",
		  "::ffff:192.0.2.1", "::ffff:192.0.2.2", 4000, 8008 },
		{ "PROXY TCP6 1:2:3:4:5:6:7:: ::2:3:4:5:6:7:8 1 1\r\n",
		  "1:2:3:4:5:6:7:0", "0:2:3:4:5:6:7:8", 1, 1 },
		{ "PROXY TCP6 0001:0db8:00:0::0 1:2:3:4:5:6:1.2.3.4 9 99\r\n",
		  "1:db8::", "1:2:3:4:5:6:102:304", 9, 99 },
		/* exactly 107 bytes: a 45- and a 36-byte address */
		{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
		  "fff:ffff:ffff:ffff:ffff:ffff:1.2.3.4 65535 65535\r\n",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "fff:ffff:ffff:ffff:ffff:ffff:102:304", 65535, 65535 },
	};
	struct proxyproto_header h;
	size_t i;

	/* The spec's longest TCP6 line is 104 bytes. */
	ck_assert_uint_eq(strlen(ok[0].line), 104);
	ck_assert_uint_eq(strlen(ok[NELEM(ok) - 1].line), PROXYPROTO_V1_MAX);
	for (i = 0; i < NELEM(ok); i++) {
		h = splits_done_str(ok[i].line);
		check_proxied(&h, 1, AF_INET6, ok[i].src, ok[i].sport,
		    ok[i].dst, ok[i].dport);
	}
}
END_TEST

START_TEST(test_v1_unknown)
{
	static const char *const ok[] = {
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN \r\n",
		"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UNKNOWN whatever  it\tsays, even \x01\x7f\xff\r\n",
		/* the spec's worst case: 107 bytes */
		("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
	};
	struct proxyproto_header h;
	uint8_t nul[] = "PROXY UNKNOWN \0\0 x\r\n";
	size_t i;

	ck_assert_uint_eq(strlen(ok[0]), 15);
	ck_assert_uint_eq(strlen(ok[4]), PROXYPROTO_V1_MAX);
	for (i = 0; i < NELEM(ok); i++) {
		h = splits_done_str(ok[i]);
		check_local(&h, 1);
	}
	h = splits_done(nul, sizeof(nul) - 1);
	check_local(&h, 1);
}
END_TEST

START_TEST(test_v1_unknown_bad)
{
	char line[300];

	bad_at_str("PROXY UNKNOWNX\r\n", 13, "protocol");
	bad_at_str("PROXY UNKNOWN\n", 13, "LF without CR");
	bad_at_str("PROXY UNKNOWN a\nb\r\n", 15, "LF without CR");
	bad_at_str("PROXY UNKNOWN a\rb\r\n", 16, "CR without LF");
	bad_at_str("PROXY UNKNOW\r\n", 12, "protocol");
	bad_at_str("PROXY UNKNOWN\r\r\n", 14, "CR without LF");
	/* 108 bytes: the CR would be the 107th */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 3);
	bad_at_str(line, 105, "longer than 107");
	/* no CRLF at all */
	line[106] = 'x';
	line[250] = '\0';
	bad_at_str(line, 105, "longer than 107");
}
END_TEST

START_TEST(test_v1_malformed)
{
	static const struct {
		const char	*line;
		const char	*mark;	/* the first bad byte */
		const char	*reason;
	} bad[] = {
		/* not PROXY */
		{ "GET / HTTP/1.0\r\n", "GET", "not a PROXY" },
		{ "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "proxy", "not a PROXY" },
		{ "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4", "not a PROXY" },
		{ "PROX\r\n", "\r", "not a PROXY" },
		{ "\nPROXY UNKNOWN\r\n", "\n", "not a PROXY" },
		/* protocol */
		{ "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "5 1", "protocol" },
		{ "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "tcp4", "protocol" },
		{ "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "DP4", "protocol" },
		{ "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", "4 1", "protocol" },
		{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", " TCP4", "protocol" },
		{ "PROXY \r\n", "\r", "protocol" },
		{ "PROXY TCP\r\n", "\r", "protocol" },
		/* spaces and field counts */
		{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", " 1.2", "single spaces" },
		{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", " 5.6", "single spaces" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", " 1 2", "single spaces" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", " 2\r", "single spaces" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", " \r", "too many" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", " 3", "too many" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", "\r", "single spaces" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "\r", "too few" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8\r\n", "\r", "too few" },
		{ "PROXY TCP4 1.2.3.4\r\n", "\r", "too few" },
		{ "PROXY TCP4\r\n", "\r", "too few" },
		{ "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "\t", "source" },
		/* line ends */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "\n", "LF without CR" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rZ", "Z", "CR without LF" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", "\r\n", "CR without LF" },
		{ "PROXY TCP4 1.2.3.4\r\n5.6.7.8 1 2\r\n", "\r", "too few" },
		/* IPv4 addresses */
		{ "PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n", "6.1", "source" },
		{ "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", ".5 ", "source" },
		{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", " 5.6", "source" },
		{ "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "1.2.3.4", "source" },
		{ "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", "4 5", "source" },
		{ "PROXY TCP4 1..2.3 5.6.7.8 1 2\r\n", ".2.3", "source" },
		{ "PROXY TCP4 .1.2.3 5.6.7.8 1 2\r\n", ".1.2", "source" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.300 1 2\r\n", "0 1", "destination" },
		{ "PROXY TCP4 1.2.3.4 5.6.7. 1 2\r\n", " 1 2", "destination" },
		{ "PROXY TCP4 1.2.3.4 localhost 1 2\r\n", "localhost",
		  "destination" },
		{ "PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n", "x1", "source" },
		/* the wrong family */
		{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "::1", "source" },
		{ "PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n", "::f", "source" },
		{ "PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "::1 1", "destination" },
		{ "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ".2.3.4", "source" },
		{ "PROXY TCP6 ::1 5.6.7.8 1 2\r\n", ".6.7", "destination" },
		/* IPv6 addresses */
		{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", ":9", "source" },
		{ "PROXY TCP6 1:2:3:4:5:6:7:8::9 ::1 1 2\r\n", "::9", "source" },
		{ "PROXY TCP6 1::2::3 ::1 1 2\r\n", ":3", "source" },
		{ "PROXY TCP6 12345:: ::1 1 2\r\n", "5::", "source" },
		{ "PROXY TCP6 ::: ::1 1 2\r\n", ": ::1", "source" },
		{ "PROXY TCP6 :1 ::1 1 2\r\n", "1 ::", "source" },
		{ "PROXY TCP6 1:2 ::1 1 2\r\n", " ::1", "source" },
		{ "PROXY TCP6 fe80::1%lo ::1 1 2\r\n", "%", "source" },
		{ "PROXY TCP6 [::1] ::1 1 2\r\n", "[", "source" },
		{ "PROXY TCP6 ::g ::1 1 2\r\n", "g", "source" },
		{ "PROXY TCP6 ::1:2:3:4:5:6:7:8 ::1 1 2\r\n", ":8", "source" },
		{ "PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n", ".2.3.4",
		  "source" },
		{ "PROXY TCP6 ::ffff:1.2.3.4.5 ::1 1 2\r\n", ".5", "source" },
		{ "PROXY TCP6 ::ffff:01.2.3.4 ::1 1 2\r\n", ".2.3.4", "source" },
		{ "PROXY TCP6 ::ffff:1.2.3.4:1 ::1 1 2\r\n", ":1 ", "source" },
		{ "PROXY TCP6 ::1 ::ffff:1.2.3 1 2\r\n", " 1 2", "destination" },
		/* ports */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "6 2", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "6\r", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n", "9 2", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n", "0 2", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "1 2", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", "0\r", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "+", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "-", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n", "x", "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n", "a", "port" },
		/* a line that cannot end within 107 bytes */
		{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
		  "ffff:ffff:ffff:ffff:ffff:ffff:1.2.3.4 65535 65535\r\n",
		  "5\r\n", "longer than 107" },
	};
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		const char *p = bad[i].line;

		/* The first occurrence of the mark is the first bad byte. */
		bad_at_str(p, at(p, bad[i].mark), bad[i].reason);
	}
	/* A NUL in an address or a port. */
	{
		static const uint8_t nul_addr[] =
		    "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n";
		static const uint8_t nul_port[] =
		    "PROXY TCP4 1.2.3.4 5.6.7.8 1\0 2\r\n";
		static const uint8_t nul_addr6[] =
		    "PROXY TCP6 ::1 ::1\0 1 2\r\n";

		bad_at(nul_addr, sizeof(nul_addr) - 1, 18, "source");
		bad_at(nul_addr6, sizeof(nul_addr6) - 1, 18, "destination");
		bad_at(nul_port, sizeof(nul_port) - 1, 28, "port");
	}
}
END_TEST

/*
 * Every IPv6 text inet_pton() accepts over the letters 0 1 : . up to 9
 * characters (and so every form of "::", groups and dotted quads that
 * short): the line with it as the source is DONE, and every prefix of
 * that line is MORE.  So no valid address is refused early.  The strings
 * inet_pton() refuses are refused too, at the latest at the space.
 */
START_TEST(test_v1_ipv6_every_short_text)
{
	static const char letters[] = "01:.";
	char s[16], line[80];
	struct in6_addr a;
	size_t len, i, valid = 0;
	unsigned long code, count;

	for (len = 1; len <= 9; len++) {
		count = 1;
		for (i = 0; i < len; i++)
			count *= 4;
		for (code = 0; code < count; code++) {
			unsigned long c = code;
			struct proxyproto_header h;
			enum proxyproto_result r;

			for (i = 0; i < len; i++, c /= 4)
				s[i] = letters[c % 4];
			s[len] = '\0';
			snprintf(line, sizeof(line), "PROXY TCP6 %s ::1 1 2\r\n",
			    s);
			if (inet_pton(AF_INET6, s, &a) != 1) {
				r = proxyproto_parse((const uint8_t *)line,
				    strlen(line), &h, NULL);
				REQUIRE(r == PROXYPROTO_BAD, "%s", s);
				r = proxyproto_parse((const uint8_t *)line,
				    11 + len + 1, &h, NULL);
				REQUIRE(r == PROXYPROTO_BAD, "%s", s);
				continue;
			}
			valid++;
			h = splits_done_str(line);
			REQUIRE(memcmp(&((struct sockaddr_in6 *)&h.src)->
			    sin6_addr, &a, sizeof(a)) == 0, "%s: address", s);
		}
	}
	/* "::", "::1", "1::", "::1.1.1.1", ... */
	ck_assert_uint_gt(valid, 50);
}
END_TEST

/* Every IPv4 address with octets of each length and the edges. */
START_TEST(test_v1_ipv4_many)
{
	static const char *const oct[] = { "0", "1", "9", "10", "99", "100",
	    "199", "255" };
	char line[80], dst[16];
	size_t a, b;

	for (a = 0; a < NELEM(oct) * NELEM(oct); a++) {
		for (b = 0; b < NELEM(oct) * NELEM(oct); b += 7) {
			struct proxyproto_header h;

			snprintf(dst, sizeof(dst), "%s.%s.%s.%s",
			    oct[b / NELEM(oct)], oct[b % NELEM(oct)],
			    oct[a % NELEM(oct)], oct[a / NELEM(oct)]);
			snprintf(line, sizeof(line),
			    "PROXY TCP4 %s.%s.1.%s %s 65535 0\r\n",
			    oct[a / NELEM(oct)], oct[a % NELEM(oct)],
			    oct[b % NELEM(oct)], dst);
			h = splits_done_str(line);
			ck_assert_uint_eq(h.len, strlen(line));
			check_end(&h.dst, h.dstlen, AF_INET, dst, 0);
		}
	}
}
END_TEST

START_TEST(test_v1_every_port)
{
	char line[80];
	unsigned p;

	for (p = 0; p <= 65535; p += (p < 1100 ? 1 : 97)) {
		struct proxyproto_header h;
		size_t n;

		n = (size_t)snprintf(line, sizeof(line),
		    "PROXY TCP4 1.2.3.4 5.6.7.8 %u %u\r\n", p, 65535 - p);
		ck_assert(proxyproto_parse((const uint8_t *)line, n, &h,
		    NULL) == PROXYPROTO_DONE);
		check_proxied(&h, 1, AF_INET, "1.2.3.4", (uint16_t)p,
		    "5.6.7.8", (uint16_t)(65535 - p));
	}
}
END_TEST

/* ---- v2 ----------------------------------------------------------------- */

START_TEST(test_v2_real)
{
	struct proxyproto_header h;

	h = splits_done(haproxy_v2_tcp4, sizeof(haproxy_v2_tcp4));
	check_proxied(&h, 2, AF_INET, "127.0.0.1", 40572, "127.0.0.1", 47101);
	h = splits_done(haproxy_v2_local, sizeof(haproxy_v2_local));
	check_local(&h, 2);
	h = splits_done(haproxy_v2_tcp6, sizeof(haproxy_v2_tcp6));
	check_proxied(&h, 2, AF_INET6, "::1", 57396, "::1", 47103);
	h = splits_done(haproxy_v2_tlv, sizeof(haproxy_v2_tlv));
	check_proxied(&h, 2, AF_INET, "127.0.0.1", 49988, "127.0.0.1", 47107);
}
END_TEST

/* The CRC32C HAProxy computed must match, and only the right one. */
START_TEST(test_v2_crc32c)
{
	uint8_t b[sizeof(haproxy_v2_tlv)];
	size_t i;

	/* Any byte of the address block or the TLVs changed: refused, at
	 * the end at the latest (other checks may see it first).  Not byte
	 * 28, the CRC TLV's type: without a CRC TLV nothing is checked. */
	for (i = 16; i < sizeof(b); i++) {
		struct proxyproto_header h;

		if (i == 28)
			continue;

		memcpy(b, haproxy_v2_tlv, sizeof(b));
		b[i] ^= 0x01;
		ck_assert_msg(proxyproto_parse(b, sizeof(b), &h, NULL) ==
		    PROXYPROTO_BAD, "byte %zu", i);
	}
	/* A change only in the unique ID is seen by the CRC alone. */
	memcpy(b, haproxy_v2_tlv, sizeof(b));
	b[sizeof(b) - 1] = '1';
	bad_at(b, sizeof(b), sizeof(b) - 1, "CRC32C does not match");
	/* ... and in the CRC itself. */
	memcpy(b, haproxy_v2_tlv, sizeof(b));
	b[34] ^= 0x80;
	bad_at(b, sizeof(b), sizeof(b) - 1, "CRC32C does not match");
}
END_TEST

START_TEST(test_v2_crc32c_bad_tlv)
{
	static const uint8_t crc3[] = { 0x03, 0x00, 0x03, 1, 2, 3 };
	static const uint8_t crc5[] = { 0x03, 0x00, 0x05, 1, 2, 3, 4, 5 };
	static const uint8_t two[] = { 0x03, 0x00, 0x04, 1, 2, 3, 4,
	    0x03, 0x00, 0x04, 1, 2, 3, 4 };
	uint8_t b[128];
	size_t n;

	n = v2_tcp4_tlv(b, crc3, sizeof(crc3));
	bad_at(b, n, 30, "not 4 bytes");
	n = v2_tcp4_tlv(b, crc5, sizeof(crc5));
	bad_at(b, n, 30, "not 4 bytes");
	n = v2_tcp4_tlv(b, two, sizeof(two));
	bad_at(b, n, 37, "twice");
}
END_TEST

START_TEST(test_v2_tcp4_tcp6)
{
	static const uint8_t tlvs[] = {
		0x01, 0x00, 0x02, 'h', '2',			/* ALPN */
		0x02, 0x00, 0x03, 'a', '.', 'b',		/* AUTHORITY */
		0x04, 0x00, 0x00,				/* NOOP */
		0x05, 0x00, 0x01, 'u',				/* UNIQUE_ID */
		0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,	/* SSL */
		0x30, 0x00, 0x01, 'n',				/* NETNS */
		0xe0, 0x00, 0x02, 'x', 'y',			/* custom */
	};
	struct proxyproto_header h;
	uint8_t b[128], body[64];
	size_t n;

	n = v2(b, 0x21, 0x11, 12, addr4, 12);
	h = splits_done(b, n);
	check_proxied(&h, 2, AF_INET, "192.0.2.1", 54321, "198.51.100.7",
	    8008);
	n = v2(b, 0x21, 0x21, 36, addr6, 36);
	h = splits_done(b, n);
	/* The mapped destination stays as sent. */
	check_proxied(&h, 2, AF_INET6, "2001:db8::1", 0, "::ffff:10.1.2.3",
	    65535);
	/* TLVs of each registered type, an empty one, a custom one. */
	n = v2_tcp4_tlv(b, tlvs, sizeof(tlvs));
	h = splits_done(b, n);
	check_proxied(&h, 2, AF_INET, "192.0.2.1", 54321, "198.51.100.7",
	    8008);
	/* Bytes after the address block of the TCP6 kind too. */
	memcpy(body, addr6, 36);
	memcpy(body + 36, "\x04\x00\x01" "z", 4);
	n = v2(b, 0x21, 0x21, 40, body, 40);
	h = splits_done(b, n);
	ck_assert_uint_eq(h.len, 56);
}
END_TEST

/* The largest header accepted: PROXYPROTO_MAX bytes of it TLVs. */
START_TEST(test_v2_max_tlv)
{
	static uint8_t b[PROXYPROTO_MAX + 1], body[PROXYPROTO_MAX];
	size_t area = PROXYPROTO_MAX - 16 - 12, n, off;
	struct proxyproto_header h;

	ck_assert_uint_eq(area % 3, 0);
	/* One NOOP TLV over the whole area. */
	memcpy(body, addr4, 12);
	memset(body + 12, 0x5a, area);
	body[12] = 0x04;
	body[13] = (uint8_t)((area - 3) >> 8);
	body[14] = (uint8_t)(area - 3);
	n = v2(b, 0x21, 0x11, (uint16_t)(12 + area), body, 12 + area);
	ck_assert_uint_eq(n, PROXYPROTO_MAX);
	h = splits_done(b, n);
	check_proxied(&h, 2, AF_INET, "192.0.2.1", 54321, "198.51.100.7",
	    8008);
	/* As many empty TLVs as fit. */
	for (off = 12; off < 12 + area; off += 3)
		memcpy(body + off, "\xe1\x00\x00", 3);
	n = v2(b, 0x21, 0x11, (uint16_t)(12 + area), body, 12 + area);
	h = splits_done(b, n);
	ck_assert_uint_eq(h.len, PROXYPROTO_MAX);
	/* One byte more is over the bound, refused as the length comes. */
	n = v2(b, 0x21, 0x11, (uint16_t)(12 + area + 1), body, 12 + area + 1);
	bad_at(b, n, 15, "longer than 4096");
	/* LOCAL too. */
	n = v2(b, 0x20, 0x00, (uint16_t)(PROXYPROTO_MAX - 16 + 1), body,
	    PROXYPROTO_MAX - 16 + 1);
	bad_at(b, n, 15, "longer than 4096");
	n = v2(b, 0x20, 0x00, (uint16_t)(PROXYPROTO_MAX - 16), body,
	    PROXYPROTO_MAX - 16);
	h = splits_done(b, n);
	check_local(&h, 2);
	/* The largest length field there is. */
	n = v2(b, 0x21, 0x21, 0xffff, addr6, 36);
	bad_at(b, n, 15, "longer than 4096");
}
END_TEST

START_TEST(test_v2_local)
{
	struct proxyproto_header h;
	uint8_t b[300], body[256];
	size_t n;
	unsigned fam;

	/* LOCAL with an address block: still local, addresses ignored. */
	n = v2(b, 0x20, 0x11, 12, addr4, 12);
	h = splits_done(b, n);
	check_local(&h, 2);
	n = v2(b, 0x20, 0x21, 36, addr6, 36);
	h = splits_done(b, n);
	check_local(&h, 2);
	/* Any family, any length within bounds, the block not read. */
	memset(body, 0xff, sizeof(body));
	for (fam = 0; fam < 256; fam++) {
		n = v2(b, 0x20, (uint8_t)fam, 0, NULL, 0);
		h = splits_done(b, n);
		check_local(&h, 2);
		n = v2(b, 0x20, (uint8_t)fam, 5, body, 5);
		h = splits_done(b, n);
		ck_assert_uint_eq(h.len, 21);
		check_local(&h, 2);
	}
	/* UNIX addresses (216 bytes) with LOCAL are fine too. */
	n = v2(b, 0x20, 0x31, 216, body, 216);
	h = splits_done(b, n);
	ck_assert_uint_eq(h.len, 232);
}
END_TEST

START_TEST(test_v2_signature)
{
	uint8_t b[64];
	size_t i, n;
	unsigned x;

	/* Each byte of the signature wrong: refused at that byte. */
	for (i = 0; i < 12; i++) {
		for (x = 1; x < 256; x <<= 1) {
			n = v2(b, 0x21, 0x11, 12, addr4, 12);
			b[i] ^= (uint8_t)x;
			bad_at(b, n, i, "not a PROXY header");
		}
	}
	/* A v1 line and a v2 header do not mix. */
	memcpy(b, "PROXY ", 6);
	memcpy(b + 6, sig, 12);
	bad_at(b, 18, 6, "protocol");
}
END_TEST

START_TEST(test_v2_version_command)
{
	uint8_t b[64];
	size_t n;
	unsigned vc;

	for (vc = 0; vc < 256; vc++) {
		n = v2(b, (uint8_t)vc, 0x11, 12, addr4, 12);
		if (vc == 0x20 || vc == 0x21) {
			ck_assert(proxyproto_parse(b, n, &(struct
			    proxyproto_header){ 0 }, NULL) == PROXYPROTO_DONE);
			continue;
		}
		bad_at(b, n, 12, (vc >> 4) != 2 ? "version not 2" :
		    "command not LOCAL or PROXY");
	}
}
END_TEST

START_TEST(test_v2_family)
{
	uint8_t b[300], body[256];
	size_t n;
	unsigned fam;

	memset(body, 0, sizeof(body));
	for (fam = 0; fam < 256; fam++) {
		if (fam == 0x11 || fam == 0x21)
			continue;
		/* UNSPEC, UDP, UNIX and undefined ones, with PROXY. */
		n = v2(b, 0x21, (uint8_t)fam, 216, body, 216);
		bad_at(b, n, 13, "family not TCP over IPv4/IPv6");
	}
}
END_TEST

START_TEST(test_v2_length)
{
	uint8_t b[128], body[64];
	uint16_t len;
	size_t n;

	memset(body, 0, sizeof(body));
	for (len = 0; len < 12; len++) {
		n = v2(b, 0x21, 0x11, len, body, len);
		bad_at(b, n, 15, "shorter than its address block");
	}
	for (len = 0; len < 36; len++) {
		n = v2(b, 0x21, 0x21, len, body, len);
		bad_at(b, n, 15, "shorter than its address block");
	}
	/* A TCP4 length that would fit TCP6 is fine, as TLV room. */
	memcpy(body, addr4, 12);
	memcpy(body + 12, "\x04\x00\x15", 3);
	n = v2(b, 0x21, 0x11, 36, body, 36);
	ck_assert_uint_eq(splits_done(b, n).len, 52);
}
END_TEST

START_TEST(test_v2_tlv_overrun)
{
	uint8_t b[128], body[64];
	size_t n;

	memset(body, 0, sizeof(body));
	memcpy(body, addr4, 12);
	/* 1 or 2 bytes after the addresses: no room for a TLV header,
	 * known from the length alone. */
	n = v2(b, 0x21, 0x11, 13, body, 13);
	bad_at(b, n, 15, "TLV overruns");
	n = v2(b, 0x21, 0x11, 14, body, 14);
	bad_at(b, n, 15, "TLV overruns");
	/* A TLV longer than the area: refused when its length is in. */
	memcpy(body + 12, "\x04\x00\x01", 3);
	n = v2(b, 0x21, 0x11, 15, body, 15);
	bad_at(b, n, 30, "TLV overruns");
	memcpy(body + 12, "\x04\xff\xff", 3);
	n = v2(b, 0x21, 0x11, 20, body, 20);
	bad_at(b, n, 30, "TLV overruns");
	/* One that leaves 1 or 2 bytes: refused at its own length. */
	memcpy(body + 12, "\x04\x00\x02" "ab" "\x04\x00", 7);
	n = v2(b, 0x21, 0x11, 19, body, 19);
	bad_at(b, n, 30, "TLV overruns");
	n = v2(b, 0x21, 0x11, 18, body, 18);
	bad_at(b, n, 30, "TLV overruns");
	/* The second TLV overruns: refused at the second's length. */
	memcpy(body + 12, "\x04\x00\x01" "a" "\x05\x00\x05" "abc", 11);
	n = v2(b, 0x21, 0x11, 23, body, 23);
	bad_at(b, n, 34, "TLV overruns");
	/* TCP6, the same. */
	memcpy(body, addr6, 36);
	memcpy(body + 36, "\x01\x00\x05" "ab", 5);
	n = v2(b, 0x21, 0x21, 41, body, 41);
	bad_at(b, n, 54, "TLV overruns");
}
END_TEST

/* PROXYPROTO_MAX covers the longest v1 line, and what the spec allows
 * without TLVs (two AF_UNIX paths). */
START_TEST(test_bounds)
{
	ck_assert_int_ge(PROXYPROTO_MAX, PROXYPROTO_V1_MAX);
	ck_assert_int_ge(PROXYPROTO_MAX, 16 + 216);
	ck_assert_int_le(PROXYPROTO_MAX, 16 + 65535);
}
END_TEST

START_TEST(test_empty_and_first_byte)
{
	struct proxyproto_header h;
	const char *why = NULL;
	uint8_t b[2];
	unsigned c;

	ck_assert(proxyproto_parse(NULL, 0, &h, &why) == PROXYPROTO_MORE);
	ck_assert_ptr_null(why);
	for (c = 0; c < 256; c++) {
		enum proxyproto_result r;

		b[0] = (uint8_t)c;
		why = NULL;
		r = proxyproto_parse(b, 1, &h, &why);
		if (c == 'P' || c == '\r') {
			ck_assert_int_eq(r, PROXYPROTO_MORE);
			continue;
		}
		ck_assert_int_eq(r, PROXYPROTO_BAD);
		ck_assert_str_eq(why, "not a PROXY header");
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *v1 = tcase_create("v1");
	TCase *v2c = tcase_create("v2");

	tcase_add_test(v1, test_v1_real);
	tcase_add_test(v1, test_v1_tcp4);
	tcase_add_test(v1, test_v1_tcp6);
	tcase_add_test(v1, test_v1_unknown);
	tcase_add_test(v1, test_v1_unknown_bad);
	tcase_add_test(v1, test_v1_malformed);
	tcase_add_test(v1, test_v1_ipv6_every_short_text);
	tcase_add_test(v1, test_v1_ipv4_many);
	tcase_add_test(v1, test_v1_every_port);
	/* valgrind is slow on the exhaustive ones */
	tcase_set_timeout(v1, 300);
	suite_add_tcase(s, v1);
	tcase_add_test(v2c, test_v2_real);
	tcase_add_test(v2c, test_v2_crc32c);
	tcase_add_test(v2c, test_v2_crc32c_bad_tlv);
	tcase_add_test(v2c, test_v2_tcp4_tcp6);
	tcase_add_test(v2c, test_v2_max_tlv);
	tcase_add_test(v2c, test_v2_local);
	tcase_add_test(v2c, test_v2_signature);
	tcase_add_test(v2c, test_v2_version_command);
	tcase_add_test(v2c, test_v2_family);
	tcase_add_test(v2c, test_v2_length);
	tcase_add_test(v2c, test_v2_tlv_overrun);
	tcase_add_test(v2c, test_bounds);
	tcase_add_test(v2c, test_empty_and_first_byte);
	tcase_set_timeout(v2c, 300);
	suite_add_tcase(s, v2c);
	return unit_run(s);
}

/*
 * fuzz_prefix.c - prefix_parse() on any text: what it accepts is
 * canonical and survives a round trip, what it refuses gets a clean
 * reason.
 *
 * The input (up to 255 bytes, cut at the first NUL) is parsed once.
 * Accepted: the family is AF_INET or AF_INET6, the length within it, no
 * host bit is set, an IPv4 prefix has nothing past addr[3], an IPv6 one is
 * never IPv4-mapped; prefix_format() gives printable ASCII shorter than
 * PREFIX_STRLEN that parses back to the same bytes and formats the same
 * again; the prefix contains itself, and its first address (as a socket
 * address, through prefix_from_sockaddr()) is inside it while the
 * address just before it, if any, is not.  Refused: the result is
 * untouched, the reason non-empty printable ASCII, and a parse with a 1
 * to 48 byte error buffer gives a prefix of the same reason.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix.h"
#include "fuzz.h"

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* The text as a C string for messages: printable, escaped. */
static const char *
show(const char *s)
{
	static char buf[4 * 256 + 1];
	size_t o = 0;

	for (; *s != '\0' && o + 5 < sizeof(buf); s++) {
		if (*s >= 0x20 && *s < 0x7f && *s != '\\')
			buf[o++] = *s;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\x%02x", (unsigned char)*s);
	}
	buf[o] = '\0';
	return buf;
}

static void
accepted(const char *text, const struct prefix *p)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	char buf[PREFIX_STRLEN + 8], again[PREFIX_STRLEN + 8], err[128];
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct prefix q, a;
	unsigned bits, i;

	CHECK(p->family == AF_INET || p->family == AF_INET6, "%s: family %u",
	    show(text), p->family);
	bits = p->family == AF_INET ? 32 : 128;
	CHECK(p->len <= bits, "%s: length %u", show(text), p->len);
	for (i = p->len; i < 128; i++)
		CHECK((p->addr[i / 8] & (0x80u >> (i % 8))) == 0,
		    "%s: bit %u set past /%u", show(text), i, p->len);
	CHECK(p->family == AF_INET || memcmp(p->addr, mapped, 12) != 0,
	    "%s: IPv4-mapped IPv6 prefix kept", show(text));

	memset(buf, 'x', sizeof(buf));
	prefix_format(p, buf, PREFIX_STRLEN);
	CHECK(strlen(buf) < PREFIX_STRLEN && printable(buf) &&
	    strchr(buf, '/') != NULL, "%s: formatted as %s", show(text),
	    show(buf));
	memset(&q, 0x5a, sizeof(q));
	CHECK(prefix_parse(buf, &q, err, sizeof(err)) == 0,
	    "%s: formatted as %s, which does not parse: %s", show(text), buf,
	    err);
	CHECK(memcmp(p, &q, sizeof(q)) == 0, "%s: formatted as %s, which "
	    "parses to something else", show(text), buf);
	prefix_format(&q, again, sizeof(again));
	CHECK(strcmp(buf, again) == 0, "%s: %s, then %s", show(text), buf,
	    again);

	CHECK(prefix_contains(p, p), "%s: does not contain itself",
	    show(text));
	/* Its first address, as a peer's socket address. */
	memset(&ss, 0, sizeof(ss));
	if (p->family == AF_INET) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, p->addr, 4);
	} else {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, p->addr, 16);
	}
	CHECK(prefix_from_sockaddr((struct sockaddr *)&ss, &a) &&
	    a.family == p->family && a.len == bits &&
	    prefix_contains(p, &a), "%s: first address outside",
	    show(text));
	/* One before it: outside, unless the prefix starts at 0 or is /0. */
	for (i = bits / 8; i-- > 0;)
		if (a.addr[i]-- != 0)
			break;
	if (p->len > 0 && i != (unsigned)-1)
		CHECK(!prefix_contains(p, &a), "%s: address before it inside",
		    show(text));
}

static void
refused(const char *text, const struct prefix *p, const char *err)
{
	static const struct prefix untouched = { 0xa5, 0xa5, { 0xa5, 0xa5,
	    0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
	    0xa5, 0xa5, 0xa5 } };
	struct prefix q;
	size_t n;
	char *small;

	CHECK(memcmp(p, &untouched, sizeof(*p)) == 0,
	    "%s: refused but the result was written", show(text));
	CHECK(err[0] != '\0' && printable(err), "%s: reason \"%s\"",
	    show(text), show(err));
	for (n = 1; n <= 48; n++) {
		small = malloc(n);		/* exactly n: ASan sees overruns */
		CHECK(small != NULL, "malloc");
		CHECK(prefix_parse(text, &q, small, n) == -1,
		    "%s: refused, then accepted", show(text));
		CHECK(strlen(small) < n && strncmp(small, err,
		    strlen(small)) == 0, "%s: with %zu bytes: \"%s\", "
		    "in full \"%s\"", show(text), n, show(small), err);
		free(small);
	}
	CHECK(prefix_parse(text, &q, NULL, 0) == -1, "%s: NULL err",
	    show(text));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[256], err[256];
	struct prefix p;

	if (size >= sizeof(text))
		return -1;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&p, 0xa5, sizeof(p));
	memset(err, 0, sizeof(err));
	if (prefix_parse(text, &p, err, sizeof(err)) == 0)
		accepted(text, &p);
	else
		refused(text, &p, err);
	return 0;
}

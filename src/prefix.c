/*
 * prefix.c - IPv4 and IPv6 network prefixes: parse, format, compare.
 *
 * Pure helpers with no state.  Addresses go through inet_pton(), which
 * takes only the dotted quad for IPv4 (no "10.1", no octal, no leading
 * zeros) and no "%zone" or blanks for IPv6; the length after the '/' is
 * read here, digit by digit.  A prefix is kept canonical (host bits zero,
 * IPv4-mapped IPv6 turned into IPv4), so two equal networks are equal
 * structs and memcmp() compares them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "prefix.h"

static int	fail(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* "0", or 1 to 3 digits without a leading zero, at most max. */
static int
parse_len(const char *s, unsigned max, unsigned *len)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == 3 || s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*len = v;
	return 0;
}

/* ::ffff:0:0/96, what a dual-stack socket shows an IPv4 peer as. */
static bool
is_v4mapped(const uint8_t *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	return memcmp(a, mapped, sizeof(mapped)) == 0;
}

void
prefix_mask(struct prefix *p)
{
	unsigned bits = p->len, n = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < 16; i++) {
		if (i >= n)
			p->addr[i] = 0;
		else if (bits >= 8)
			bits -= 8;
		else {
			p->addr[i] &= (uint8_t)(0xff00u >> bits);
			bits = 0;
		}
	}
}

int
prefix_parse(const char *text, struct prefix *p, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1], hint[PREFIX_STRLEN];
	struct prefix q, m;
	const char *slash;
	unsigned len, max;
	size_t hlen;

	if (text == NULL || *text == '\0')
		return fail(err, errlen, "empty address");
	slash = strchr(text, '/');
	hlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (hlen == 0)
		return fail(err, errlen, "no address before the '/'");
	if (hlen >= sizeof(host))
		return fail(err, errlen, "not an IPv4 or IPv6 address");
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strchr(host, '%') != NULL)
		return fail(err, errlen, "a zone id (%%...) is not allowed");

	memset(&q, 0, sizeof(q));
	if (strchr(host, ':') != NULL) {
		if (inet_pton(AF_INET6, host, q.addr) != 1)
			return fail(err, errlen, "not an IPv6 address");
		q.family = AF_INET6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, host, q.addr) != 1)
			return fail(err, errlen, "not an IPv4 address");
		q.family = AF_INET;
		max = 32;
	}
	len = max;
	if (slash != NULL && parse_len(slash + 1, max, &len) == -1)
		return fail(err, errlen,
		    "the prefix length must be a number from 0 to %u", max);
	if (q.family == AF_INET6 && is_v4mapped(q.addr)) {
		if (len < 96)
			return fail(err, errlen, "an IPv4-mapped prefix "
			    "(::ffff:a.b.c.d) must be /96 or longer");
		memmove(q.addr, q.addr + 12, 4);
		memset(q.addr + 4, 0, 12);
		q.family = AF_INET;
		len -= 96;
	}
	q.len = (uint8_t)len;
	m = q;
	prefix_mask(&m);
	if (memcmp(&m, &q, sizeof(q)) != 0) {
		prefix_format(&m, hint, sizeof(hint));
		return fail(err, errlen, "host bits set: did you mean %s?",
		    hint);
	}
	*p = q;
	return 0;
}

void
prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if ((p->family != AF_INET && p->family != AF_INET6) ||
	    inet_ntop(p->family, p->addr, host, sizeof(host)) == NULL)
		snprintf(buf, len, "(address family %u)", p->family);
	else
		snprintf(buf, len, "%s/%u", host, p->len);
}

bool
prefix_from_sockaddr(const struct sockaddr *sa, struct prefix *p)
{
	const struct sockaddr_in6 *s6;
	struct in_addr a4;

	memset(p, 0, sizeof(*p));
	if (addr_v4(sa, &a4)) {
		p->family = AF_INET;
		p->len = 32;
		memcpy(p->addr, &a4.s_addr, 4);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	p->family = AF_INET6;
	p->len = 128;
	memcpy(p->addr, s6->sin6_addr.s6_addr, 16);
	return true;
}

bool
prefix_contains(const struct prefix *net, const struct prefix *addr)
{
	unsigned full = net->len / 8u, rem = net->len % 8u;

	if (net->family != addr->family || addr->len < net->len)
		return false;
	if (memcmp(net->addr, addr->addr, full) != 0)
		return false;
	return rem == 0 ||
	    ((net->addr[full] ^ addr->addr[full]) & (0xff00u >> rem) & 0xffu)
	    == 0;
}
